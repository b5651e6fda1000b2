"""deploy/mosquitto/edge-bridge.conf between two real Mosquitto brokers: an edge bridge publishes on the
edge broker and its messages reach the central broker, also when central was down for a while."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from string import Template
from typing import Any

import orjson
import pytest

from alpr.bridge.config import BridgeConfig
from alpr.bridge.crypto import Keyring
from alpr.bridge.service import Bridge
from alpr.bridge.store import Ingest
from alpr.stream.events import PlateEvent

pytestmark = pytest.mark.services

TEMPLATE = Path(__file__).resolve().parents[3] / "deploy" / "mosquitto" / "edge-bridge.conf"


def render(edge_id: str, port: int) -> str:
    values = {"ALPR_EDGE_ID": edge_id, "ALPR_CENTRAL_HOST": "127.0.0.1", "ALPR_CENTRAL_PORT": str(port)}
    text = Template(TEMPLATE.read_text()).substitute(values)  # KeyError on any variable left unset
    envsubst = shutil.which("envsubst")
    if envsubst is not None:  # the command the template's header documents renders the same
        out = subprocess.run(
            [envsubst],
            input=TEMPLATE.read_text(),
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, **values},
        )
        assert out.stdout == text
    return text


def config_lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


def event(plate: str, camera: str = "in1") -> PlateEvent:
    return PlateEvent.create(camera=camera, plate=plate, confidence=0.9, box=(1, 1, 20, 8))


def ids(col: Any, topic: str) -> list[str]:
    return [orjson.loads(p)["event_id"] for _t, p, _r in col.topics(topic)]


def test_template_is_complete_and_tls_is_commented() -> None:
    text = TEMPLATE.read_text()
    lines = config_lines(render("lot-a", 8883))
    assert lines[:2] == ["connection alpr-lot-a", "address 127.0.0.1:8883"]
    assert "cleansession false" in lines and "topic alpr/+/+ out 1" in lines
    for key in ("bridge_cafile", "bridge_certfile", "bridge_keyfile", "remote_username", "remote_password"):
        assert f"#{key} " in text and not any(ln.startswith(key) for ln in lines)


def test_edge_messages_reach_central_and_survive_a_central_outage(
    mosquitto_factory: Any, collector: Any, tmp_path: Path, keyring: Keyring
) -> None:
    central = mosquitto_factory()
    edge = mosquitto_factory(extra=config_lines(render("lot-a", central.port)))
    col = collector(central, "#", session="central-consumer")  # a persistent session on central
    edge_col = collector(edge)
    cfg = BridgeConfig(db=f"sqlite:///{tmp_path / 'edge.db'}", mqtt=edge.url, ha_discovery=True)
    bridge = Bridge(cfg, keyring)
    bridge.store.set_camera("in1", site="P1", role="entry")
    bridge.store.add_permit("ED000", name="staff", site="P1")  # opens the barrier: a 4-level topic
    bridge.start(consume=False)
    try:
        assert col.wait_for(lambda: b"1" in [p for _t, p, _r in col.topics("alpr/edges/lot-a/bridge")])
        first = [event(f"ED{i:03d}") for i in range(20)]
        bridge.ingest([Ingest(e) for e in first])
        assert col.wait_for(lambda: ids(col, "alpr/in1/plate") == [e.event_id for e in first])
        assert col.wait_for(lambda: len(col.topics("alpr/P1/session.opened")) == 20)  # 3 levels
        assert col.wait_for(lambda: bool(col.topics("alpr/P1/occupancy")))
        assert col.wait_for(lambda: len(col.topics("alpr/P1/in1/gate")) == 1)
        # The edge's status arrives under the edge's name and leaves central's own alpr/status alone.
        assert col.wait_for(lambda: b"online" in [p for _t, p, _r in col.topics("alpr/edges/lot-a/status")])
        assert col.topics("alpr/status") == []
        assert edge_col.topics("homeassistant/") and col.topics("homeassistant/") == []  # stays local

        central.stop()  # --- central goes away; the edge keeps publishing
        during = [event(f"DN{i:03d}") for i in range(30)]
        bridge.ingest([Ingest(e) for e in during])
        want = [e.event_id for e in first + during]
        assert edge_col.wait_for(lambda: ids(edge_col, "alpr/in1/plate") == want)  # edge has them all
        central.start()  # same port, same persistence directory
        assert col.wait_for(lambda: set(want) <= set(ids(col, "alpr/in1/plate")), timeout=60), len(
            ids(col, "alpr/in1/plate")
        )
        assert bridge.wait_idle(10)
    finally:
        bridge.stop()
    # None lost, in order; at least once, so a message in flight when central stopped may come twice.
    got = list(dict.fromkeys(ids(col, "alpr/in1/plate")))
    assert got == want
