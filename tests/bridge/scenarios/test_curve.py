"""``alpr serve`` consuming from a CurveZMQ publisher that admits only listed consumers."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from alpr.bridge.config import BridgeConfig, load_config
from alpr.bridge.crypto import Keyring
from alpr.bridge.service import Bridge
from alpr.errors import ConfigError
from alpr.stream import Publisher
from alpr.stream.events import PlateEvent
from alpr.stream.keys import create_curve_certificate, load_curve_keypair, load_curve_public


def test_bridge_consumes_over_curve_with_its_own_certificate(tmp_path: Path, keyring: Keyring) -> None:
    pub_key, pub_secret = create_curve_certificate(tmp_path, "publisher")
    bridge_key, bridge_secret = create_curve_certificate(tmp_path, "bridge")
    _, other_secret = create_curve_certificate(tmp_path, "other")
    events = [
        PlateEvent.create(camera="gate", plate=f"CV{i:03d}", confidence=0.9, box=(0, 0, 1, 1))
        for i in range(30)
    ]
    with Publisher(
        f"ipc://{tmp_path}/ev",
        curve_server_secret=load_curve_keypair(pub_secret)[1],
        curve_client_keys=[load_curve_public(bridge_key)],
    ) as pub:
        pub.publish_many(events)
        for client, expect in ((other_secret, 0), (bridge_secret, 30)):
            cfg = BridgeConfig(
                db=f"sqlite:///{tmp_path / f'{client.stem}.db'}",
                zmq=[pub.endpoint],
                zmq_server_key=pub_key,
                zmq_client_key=client,
            )
            bridge = Bridge(cfg, keyring)
            bridge.start()
            try:
                deadline = time.monotonic() + (2 if expect == 0 else 20)
                while bridge.store.stats()["reads"] < max(expect, 1) and time.monotonic() < deadline:
                    time.sleep(0.05)
                assert bridge.store.stats()["reads"] == expect
            finally:
                bridge.stop()
        assert pub.outbox.acked(bridge.consumer_name) == 30


def test_curve_config_errors(tmp_path: Path, keyring: Keyring) -> None:
    pub_key, _ = create_curve_certificate(tmp_path, "publisher")
    with pytest.raises(ConfigError, match="zmq_client_key needs zmq_server_key"):
        load_config(overrides={"zmq_client_key": str(pub_key)})
    cfg = BridgeConfig(db=f"sqlite:///{tmp_path / 'a.db'}", zmq_server_key=pub_key, zmq_client_key=pub_key)
    with pytest.raises(ConfigError, match="holds no secret key"):
        Bridge(cfg, keyring)


def test_alpr_serve_curve_flags_reach_the_consumer(tmp_path: Path, keyring: Keyring) -> None:
    """``alpr serve --zmq-server-key --zmq-client-key`` (the command line, not the Python API) consumes
    from a publisher that admits only the listed certificate."""
    import subprocess

    from alpr.bridge.crypto import generate_keyfile
    from alpr.bridge.store import Store
    from netutil import serve_command

    pub_key, pub_secret = create_curve_certificate(tmp_path, "publisher")
    bridge_key, bridge_secret = create_curve_certificate(tmp_path, "bridge")
    key_file = tmp_path / "store-keys.json"
    ring = generate_keyfile(key_file)
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    events = [
        PlateEvent.create(camera="gate", plate=f"CL{i:03d}", confidence=0.9, box=(0, 0, 1, 1))
        for i in range(10)
    ]
    with Publisher(
        f"ipc://{tmp_path}/cli",
        curve_server_secret=load_curve_keypair(pub_secret)[1],
        curve_client_keys=[load_curve_public(bridge_key)],
    ) as pub:
        pub.publish_many(events)
        curve = ("--zmq-server-key", str(pub_key), "--zmq-client-key", str(bridge_secret))
        cmd = serve_command(db, key_file, "--zmq", pub.endpoint, *curve)
        log = tmp_path / "serve.log"
        with log.open("wb") as err:
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        try:
            deadline = time.monotonic() + 30
            while pub.outbox.acked("bridge") != 10 and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.1)
            assert pub.outbox.acked("bridge") == 10, log.read_text()
        finally:
            proc.terminate()
            proc.wait(30)
    store = Store(db, ring)
    try:
        assert store.stats()["reads"] == 10
    finally:
        store.close()
