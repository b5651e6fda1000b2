"""The shared test helpers for ports and in-thread servers do what the tests rely on."""

from __future__ import annotations

import socket

import pytest

from netutil import free_port, free_port_pair, serving


def test_free_port_and_pair_can_be_bound() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", free_port()))
    p = free_port_pair()
    with socket.socket() as a, socket.socket() as b:
        a.bind(("127.0.0.1", p))
        b.bind(("127.0.0.1", p + 1))


class _Server:
    def __init__(self, starts: bool) -> None:
        self.starts, self.started, self.should_exit, self.ran = starts, False, False, False

    def run(self) -> None:
        self.ran = True
        self.started = self.starts
        while self.starts and not self.should_exit:
            pass


def test_serving_stops_the_server_at_the_end_of_the_block() -> None:
    srv = _Server(starts=True)
    with serving(srv) as s:
        assert s.started and not s.should_exit
    assert srv.should_exit


def test_serving_fails_fast_when_the_server_exits_without_starting() -> None:
    with pytest.raises(AssertionError, match="did not start"), serving(_Server(starts=False), timeout=5):
        pass
