"""The stream's wire helpers (``alpr.stream._wire``) on hostile input: message headers of any bytes,
endpoint strings of any text. Each returns a value or raises ValueError; nothing else escapes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alpr.stream import _wire

_endpoints = st.text(max_size=40) | st.from_regex(
    r"(tcp|ipc|inproc|udp|)(://)?[a-z0-9.\[\]:*-]{0,20}(:[0-9*٣²-]{0,7})?", fullmatch=True
)
_headers = st.binary(max_size=40) | st.builds(
    lambda v, pid, seq: bytes([v]) + pid + seq.to_bytes(8, "big"),
    st.sampled_from([_wire.VERSION, 0, 2, 255]),
    st.binary(min_size=16, max_size=16),
    st.integers(0, 2**64 - 1),
)


def _check(frame: bytes, endpoint: str, via: str) -> None:
    try:
        publisher, seq = _wire.unpack_header(frame)
    except ValueError:
        assert len(frame) != _wire.HEADER.size or frame[0] != _wire.VERSION
    else:
        assert _wire.pack_header(publisher, seq) == frame
    try:
        replay = _wire.replay_endpoint_for(endpoint)
    except ValueError:
        pass
    else:
        assert replay.startswith(("tcp://", "ipc://", "inproc://")), replay
    assert isinstance(_wire.connectable(endpoint, via), str)


@settings(max_examples=500, deadline=None)
@given(frame=_headers, endpoint=_endpoints, via=_endpoints)
def test_wire_helpers_take_any_input(frame: bytes, endpoint: str, via: str) -> None:
    _check(frame, endpoint, via)


@pytest.mark.slow
@settings(max_examples=100_000, deadline=None, database=None)
@given(frame=_headers, endpoint=_endpoints, via=_endpoints)
def test_wire_helpers_take_any_input_long(frame: bytes, endpoint: str, via: str) -> None:
    """The same for 100,000 inputs (``pytest -m slow``)."""
    _check(frame, endpoint, via)


@pytest.mark.parametrize("port", ["٣", "5٥٥٥", "²", "5556\n"])
def test_replay_endpoint_rejects_non_ascii_port_digits(port: str) -> None:
    """``str.isdigit`` says yes to Arabic-Indic and superscript digits (``int`` reads '٣' as 3): a port is
    ASCII digits only, so such an endpoint is a clear error, not a different port."""
    with pytest.raises(ValueError, match="port"):
        _wire.replay_endpoint_for(f"tcp://127.0.0.1:{port}")


def test_replay_endpoint_of_a_tcp_port_is_the_next_port() -> None:
    assert _wire.replay_endpoint_for("tcp://127.0.0.1:5556") == "tcp://127.0.0.1:5557"
    assert _wire.replay_endpoint_for("tcp://0.0.0.0:*") == "tcp://0.0.0.0:*"
