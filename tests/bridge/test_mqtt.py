"""MQTT delivery against a real Mosquitto, including TLS with client certificates, the last will,
and the outage test: broker stopped for 30 s mid-stream while the bridge is also killed and restarted.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from alpr.bridge.config import BridgeConfig, MqttTls
from alpr.bridge.crypto import Keyring
from alpr.bridge.service import Bridge
from alpr.bridge.store import Ingest, Store
from alpr.stream import Publisher
from alpr.stream.events import PlateEvent
from netutil import free_port, free_port_pair

pytestmark = pytest.mark.services

OUTAGE_S = float(os.environ.get("ALPR_TEST_OUTAGE_S", "30"))


def event(plate: str, camera: str = "gate") -> PlateEvent:
    return PlateEvent.create(camera=camera, plate=plate, confidence=0.9, box=(1, 1, 20, 8))


def plate_ids(col: Any, camera: str = "gate") -> list[str]:
    return [orjson.loads(p)["event_id"] for _t, p, _r in col.topics(f"alpr/{camera}/plate")]


def test_plates_alerts_status_and_discovery(
    mosquitto: Any, collector: Any, tmp_path: Path, keyring: Keyring
) -> None:
    col = collector(mosquitto)
    cfg = BridgeConfig(db=f"sqlite:///{tmp_path / 'b.db'}", mqtt=mosquitto.url, ha_discovery=True)
    bridge = Bridge(cfg, keyring)
    bridge.store.add_watch("AB123", kind="fuzzy", reason="stolen", max_distance=0.5)
    bridge.reload_watchlist()
    bridge.start(consume=False)
    try:
        events = [event(f"PL{i:03d}") for i in range(200)] + [event("A8123")]
        bridge.ingest([Ingest(e) for e in events])
        want = {e.event_id for e in events}
        assert col.wait_for(lambda: want <= set(plate_ids(col))), len(plate_ids(col))
        assert col.wait_for(lambda: len(col.topics("alpr/gate/alert")) == 1)
        alert = orjson.loads(col.topics("alpr/gate/alert")[0][1])
        assert alert["plate"] == "A8123" and alert["reason"] == "stolen" and alert["distance"] == 0.25
        first = orjson.loads(col.topics("alpr/gate/plate")[0][1])
        assert (
            first["schema"] == "alpr.plate/1"
            and first["plate"].startswith("PL")
            and first["camera"] == "gate"
        )
        assert b"online" in [p for _t, p, _r in col.topics("alpr/status")]
        disc = col.topics("homeassistant/sensor/alpr_gate/plate/config")
        assert disc and orjson.loads(disc[0][1])["state_topic"] == "alpr/gate/plate"
        assert bridge.wait_idle(10), bridge.store.outbox_pending()
    finally:
        bridge.stop()
    assert col.wait_for(lambda: col.topics("alpr/status")[-1][1] == b"offline")


def test_tls_with_client_certificates(
    mosquitto_factory: Any, collector: Any, pki: Any, tmp_path: Path, keyring: Keyring
) -> None:
    broker = mosquitto_factory(tls=pki)
    col = collector(broker, pki=pki)
    good = BridgeConfig(
        db=f"sqlite:///{tmp_path / 'tls.db'}",
        mqtt=broker.url,
        mqtt_tls=MqttTls(ca=pki.ca, cert=pki.client_cert, key=pki.client_key),
    )
    bridge = Bridge(good, keyring)
    bridge.start(consume=False)
    try:
        e = event("TLS001")
        bridge.ingest([Ingest(e)])
        assert col.wait_for(lambda: e.event_id in plate_ids(col))
    finally:
        bridge.stop()
    # Without a client certificate the broker refuses us, and the event waits in the outbox.
    no_cert = good.model_copy(update={"mqtt_tls": MqttTls(ca=pki.ca), "db": f"sqlite:///{tmp_path / 'n.db'}"})
    bridge = Bridge(no_cert, keyring)
    bridge.start(consume=False)
    try:
        e2 = event("TLS002")
        bridge.ingest([Ingest(e2)])
        time.sleep(1.5)
        assert not bridge.mqtt.connected.is_set()
        assert bridge.store.outbox_pending() == {"mqtt": 1}
        assert e2.event_id not in plate_ids(col)
    finally:
        bridge.stop()


_RUNNER = (
    "import argparse, sys; from alpr.bridge.cli import add_parsers; p = argparse.ArgumentParser();"
    " add_parsers(p.add_subparsers()); a = p.parse_args(sys.argv[1:]); sys.exit(a.func(a))"
)


def start_bridge(tmp: Path, zmq: str, mqtt: str, key_file: Path, log: str) -> subprocess.Popen[bytes]:
    http = free_port()
    args = [
        "serve",
        "--zmq",
        zmq,
        "--mqtt",
        mqtt,
        "--db",
        f"sqlite:///{tmp / 'bridge.db'}",
        "--key-file",
        str(key_file),
        "--http",
        f"127.0.0.1:{http}",
    ]
    with open(tmp / log, "wb") as out:
        return subprocess.Popen([sys.executable, "-c", _RUNNER, *args], stdout=out, stderr=subprocess.STDOUT)


def test_last_will_on_crash(mosquitto: Any, collector: Any, tmp_path: Path, key_file: Path) -> None:
    col = collector(mosquitto, "alpr/status")
    port = free_port_pair()
    proc = start_bridge(tmp_path, f"tcp://127.0.0.1:{port}", mosquitto.url, key_file, "b.log")
    try:
        assert col.wait_for(lambda: any(p == b"online" for _t, p, _r in col.topics())), (
            tmp_path / "b.log"
        ).read_text()
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert col.wait_for(lambda: col.topics()[-1][1] == b"offline", timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_broker_outage_and_bridge_restart_lose_nothing(
    mosquitto: Any, collector: Any, tmp_path: Path, key_file: Path
) -> None:
    """Stream -> bridge -> Mosquitto with the broker down for OUTAGE_S seconds and the bridge killed
    (SIGKILL) and restarted during the outage: every event the publisher accepted reaches a
    subscriber once the broker is back (at least once; duplicates are allowed and counted)."""
    col = collector(mosquitto, "alpr/+/plate", session="outage-test")
    port = free_port_pair()
    zmq_ep = f"tcp://127.0.0.1:{port}"
    published: list[str] = []
    stop = threading.Event()
    pub = Publisher(zmq_ep, outbox=tmp_path / "pub-outbox.db")

    def produce() -> None:
        i = 0
        while not stop.is_set():
            e = event(f"OUT{i:05d}", camera=("gate", "exit")[i % 2])
            pub.publish(e)
            published.append(e.event_id)
            i += 1
            time.sleep(0.01)  # ~100 events/s

    bridge = start_bridge(tmp_path, zmq_ep, mosquitto.url, key_file, "bridge1.log")
    producer = threading.Thread(target=produce, daemon=True)
    try:
        producer.start()
        assert col.wait_for(lambda: len(col.messages) > 50, timeout=20), (
            tmp_path / "bridge1.log"
        ).read_text()
        mosquitto.stop()  # --- broker down: the bridge keeps accepting into its outbox
        t_down = time.monotonic()
        n_before = len(published)
        time.sleep(OUTAGE_S / 3)
        bridge.send_signal(signal.SIGKILL)  # --- and the bridge crashes mid-outage
        bridge.wait(10)
        bridge = start_bridge(tmp_path, zmq_ep, mosquitto.url, key_file, "bridge2.log")
        time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - t_down)))
        n_during = len(published)
        mosquitto.start()  # --- broker back
        time.sleep(2)
        stop.set()
        producer.join(5)
        want = set(published)
        ok = col.wait_for(
            lambda: want <= {orjson.loads(p)["event_id"] for _t, p, _r in col.topics()}, timeout=60
        )
        got = [orjson.loads(p)["event_id"] for _t, p, _r in col.topics()]
        missing = want - set(got)
        assert ok and not missing, f"{len(missing)} of {len(want)} events never reached MQTT"
        assert n_during - n_before >= 10 * OUTAGE_S  # events really flowed during the outage
        print(f"outage {OUTAGE_S:.0f}s: {len(want)} events, {len(got) - len(set(got))} duplicates")
    finally:
        stop.set()
        pub.close()
        bridge.send_signal(signal.SIGTERM)
        try:
            bridge.wait(15)
        except subprocess.TimeoutExpired:
            bridge.kill()
    store = Store(f"sqlite:///{tmp_path / 'bridge.db'}", Keyring.load(key_file))
    try:
        assert store.stats()["reads"] == len(set(published))
        assert not any(store.outbox_pending().values())
    finally:
        store.close()


def test_bursts_with_pauses_are_all_delivered(
    mosquitto: Any, collector: Any, tmp_path: Path, keyring: Keyring
) -> None:
    """Bursts separated by pauses (the outbox empties in between and SQLite reuses its row ids): every
    stored event reaches MQTT (was 32 of 41: rows with reused ids sat below the sender's cursor)."""
    col = collector(mosquitto)
    cfg = BridgeConfig(db=f"sqlite:///{tmp_path / 'b.db'}", mqtt=mosquitto.url)
    bridge = Bridge(cfg, keyring)
    bridge.start(consume=False)
    sent: set[str] = set()
    try:
        for burst in (1, 1, 5, 1, 3, 1, 1):
            events = [event(f"BU{len(sent) + i:03d}") for i in range(burst)]
            bridge.ingest([Ingest(e) for e in events])
            sent |= {e.event_id for e in events}
            want = frozenset(sent)
            assert col.wait_for(lambda w=want: w <= set(plate_ids(col))), (len(want), len(plate_ids(col)))
            assert bridge.wait_idle(10), bridge.store.outbox_pending()
    finally:
        bridge.stop()


def test_two_bridges_on_one_broker_do_not_evict_each_other(
    mosquitto: Any, collector: Any, tmp_path: Path, keyring: Keyring
) -> None:
    col = collector(mosquitto)
    a = Bridge(BridgeConfig(db=f"sqlite:///{tmp_path / 'a.db'}", mqtt=mosquitto.url), keyring)
    b = Bridge(BridgeConfig(db=f"sqlite:///{tmp_path / 'b.db'}", mqtt=mosquitto.url), keyring)
    assert a.config.mqtt_client_id != b.config.mqtt_client_id  # was "alpr-bridge" for both
    a.start(consume=False)
    b.start(consume=False)
    try:
        ea, eb = [event(f"AA{i}") for i in range(20)], [event(f"BB{i}", camera="lot") for i in range(20)]
        a.ingest([Ingest(e) for e in ea])
        b.ingest([Ingest(e) for e in eb])
        want_a, want_b = {e.event_id for e in ea}, {e.event_id for e in eb}
        assert col.wait_for(lambda: want_a <= set(plate_ids(col)) and want_b <= set(plate_ids(col, "lot")))
        assert a.wait_idle(10) and b.wait_idle(10)
    finally:
        a.stop()
        b.stop()
