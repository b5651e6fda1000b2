"""Standard Webhooks deliveries: signatures checked by the reference library, stable ids over retries."""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import standardwebhooks

from alpr.bridge import cli
from alpr.bridge.config import BridgeConfig, Webhook, check_secret, load_config
from alpr.bridge.crypto import Keyring
from alpr.bridge.service import Bridge
from alpr.bridge.store import Ingest
from alpr.bridge.webhooks import message_id, new_secret, signed_headers
from alpr.errors import ConfigError
from alpr.stream.events import PlateEvent

# The published test vector of the Standard Webhooks specification.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TS = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signature_matches_the_spec_vector() -> None:
    h = signed_headers(SPEC_SECRET, SPEC_ID, SPEC_BODY, t=SPEC_TS)
    assert h == {
        "webhook-id": SPEC_ID,
        "webhook-timestamp": str(SPEC_TS),
        "webhook-signature": SPEC_SIGNATURE,
    }
    # ... and the scheme spelled out with hmac, independent of the library.
    key = base64.b64decode(SPEC_SECRET.removeprefix("whsec_"))
    mac = hmac.new(key, f"{SPEC_ID}.{SPEC_TS}.".encode() + SPEC_BODY, hashlib.sha256).digest()
    assert "v1," + base64.b64encode(mac).decode() == SPEC_SIGNATURE
    # Without a secret: the id and timestamp still go out (idempotency), no signature.
    assert signed_headers("", "msg_x", b"{}", t=5) == {"webhook-id": "msg_x", "webhook-timestamp": "5"}


def test_secrets_are_checked_at_load_without_echoing_them(tmp_path: Path) -> None:
    s = new_secret()
    assert s.startswith("whsec_") and len(base64.b64decode(s[6:])) == 32 and s != new_secret()
    assert check_secret(s) == s and check_secret("") == "" and check_secret(SPEC_SECRET) == SPEC_SECRET
    with pytest.raises(ValueError, match="whsec_<base64>"):
        check_secret("plain-password")
    with pytest.raises(ValueError, match="not valid base64"):
        check_secret("whsec_not base64!")
    with pytest.raises(ValueError, match="24 to 64 bytes of key, got 5"):
        check_secret("whsec_" + base64.b64encode(b"short").decode())
    toml = tmp_path / "bridge.toml"
    toml.write_text('[[webhooks]]\nurl = "https://x.example/h"\nsecret = "hunter2-hunter2"\n')
    with pytest.raises(ConfigError, match=r"webhooks\.0\.secret: expected a Standard Webhooks") as e:
        load_config(toml, env={})
    assert "hunter2" not in str(e.value)
    toml.write_text(f'[[webhooks]]\nurl = "https://x.example/h"\nsecret = "{s}"\n')
    assert load_config(toml, env={}).webhooks[0].secret == s


