"""Who may acknowledge: forged ACKs on the replay port, CurveZMQ key files and the ``alpr run`` options
(``--curve-secret``, ``--curve-clients``, ``--outbox-key``), real sockets on loopback."""

from __future__ import annotations

import dataclasses
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import zmq

from alpr.cli import build_parser, main, publisher_from_args
from alpr.errors import ConfigError
from alpr.stream import PlateEvent, Publisher, ReliableConsumer, StreamMessage, _wire
from alpr.stream.keys import load_curve_keypair, load_curve_public, read_outbox_key

HB = 0.05


def drain(consumer: ReliableConsumer, n: int, timeout: float = 10.0) -> list[StreamMessage]:
    out: list[StreamMessage] = []
    deadline = time.monotonic() + timeout
    while len(out) < n and time.monotonic() < deadline:
        out += consumer.recv_batch(n - len(out), timeout=0.1)
    return out


def forge(replay: str, seq: int, curve: tuple[bytes, bytes, bytes] | None = None) -> list[list[bytes]]:
    """An attacker's DEALER: ``ACK {"consumer": "bridge", "seq": seq}``, then ``HELLO`` (answered in
    order, so its reply shows the ACK was handled). Returns the replies received within 2 s."""
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.linger = 0
    if curve is not None:
        sock.curve_serverkey, sock.curve_publickey, sock.curve_secretkey = curve
    try:
        sock.connect(replay)
        sock.send_multipart([_wire.ACK, orjson.dumps({"consumer": "bridge", "seq": seq})])
        sock.send_multipart([_wire.HELLO, orjson.dumps({"consumer": "bridge"})])
        replies = []
        deadline = time.monotonic() + 2
        while len(replies) < 2 and time.monotonic() < deadline:
            if sock.poll(100):
                replies.append(sock.recv_multipart())
        return replies
    finally:
        sock.close()


def test_an_ack_beyond_the_last_event_sent_is_refused(
    tmp_path: Path, event_factory: Callable[..., PlateEvent]
) -> None:
    with Publisher("tcp://127.0.0.1:*", outbox=tmp_path / "ob.db", heartbeat_s=HB) as pub:
        pub.publish_many([event_factory(i) for i in range(20)])
        (err, welcome) = forge(pub.replay_endpoint, 10**12)
        assert err[0] == _wire.ERROR and b"beyond the last event published (20)" in err[1]
        assert welcome[0] == _wire.WELCOME and orjson.loads(welcome[1])["acked"] is None
        assert pub.outbox.pending() == 20 and pub.stats.bad_requests == 1 and pub.stats.acks == 0
        with ReliableConsumer(pub.endpoint, name="bridge") as real:
            got = drain(real, 20)
            assert real.recv(timeout=0.2) is None
        assert [m.seq for m in got] == list(range(1, 21))
        assert real.stats.lost == 0


def test_a_forged_ack_within_range_is_seen_by_a_consumer_that_keeps_its_own_cursor(
    tmp_path: Path, event_factory: Callable[..., PlateEvent]
) -> None:
    """Without CurveZMQ an attacker can acknowledge what was really sent (seq 20 of 20) under the
    bridge's name, and the publisher prunes it. A consumer that knows what it stored (its durable
    cursor, here 5) does not take the publisher's word for it: it resumes from its own record, gets
    what the outbox still holds and counts the rest as lost, loudly, instead of reporting 0 lost."""
    with Publisher("tcp://127.0.0.1:*", outbox=tmp_path / "ob.db", heartbeat_s=HB) as pub:
        pub.publish_many([event_factory(i) for i in range(20)])
        with ReliableConsumer(pub.endpoint, name="spare") as other:  # keeps events 11.. in the outbox
            got = drain(other, 10)
            other.ack(got[-1])
        (welcome,) = forge(pub.replay_endpoint, 20)  # an accepted ACK has no reply
        assert welcome[0] == _wire.WELCOME and orjson.loads(welcome[1])["acked"] == 20
        assert pub.outbox.pending() == 10  # 1..10 pruned: acked by every consumer it knows
        cursor = {pub.publisher_id: 5}
        with ReliableConsumer(pub.endpoint, name="bridge", stored=lambda p: cursor.get(p, 0)) as real:
            got = drain(real, 10)
            assert real.recv(timeout=0.3) is None
        assert [m.seq for m in got] == list(range(11, 21))
        assert real.stats.foreign_acks == 1 and real.stats.lost == 5  # 6..10 are gone, and said so


