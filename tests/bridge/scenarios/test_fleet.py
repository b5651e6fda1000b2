"""Several bridges on one PostgreSQL and one broker: each outbox row is delivered once; one leader.

Also the MQTT side of sites: gate commands, retained occupancy and its Home Assistant discovery.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest

from alpr.bridge.config import BridgeConfig, Webhook
from alpr.bridge.crypto import Keyring
from alpr.bridge.service import Bridge
from alpr.bridge.store import Ingest
from alpr.stream.events import PlateEvent
from netutil import Receiver

pytestmark = pytest.mark.services

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)


def ev(plate: str, camera: str = "gate", minutes: float = 0) -> PlateEvent:
    ts = T0 + timedelta(minutes=minutes)
    return PlateEvent.create(camera=camera, plate=plate, confidence=0.9, box=(0, 0, 10, 5), ts=ts)


def test_two_bridges_on_one_postgres_deliver_each_row_once(
    postgres: Any, mosquitto: Any, collector: Any, keyring: Keyring
) -> None:
    col = collector(mosquitto, "alpr/#")
    rx = Receiver()
    db = postgres.new_database()
    cfg = {"db": db, "mqtt": mosquitto.url, "webhooks": [Webhook(url=rx.url)]}
    a, b = Bridge(BridgeConfig(**cfg), keyring), Bridge(BridgeConfig(**cfg), keyring)
    a.start(consume=False)
    b.start(consume=False)
    try:
        a.store.set_camera("in1", site="P1", role="entry")
        n = 0
        for round_ in range(10):  # both bridges ingest while both sinks drain the shared outbox
            for bridge, tag in ((a, "A"), (b, "B")):
                batch = [ev(f"{tag}{round_}X{i:02d}", "gate" if i % 3 else "in1") for i in range(30)]
                bridge.ingest([Ingest(e) for e in batch])
                n += len(batch)
        plates = lambda: [orjson.loads(p)["event_id"] for t, p, _r in col.topics() if t.endswith("/plate")]  # noqa: E731
        assert col.wait_for(lambda: len(plates()) >= n, 60), len(plates())
        assert a.wait_idle(30) and b.wait_idle(30)
        with rx.lock:
            hooks = [x.get("id") or x["event_id"] for x in rx.bodies]
    finally:
        a.stop()
        b.stop()
        rx.close()
    got = plates()
    dup = [k for k, c in Counter(got).items() if c > 1]
    assert len(got) == n and dup == []  # every plate once on MQTT
    assert len(hooks) == len(set(hooks)) == n + n // 3  # plates + session.opened, each once
    assert a.mqtt.delivered + b.mqtt.delivered >= n
    # Both bridges took part (the claims split the rows), and neither delivered a row the other did.
    assert a.mqtt.delivered > 0 and b.mqtt.delivered > 0, (a.mqtt.delivered, b.mqtt.delivered)


def test_one_leader_at_a_time(postgres: Any, keyring: Keyring) -> None:
    db = postgres.new_database()
    from alpr.bridge.store import Store

    s1, s2 = Store(db, keyring), Store(db, keyring)
    try:
        assert s1.is_leader("retention") and s1.is_leader("retention")  # held, and still held
        assert not s2.is_leader("retention")
        assert s2.is_leader("overstay")  # each duty has its own lock
        s1.resign()
        assert s2.is_leader("retention") and not s1.is_leader("retention")
    finally:
        s1.close()
        s2.close()


def test_gate_commands_occupancy_and_discovery_on_mqtt(
    mosquitto: Any, collector: Any, tmp_path: Path, keyring: Keyring
) -> None:
    col = collector(mosquitto, "#")
    cfg = BridgeConfig(db=f"sqlite:///{tmp_path / 'g.db'}", mqtt=mosquitto.url, ha_discovery=True)
    bridge = Bridge(cfg, keyring)
    bridge.store.set_camera("in1", site="P1", role="entry")
    bridge.store.add_permit("EMP1", name="Ann")
    bridge.start(consume=False)
    try:
        bridge.ingest([Ingest(ev("EMP1", "in1")), Ingest(ev("VIS1", "in1", 1))])
        assert col.wait_for(
            lambda: bool(col.topics("alpr/P1/in1/gate")) and bool(col.topics("alpr/P1/occupancy"))
        )
        gate = orjson.loads(col.topics("alpr/P1/in1/gate")[0][1])
        assert (gate["type"], gate["plate"], gate["permit"]) == ("gate.open", "EMP1", "Ann")
        assert len(col.topics("alpr/P1/in1/gate")) == 1  # VIS1 has no permit
        _topic, payload, _ = col.topics("alpr/P1/occupancy")[-1]
        assert orjson.loads(payload)["occupancy"] == 2
        assert col.wait_for(lambda: bool(col.topics("homeassistant/sensor/alpr_site_P1/occupancy/config")))
        disc = orjson.loads(col.topics("homeassistant/sensor/alpr_site_P1/occupancy/config")[0][1])
        assert (
            disc["state_topic"] == "alpr/P1/occupancy"
            and disc["value_template"] == "{{ value_json.occupancy }}"
        )
        assert not col.topics("homeassistant/sensor/alpr_P1/")  # a site is not announced as a camera
        assert bridge.wait_idle(10)
    finally:
        bridge.stop()
    late = collector(mosquitto, "alpr/P1/occupancy")  # retained: a new subscriber gets the last value
    assert late.wait_for(lambda: bool(late.topics("alpr/P1/occupancy")))
    assert late.topics()[0][2] is True
