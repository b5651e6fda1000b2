"""The bridge wired end to end: real ZeroMQ stream in, webhooks out (HMAC), config and CLI."""

from __future__ import annotations

import argparse
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
from alpr.bridge.config import BridgeConfig, Webhook, load_config
from alpr.bridge.crypto import Keyring
from alpr.bridge.service import Bridge
from alpr.bridge.store import Ingest, Store
from alpr.bridge.webhooks import new_secret
from alpr.errors import ConfigError
from alpr.stream import Publisher
from alpr.stream.events import PlateEvent
from netutil import free_port_pair


def event(plate: str, camera: str = "gate") -> PlateEvent:
    return PlateEvent.create(camera=camera, plate=plate, confidence=0.9, box=(1, 1, 20, 8))


def wait(pred: Any, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return bool(pred())


def test_stream_to_store_with_crops_and_restart(tmp_path: Path, keyring: Keyring) -> None:
    ep = f"tcp://127.0.0.1:{free_port_pair()}"
    cfg = BridgeConfig(db=f"sqlite:///{tmp_path / 's.db'}", zmq=[ep], batch_size=64)
    with Publisher(ep, outbox=tmp_path / "outbox.db") as pub:
        first = [event(f"ST{i:04d}") for i in range(300)]
        for i, e in enumerate(first):  # published before any bridge listens: replay must fill it in
            pub.publish(e, b"\xff\xd8jpeg%d" % i)
        bridge = Bridge(cfg, keyring)
        bridge.start()
        try:
            assert wait(lambda: bridge.store.stats()["reads"] == 300), bridge.store.stats()
        finally:
            bridge.stop()
        second = [event(f"ND{i:04d}", "exit") for i in range(200)]
        for e in second:  # the bridge is down
            pub.publish(e)
        bridge = Bridge(cfg, keyring)
        bridge.start()
        try:
            assert wait(lambda: bridge.store.stats()["reads"] == 500), bridge.store.stats()
            time.sleep(0.5)
            assert bridge.store.stats()["reads"] == 500  # nothing stored twice
            got = {r["event_id"] for r in bridge.store.query_reads(limit=1000)[0]}
            assert got == {e.event_id for e in first + second}
            assert bridge.store.get_crop(first[7].event_id) == b"\xff\xd8jpeg7"
            assert list(bridge.store.cursors().values()) == [500]
        finally:
            bridge.stop()


def test_two_publishers_and_retention_on_schedule(tmp_path: Path, keyring: Keyring) -> None:
    from datetime import datetime, timedelta, timezone

    from alpr.bridge.config import Retention

    eps = [f"tcp://127.0.0.1:{free_port_pair()}", f"ipc://{tmp_path}/cam2.sock"]
    cfg = BridgeConfig(
        db=f"sqlite:///{tmp_path / 'm.db'}", zmq=eps, retention=Retention(reads_days=1, interval_s=0.2)
    )
    bridge = Bridge(cfg, keyring)
    with (
        Publisher(eps[0], outbox=tmp_path / "o1.db") as p1,
        Publisher(eps[1], outbox=tmp_path / "o2.db") as p2,
    ):
        a = [event(f"PA{i:03d}", "cam1") for i in range(50)]
        b = [event(f"PB{i:03d}", "cam2") for i in range(50)]
        for x, y in zip(a, b, strict=True):
            p1.publish(x)
            p2.publish(y)
        old = PlateEvent.create(
            camera="cam1",
            plate="OLD1",
            confidence=0.9,
            box=(0, 0, 1, 1),
            ts=datetime.now(timezone.utc) - timedelta(days=2),
        )
        p1.publish(old)
        bridge.start()
        try:
            assert wait(
                lambda: {c["camera"]: c["reads"] for c in bridge.store.cameras()} == {"cam1": 50, "cam2": 50}
            )
            assert bridge.store.query_reads(plate="OLD1")[0] == []  # stored, then removed by the schedule
            assert len(bridge.store.cursors()) == 2
        finally:
            bridge.stop()


def test_mqtt_url_parsing() -> None:
    from alpr.bridge.mqtt import parse_mqtt_url

    assert parse_mqtt_url("mqtt://broker") == ("broker", 1883, False, None, None)
    assert parse_mqtt_url("mqtts://u%40x:p%3Aw@10.0.0.2:9999") == ("10.0.0.2", 9999, True, "u@x", "p:w")
    with pytest.raises(ConfigError, match="expected mqtt://"):
        parse_mqtt_url("tcp://broker")
    with pytest.raises(ConfigError, match="bad port"):
        parse_mqtt_url("mqtt://broker:99999")


class Hook:
    def __init__(self, fail_first: int) -> None:
        self.fail_left = fail_first
        self.calls = 0
        self.received: list[tuple[dict[str, str], bytes]] = []
        hook = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.calls += 1
                if hook.fail_left > 0:
                    hook.fail_left -= 1
                    self.send_response(503)
                else:
                    hook.received.append((dict(self.headers), body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *_a: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hooks() -> Iterator[list[Hook]]:
    made: list[Hook] = []
    yield made
    for h in made:
        h.close()


def test_webhooks_retry_sign_and_filter(tmp_path: Path, keyring: Keyring, hooks: list[Hook]) -> None:
    all_hook, alert_hook = Hook(fail_first=3), Hook(fail_first=0)
    hooks += [all_hook, alert_hook]
    secret = new_secret()
    cfg = BridgeConfig(
        db=f"sqlite:///{tmp_path / 'w.db'}",
        webhooks=[Webhook(url=all_hook.url, secret=secret), Webhook(url=alert_hook.url, alerts_only=True)],
    )
    bridge = Bridge(cfg, keyring)
    for wh in bridge.webhooks:
        wh.backoff_min_s = 0.02
    bridge.store.add_watch("WANTED1", reason="stolen")
    bridge.reload_watchlist()
    bridge.start(consume=False)
    try:
        events = [event(f"WH{i:03d}") for i in range(20)] + [event("WANTED1")]
        bridge.ingest([Ingest(e) for e in events])
        assert wait(lambda: len(all_hook.received) == 22 and len(alert_hook.received) == 1)
        assert bridge.wait_idle(5)
    finally:
        bridge.stop()
    assert all_hook.calls == 25  # 3 refused, then retried in order
    ids = [json.loads(b)["event_id"] for h, b in all_hook.received if h["X-Alpr-Event"] == "plate"]
    assert ids == [e.event_id for e in events]  # in order, none lost, none twice
    for headers, body in all_hook.received:  # Standard Webhooks (more in test_webhooks.py)
        standardwebhooks.Webhook(secret).verify(body, headers)
        with pytest.raises(standardwebhooks.WebhookVerificationError):
            standardwebhooks.Webhook(new_secret()).verify(body, headers)
    h, b = alert_hook.received[0]
    assert (
        h["X-Alpr-Event"] == "alert" and "webhook-signature" not in h and h["webhook-id"].startswith("msg_")
    )
    assert json.loads(b)["reason"] == "stolen"


def test_config_precedence_and_errors(tmp_path: Path) -> None:
    toml = tmp_path / "bridge.toml"
    toml.write_text(
        'zmq = ["tcp://10.0.0.1:5556"]\nmqtt = "mqtt://broker:1883"\nhttp = "0.0.0.0:9000"\n'
        '[retention]\nreads_days = 3\n[[webhooks]]\nurl = "https://x.example/h"\n'
    )
    cfg = load_config(toml, env={})
    assert cfg.zmq == ["tcp://10.0.0.1:5556"] and cfg.retention.reads_days == 3 and cfg.http_port == 9000
    assert cfg.webhooks[0].url == "https://x.example/h" and cfg.db == "sqlite:///alpr.db"
    env = {"ALPR_MQTT": "mqtts://env:8883", "ALPR_ZMQ": "tcp://a:1, tcp://b:2", "ALPR_HA_DISCOVERY": "yes"}
    cfg = load_config(toml, env=env)
    assert cfg.mqtt == "mqtts://env:8883" and cfg.zmq == ["tcp://a:1", "tcp://b:2"] and cfg.ha_discovery
    cfg = load_config(toml, env=env, overrides={"mqtt": "mqtt://flag", "zmq": None, "db": None})
    assert cfg.mqtt == "mqtt://flag" and cfg.zmq == ["tcp://a:1", "tcp://b:2"]
    with pytest.raises(ConfigError, match=r"http: .*HOST:PORT"):
        load_config(None, env={"ALPR_HTTP": "nope"})
    with pytest.raises(ConfigError, match="mqtt"):
        load_config(None, env={}, overrides={"mqtt": "http://x"})
    with pytest.raises(ConfigError, match="invalid TOML"):
        bad = tmp_path / "bad.toml"
        bad.write_text("zmq = [")
        load_config(bad, env={})
    with pytest.raises(ConfigError, match="nonsense: Extra inputs"):
        bad = tmp_path / "extra.toml"
        bad.write_text("nonsense = 1")
        load_config(bad, env={})


def _run(argv: list[str]) -> int:
    p = argparse.ArgumentParser()
    cli.add_parsers(p.add_subparsers())
    args = p.parse_args(argv)
    return int(args.func(args))


def test_cli_token_and_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kf, db = tmp_path / "k.json", f"sqlite:///{tmp_path / 'c.db'}"
    assert _run(["keys", "init", "--key-file", str(kf)]) == 0
    assert _run(["keys", "init", "--key-file", str(kf)]) == 2  # never overwrites a key file
    capsys.readouterr()
    assert (
        _run(["token", "create", "--role", "operator", "--camera", "gate", "--db", db, "--key-file", str(kf)])
        == 0
    )
    token = capsys.readouterr().out.strip()
    store = Store(db, Keyring.load(kf))
    info = store.verify_token(token)
    assert info is not None and info.role == "operator" and info.cameras == ("gate",)
    store.ingest([Ingest(event("ROT1"))])
    store.close()
    assert _run(["token", "list", "--db", db, "--key-file", str(kf)]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert listed == [
        {
            "id": info.id,
            "name": "operator",
            "role": "operator",
            "cameras": ["gate"],
            "created": listed[0]["created"],
            "revoked": False,
        }
    ]
    assert token not in json.dumps(listed)
    assert _run(["token", "revoke", str(info.id), "--db", db, "--key-file", str(kf)]) == 0
    assert _run(["token", "revoke", "999", "--db", db, "--key-file", str(kf)]) == 1
    store = Store(db, Keyring.load(kf))
    assert store.verify_token(token) is None
    store.close()
    assert _run(["keys", "add", "--key-file", str(kf)]) == 0
    capsys.readouterr()
    assert _run(["keys", "rotate", "--db", db, "--key-file", str(kf)]) == 0
    assert "re-encrypted 1 rows" in capsys.readouterr().out
    assert Keyring.load(kf).active == "k2"
    assert _run(["token", "create", "--role", "viewer", "--db", db, "--key-file", str(tmp_path / "no")]) == 2
    assert _run(["serve", "--http", "bad", "--db", db, "--key-file", str(kf)]) == 2
    assert "HOST:PORT" in capsys.readouterr().err