def _keys(tmp_path: Path) -> dict[str, Path]:
    d = tmp_path / "keys"
    for name in ("publisher", "bridge", "stranger"):
        assert main(["keys", "curve", name, "--dir", str(d)]) == 0
    clients = tmp_path / "clients"
    clients.mkdir()
    (clients / "bridge.key").write_bytes((d / "bridge.key").read_bytes())
    assert main(["keys", "outbox", "--key-file", str(tmp_path / "outbox.key")]) == 0
    return {"dir": d, "clients": clients, "outbox_key": tmp_path / "outbox.key"}


def _run_args(tmp_path: Path, *extra: str) -> Any:
    return build_parser().parse_args(
        ["run", "--publish", "tcp://127.0.0.1:*", "--outbox", str(tmp_path / "ob.db"), *extra, "x.mp4"]
    )


def test_alpr_run_curve_options_admit_only_the_listed_consumers(
    tmp_path: Path, event_factory: Callable[..., PlateEvent]
) -> None:
    k = _keys(tmp_path)
    d = k["dir"]
    assert stat.S_IMODE((d / "bridge.key_secret").stat().st_mode) == 0o600
    assert stat.S_IMODE((d / "bridge.key").stat().st_mode) == 0o644
    assert stat.S_IMODE(k["outbox_key"].stat().st_mode) == 0o600
    args = _run_args(
        tmp_path,
        "--curve-secret",
        str(d / "publisher.key_secret"),
        "--curve-clients",
        str(k["clients"]),
        "--outbox-key",
        str(k["outbox_key"]),
    )
    server = load_curve_public(d / "publisher.key")
    events = [event_factory(i) for i in range(20)]
    with publisher_from_args(args) as pub:
        pub.publish_many(events)
        # Not on the allow-list: the handshake fails, so neither the ACK nor the HELLO gets through.
        stranger = load_curve_keypair(d / "stranger.key_secret")
        assert forge(pub.replay_endpoint, 20, (server, *stranger)) == []
        assert forge(pub.replay_endpoint, 20) == []  # plain, no CurveZMQ at all
        assert pub.outbox.acked("bridge") is None and pub.outbox.pending() == 20
        with ReliableConsumer(
            pub.endpoint,
            name="bridge",
            curve_server_key=server,
            curve_keypair=load_curve_keypair(d / "bridge.key_secret"),
        ) as real:
            got = drain(real, 20)
    assert [m.event for m in got] == events
    # --outbox-key: the outbox file keeps no plate in clear.
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("ob.db*"))
    assert raw and b"AB00007" not in raw
    assert len(read_outbox_key(k["outbox_key"])) == 32


def test_alpr_run_key_option_errors(tmp_path: Path) -> None:
    k = _keys(tmp_path)
    with pytest.raises(ConfigError, match="--curve-clients needs --curve-secret"):
        publisher_from_args(_run_args(tmp_path, "--curve-clients", str(k["clients"])))
    with pytest.raises(ConfigError, match="holds no secret key"):
        publisher_from_args(_run_args(tmp_path, "--curve-secret", str(k["dir"] / "publisher.key")))
    with pytest.raises(ConfigError, match="curve certificate"):
        publisher_from_args(_run_args(tmp_path, "--curve-secret", str(tmp_path / "missing")))
    with pytest.raises(ConfigError, match=r"no \*\.key"):
        empty = tmp_path / "empty"
        empty.mkdir()
        publisher_from_args(
            _run_args(
                tmp_path,
                "--curve-secret",
                str(k["dir"] / "publisher.key_secret"),
                "--curve-clients",
                str(empty),
            )
        )
    bad = tmp_path / "bad.key"
    bad.write_text("not base64 !!\n")
    with pytest.raises(ConfigError, match="expected base64"):
        publisher_from_args(_run_args(tmp_path, "--outbox-key", str(bad)))
    # Existing key files are never overwritten.
    assert main(["keys", "outbox", "--key-file", str(k["outbox_key"])]) == 2
    assert main(["keys", "curve", "bridge", "--dir", str(k["dir"])]) == 2