def test_cli_makes_secrets_and_refuses_bad_ones(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = argparse.ArgumentParser()
    cli.add_parsers(p.add_subparsers())
    args = p.parse_args(["keys", "webhook"])
    assert args.func(args) == 0
    printed = capsys.readouterr().out.strip()
    assert check_secret(printed) == printed
    db, kf = f"sqlite:///{tmp_path / 'c.db'}", str(tmp_path / "none.json")
    argv = [
        "serve",
        "--webhook",
        "http://127.0.0.1:9/h",
        "--webhook-secret",
        "hunter2",
        "--db",
        db,
        "--key-file",
        kf,
    ]
    args = p.parse_args(argv)
    assert args.func(args) == 2
    err = capsys.readouterr().err
    assert "webhooks.0.secret: expected a Standard Webhooks secret" in err and "hunter2" not in err


def test_message_ids_follow_the_message_not_the_attempt() -> None:
    plate = json.dumps({"event_id": "0190-a", "camera": "gate", "plate": "AB1"}).encode()
    assert message_id("alpr/gate/plate", plate) == "msg_0190-a"
    alert = {"type": "alert", "event_id": "0190-a", "watchlist_id": 3, "reason": "stolen"}
    a3 = message_id("alpr/gate/alert", json.dumps(alert).encode())
    a4 = message_id("alpr/gate/alert", json.dumps({**alert, "watchlist_id": 4}).encode())
    assert a3 != a4 and a3 != "msg_0190-a"  # two watchlist hits on one read: two messages
    assert a3 == message_id("alpr/gate/alert", json.dumps(alert, indent=1).encode())  # not the bytes
    session = {"id": "5f0e", "type": "session.opened", "event_id": "0190-a"}
    assert message_id("alpr/P1/session.opened", json.dumps(session).encode()) == "msg_5f0e"
    other = message_id("alpr/x/y", b"not json")
    assert other.startswith("msg_") and other == message_id("alpr/x/y", b"not json")
    assert other != message_id("alpr/x/y", b"not json either")


class Receiver:
    """An HTTP endpoint that verifies each request the way a payment system would, with the
    reference ``standardwebhooks`` library, and refuses the first ``fail_first`` of them."""

    def __init__(self, secret: str, fail_first: int = 0) -> None:
        self.hook = standardwebhooks.Webhook(secret)
        self.fail_left = fail_first
        self.attempts: list[tuple[dict[str, str], bytes]] = []
        self.accepted: list[tuple[dict[str, str], Any]] = []
        self.rejected = 0
        self.lock = threading.Lock()
        rx = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = dict(self.headers)
                code = rx.handle(headers, body)
                self.send_response(code)
                self.end_headers()

            def log_message(self, *_a: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def handle(self, headers: dict[str, str], body: bytes) -> int:
        with self.lock:
            self.attempts.append((headers, body))
            try:
                doc = self.hook.verify(body, headers)
            except standardwebhooks.WebhookVerificationError:
                self.rejected += 1
                return 401
            if self.fail_left > 0:
                self.fail_left -= 1
                return 503
            self.accepted.append((headers, doc))
            return 204

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers() -> Iterator[list[Receiver]]:
    made: list[Receiver] = []
    yield made
    for r in made:
        r.close()


def wait(pred: Any, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return bool(pred())


def read(plate: str, camera: str) -> PlateEvent:
    return PlateEvent.create(camera=camera, plate=plate, confidence=0.9, box=(1, 1, 20, 8))


def test_deliveries_verify_and_retries_keep_their_id(
    tmp_path: Path, keyring: Keyring, receivers: list[Receiver]
) -> None:
    secret = new_secret()
    rx = Receiver(secret, fail_first=3)
    receivers.append(rx)
    cfg = BridgeConfig(db=f"sqlite:///{tmp_path / 'w.db'}", webhooks=[Webhook(url=rx.url, secret=secret)])
    bridge = Bridge(cfg, keyring)
    for wh in bridge.webhooks:
        wh.backoff_min_s = 0.02
    bridge.store.set_camera("in1", site="P1", role="entry")
    bridge.store.set_camera("out1", site="P1", role="exit")
    bridge.store.add_watch("WANTED1", reason="stolen")
    bridge.reload_watchlist()
    bridge.start(consume=False)
    try:
        entry, exit_ = read("PK1003", "in1"), read("PKI003", "out1")  # a misread at the exit
        bridge.ingest([Ingest(entry)])
        bridge.ingest([Ingest(exit_), Ingest(read("WANTED1", "out1"))])
        # A batch's reads and watchlist alerts first, then what the sessions made of them.
        kinds = ["plate", "session.opened", "plate", "plate", "alert", "session.closed", "alert.no_entry"]
        assert wait(lambda: len(rx.accepted) == len(kinds)), rx.accepted
        assert bridge.wait_idle(5)
    finally:
        bridge.stop()
    assert rx.rejected == 0  # every attempt verified with the reference library
    assert len(rx.attempts) == len(kinds) + 3
    # The three refused attempts were the first message, each time with the same id (new timestamps ok).
    first_ids = {h["webhook-id"] for h, _ in rx.attempts[:4]}
    assert first_ids == {f"msg_{entry.event_id}"}
    assert [h["X-Alpr-Event"] for h, _ in rx.accepted] == kinds
    ids = [h["webhook-id"] for h, _ in rx.accepted]
    assert len(set(ids)) == len(ids)  # one id per message
    opened, closed = rx.accepted[1][1], rx.accepted[5][1]
    assert ids[1] == f"msg_{opened['id']}" and ids[5] == f"msg_{closed['id']}"
    assert closed["plate"] == "PK1003" and closed["exit_event_id"] == exit_.event_id

    headers, body = rx.attempts[-1]
    wh = standardwebhooks.Webhook(secret)
    assert wh.verify(body, headers) == json.loads(body)
    for tampered in (body + b" ", body.replace(b"WANTED1", b"WANTED2")):
        with pytest.raises(standardwebhooks.WebhookVerificationError):
            wh.verify(tampered, headers)
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        wh.verify(body, {**headers, "webhook-id": "msg_other"})  # the id is signed too
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(new_secret()).verify(body, headers)
    old = signed_headers(secret, headers["webhook-id"], body, t=int(time.time()) - 3600)
    with pytest.raises(standardwebhooks.WebhookVerificationError, match="too old"):
        wh.verify(body, old)  # a replay long after


def test_a_tampered_delivery_is_refused_by_the_receiver(receivers: list[Receiver]) -> None:
    import httpx

    secret = new_secret()
    rx = Receiver(secret)
    receivers.append(rx)
    body = b'{"id": "abc", "type": "session.paid"}'
    good = signed_headers(secret, "msg_abc", body)
    assert httpx.post(rx.url, content=body, headers=good).status_code == 204
    assert httpx.post(rx.url, content=body + b"\n", headers=good).status_code == 401
    forged = signed_headers(new_secret(), "msg_abc", body)
    assert httpx.post(rx.url, content=body, headers=forged).status_code == 401
    assert rx.rejected == 2 and len(rx.accepted) == 1
