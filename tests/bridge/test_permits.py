"""The permit / payment callout (timeout, circuit breaker, fallback) and session webhooks end to end."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from alpr.bridge.config import BridgeConfig, Parking, PermitHookConfig, Webhook
from alpr.bridge.crypto import Keyring
from alpr.bridge.permits import PermitHook
from alpr.bridge.service import Bridge
from alpr.bridge.store import Ingest
from alpr.stream.events import PlateEvent

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)


def ev(plate: str, camera: str, minutes: float) -> PlateEvent:
    ts = T0 + timedelta(minutes=minutes)
    return PlateEvent.create(camera=camera, plate=plate, confidence=0.9, box=(0, 0, 10, 5), ts=ts)


class Server:
    """A loopback HTTP endpoint: ``answer(body) -> (status, json | None)``; may sleep first."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.status = 200
        self.delay = 0.0
        self.fail_first = 0
        self.allowed = {"OK1": "Ann"}
        self.raw: bytes | None = None
        srv = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                srv.requests.append((dict(self.headers), body))
                time.sleep(srv.delay)
                if srv.fail_first > 0:
                    srv.fail_first -= 1
                    self.send_response(503)
                    self.end_headers()
                    return
                name = srv.allowed.get(body.get("plate", ""))
                out = srv.raw or json.dumps({"allowed": name is not None, "name": name or ""}).encode()
                self.send_response(srv.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *_a: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/permit"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.close()


def test_hook_answers_times_out_and_trips_the_breaker(server: Server) -> None:
    hook = PermitHook(server.url, timeout_s=0.2, fail_max=2, reset_s=0.5, token="t0k")
    try:
        ok = hook("OK1", "P1", "in1", 0)
        assert ok is not None and (ok.allowed, ok.name, ok.source) == (True, "Ann", "hook")
        no = hook("NOPE", "P1", "in1", 0)
        assert no is not None and not no.allowed
        headers, body = server.requests[0]
        assert headers["Authorization"] == "Bearer t0k"
        assert body == {"plate": "OK1", "site": "P1", "camera": "in1", "ts": "1970-01-01T00:00:00.000Z"}

        server.delay = 0.5  # slower than the timeout
        t = time.monotonic()
        assert hook("OK1", "P1", "in1", 0) is None
        assert time.monotonic() - t < 0.45
        assert hook("OK1", "P1", "in1", 0) is None  # second failure: the breaker opens
        assert hook.state == "open"
        n = len(server.requests)
        assert hook("OK1", "P1", "in1", 0) is None and len(server.requests) == n  # not even called

        server.delay = 0.0
        time.sleep(0.6)  # after reset_s one trial call goes through and closes the breaker again
        again = hook("OK1", "P1", "in1", 0)
        assert again is not None and again.allowed and hook.state == "closed"

        server.status = 500
        assert hook("OK1", "P1", "in1", 0) is None  # an error status is a failure too
    finally:
        hook.close()


def test_malformed_answers_and_refused_connections_are_failures(server: Server) -> None:
    server.raw = b'{"allowed": "yes"}'
    hook = PermitHook(server.url, fail_max=5)
    down = PermitHook("http://127.0.0.1:9/closed-port", timeout_s=0.2)
    try:
        assert hook("OK1", "P1", "in1", 0) is None and hook.failures == 1
        server.raw = b"not json"
        assert hook("OK1", "P1", "in1", 0) is None and hook.failures == 2
        assert down("OK1", "P1", "in1", 0) is None and down.failures == 1
    finally:
        hook.close()
        down.close()


def test_sessions_webhooks_gate_and_overstay_end_to_end(
    tmp_path: Path, keyring: Keyring, server: Server
) -> None:
    receiver = Server()
    receiver.fail_first = 2  # the payment system is down at first: the same messages are retried
    try:
        cfg = BridgeConfig(
            db=f"sqlite:///{tmp_path / 'p.db'}",
            webhooks=[Webhook(url=receiver.url)],
            parking=Parking(
                overstay_interval_s=0.1, permit_hook=PermitHookConfig(url=server.url, timeout_s=0.3)
            ),
        )
        bridge = Bridge(cfg, keyring)
        for wh in bridge.webhooks:
            wh.backoff_min_s = 0.02
        bridge.store.set_camera("in1", site="P1", role="entry")
        bridge.store.set_camera("out1", site="P1", role="exit")
        bridge.store.set_site("P1", max_stay_s=3600)
        bridge.start(consume=False)
        try:
            bridge.ingest([Ingest(ev("OK1", "in1", 0)), Ingest(ev("VIS1", "in1", 1))])
            bridge.ingest([Ingest(ev("0K1", "out1", 30))])  # 0 for O: closes OK1's session

            def types() -> list[str]:
                return [b.get("type", "plate") for _h, b in receiver.requests]

            # VIS1 has been parked since March: the overstay check (leader, every 0.1 s) flags it.
            deadline = time.monotonic() + 20
            while "alert.overstay" not in types() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert bridge.wait_idle(10)
        finally:
            bridge.stop()
        delivered = [(h, b) for h, b in receiver.requests[2:]]  # the first two were refused (503)
        by_type: dict[str, list[dict[str, Any]]] = {}
        for h, b in delivered:
            kind = b.get("type", "plate")
            assert h["X-Alpr-Event"] == kind
            by_type.setdefault(kind, []).append(b)
        assert len(by_type["plate"]) == 3
        assert [b["plate"] for b in by_type["session.opened"]] == ["OK1", "VIS1"]
        closed = by_type["session.closed"]
        assert [(b["plate"], b["exit_plate"], b["dwell_s"]) for b in closed] == [("OK1", "0K1", 1800.0)]
        gates = by_type["gate.open"]
        assert [(g["plate"], g["camera"], g["permit"], g["source"]) for g in gates] == [
            ("OK1", "in1", "Ann", "hook"),
            ("0K1", "out1", "Ann", "hook"),  # asked for the session's plate, not the misread
        ]
        assert [b["plate"] for b in by_type["alert.overstay"]] == ["VIS1"]
        # Idempotency: the refused deliveries came again with the very same id.
        refused = [b["id"] if "id" in b else b["event_id"] for _h, b in receiver.requests[:2]]
        again = [b["id"] if "id" in b else b["event_id"] for _h, b in delivered]
        assert set(refused) <= set(again)
        assert len(again) == len(set(again))  # and nothing was delivered twice after that
    finally:
        receiver.close()