def test_the_outbox_files_are_private(tmp_path: Path, event_factory: Callable[..., PlateEvent]) -> None:
    import os

    old = os.umask(0o022)
    try:
        with Publisher("tcp://127.0.0.1:*", outbox=tmp_path / "ob.db", heartbeat_s=HB) as pub:
            pub.publish_many([event_factory(i) for i in range(5)])
            files = sorted(tmp_path.glob("ob.db*"))
            assert {f.name for f in files} >= {"ob.db", "ob.db-wal", "ob.db.lock"}
            assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files), files
    finally:
        os.umask(old)


def test_a_clear_outbox_is_warned_about(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="alpr"), publisher_from_args(_run_args(tmp_path)):
        pass
    assert "keeps plates and crops in clear" in caplog.text and "--outbox-key" in caplog.text
    caplog.clear()
    key = tmp_path / "ob.key"
    assert main(["keys", "outbox", "--key-file", str(key)]) == 0
    with (
        caplog.at_level("WARNING", logger="alpr"),
        publisher_from_args(_run_args(tmp_path, "--outbox-key", str(key))),
    ):
        pass
    assert "in clear" not in caplog.text


def test_an_open_replay_port_without_an_allow_list_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    k = _keys(tmp_path)
    secret, clients = str(k["dir"] / "publisher.key_secret"), str(k["clients"])
    for endpoint, extra, warned in [
        ("tcp://0.0.0.0:*", [], True),
        ("tcp://0.0.0.0:*", ["--curve-secret", secret, "--curve-clients", clients], False),
        ("tcp://127.0.0.1:*", [], False),
        (f"ipc://{tmp_path}/ev", [], False),
    ]:
        caplog.clear()
        args = build_parser().parse_args(["run", "--publish", endpoint, *extra, "x.mp4"])
        with caplog.at_level("WARNING", logger="alpr"), publisher_from_args(args):
            pass
        assert ("can acknowledge and so delete" in caplog.text) is warned, (endpoint, extra)


def test_publish_vehicle_sends_the_event_and_its_crop_as_jpeg() -> None:
    import numpy as np

    from alpr.tracking import VehicleEvent

    crop = np.full((20, 60, 3), 200, np.uint8)
    box = (0.0, 0.0, 60.0, 20.0)
    v = VehicleEvent("gate", "AB123", 0.9, (0.9,) * 5, None, box, 1, 10.0, 11.0, 0.8, 3, "ended")
    with Publisher("tcp://127.0.0.1:*", heartbeat_s=HB) as pub:
        first = pub.publish_vehicle(dataclasses.replace(v, crop=crop))
        second = pub.publish_vehicle(v)  # no crop
        (_, _, body, jpeg), (_, _, _, none) = pub.outbox.read(first, 10)[0]
    assert second == first + 1 and none is None
    assert PlateEvent.from_json(body).plate == "AB123"
    assert jpeg is not None and jpeg.startswith(_wire.JPEG_MAGIC)


def test_a_full_bounded_outbox_is_counted_in_the_stats(event_factory: Callable[..., PlateEvent]) -> None:
    with Publisher("tcp://127.0.0.1:*", heartbeat_s=HB, max_outbox_events=4) as pub:
        pub.publish_many([event_factory(i) for i in range(6)])
        assert pub.stats.published == 6 and pub.stats.evicted == 2 == pub.outbox.evicted
