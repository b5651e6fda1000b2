"""Cameras, sites, sessions, permits and journeys through the REST API (real uvicorn on loopback)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from alpr.bridge.config import BridgeConfig
from alpr.bridge.crypto import generate_keyfile
from alpr.bridge.service import Bridge
from alpr.bridge.store import Ingest
from alpr.stream.events import PlateEvent
from netutil import free_port, serving

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)


def ev(plate: str, camera: str, minutes: float) -> PlateEvent:
    ts = T0 + timedelta(minutes=minutes)
    return PlateEvent.create(camera=camera, plate=plate, confidence=0.9, box=(0, 0, 10, 5), ts=ts)


class Api:
    def __init__(self, bridge: Bridge, url: str) -> None:
        self.bridge = bridge
        self.client = httpx.Client(base_url=url, timeout=10)
        store = bridge.store
        self.tokens = {r: store.create_token(r) for r in ("viewer", "operator", "admin")}
        self.tokens["in_viewer"] = store.create_token("viewer", cameras=["in1"])
        self.tokens["lot_viewer"] = store.create_token("viewer", cameras=["in1", "out1"])
        self.tokens["lot_operator"] = store.create_token("operator", cameras=["in1", "out1"])

    def call(self, method: str, path: str, role: str = "admin", **kw: Any) -> httpx.Response:
        return self.client.request(
            method, path, headers={"Authorization": f"Bearer {self.tokens[role]}"}, **kw
        )

    def ok(self, method: str, path: str, role: str = "admin", status: int = 200, **kw: Any) -> Any:
        r = self.call(method, path, role, **kw)
        assert r.status_code == status, (method, path, r.status_code, r.text)
        return r.json() if r.content else None


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.services)])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    db = f"sqlite:///{tmp_path / 'a.db'}" if request.param == "sqlite" else None
    if db is None:
        db = request.getfixturevalue("postgres").new_database()
    port = free_port()
    bridge = Bridge(BridgeConfig(db=db, http=f"127.0.0.1:{port}"), generate_keyfile(tmp_path / "k.json"))
    with serving(bridge.uvicorn_server()):
        a = Api(bridge, f"http://127.0.0.1:{port}")
        yield a
        a.client.close()
    bridge.stop()


def test_cameras_sessions_occupancy_and_payment(api: Api) -> None:
    body = {"site": "P1", "role": "entry"}
    assert api.call("PUT", "/api/v1/cameras/in1", "operator", json=body).status_code == 403  # admin only
    assert api.ok("PUT", "/api/v1/cameras/in1", json=body) == {
        "camera": "in1", "site": "P1", "role": "entry", "direction": None,
    }  # fmt: skip
    api.ok("PUT", "/api/v1/cameras/out1", json={"site": "P1", "role": "exit", "direction": "leaving"})
    api.ok("PUT", "/api/v1/cameras/road", json={"site": "P9", "role": "pass"})
    for bad in ({"site": "P1", "role": "both"}, {"site": "a/b", "role": "entry"}, {"role": "entry"}):
        assert api.call("PUT", "/api/v1/cameras/in1", json=bad).status_code == 422, bad
    api.ok("PUT", "/api/v1/sites/P1", json={"max_stay_s": 7200, "capacity": 50})
    assert api.call("PUT", "/api/v1/sites/P1", json={"capacity": -1}).status_code == 422

    entry = ev("PK1003", "in1", 0)
    api.bridge.ingest([Ingest(entry), Ingest(ev("CD456", "in1", 3)), Ingest(ev("PKI003", "out1", 45))])

    cams = {c["camera"]: c for c in api.ok("GET", "/api/v1/cameras", "viewer")["items"]}
    assert (cams["in1"]["site"], cams["in1"]["role"], cams["in1"]["reads"]) == ("P1", "entry", 2)
    assert cams["out1"]["direction"] == "leaving" and cams["road"]["last_ts"] is None

    page = api.ok("GET", "/api/v1/sessions", "viewer", params={"site": "P1", "state": "closed"})
    assert len(page["items"]) == 1 and page["next"] is None
    s = page["items"][0]
    assert (s["plate"], s["exit_plate"], s["dwell_s"], s["entry_event_id"]) == (
        "PK1003", "PKI003", 2700.0, entry.event_id,
    )  # fmt: skip
    assert {"id", "plate", "site", "entry_ts", "exit_ts", "dwell_s", "entry_camera", "exit_camera",
            "entry_event_id", "exit_event_id"} <= set(s)  # fmt: skip
    assert [x["plate"] for x in api.ok("GET", "/api/v1/sessions", params={"plate": "cd456"})["items"]] == [
        "CD456"
    ]
    since = (T0 + timedelta(minutes=1)).isoformat()
    assert [x["plate"] for x in api.ok("GET", "/api/v1/sessions", params={"since": since})["items"]] == [
        "CD456"
    ]
    p1 = api.ok("GET", "/api/v1/sessions", params={"limit": 1})
    p2 = api.ok("GET", "/api/v1/sessions", params={"limit": 1, "cursor": p1["next"]})
    assert p1["items"][0]["id"] != p2["items"][0]["id"] and p2["next"] is None
    assert api.call("GET", "/api/v1/sessions", params={"state": "parked"}).status_code == 422

    occ = api.ok("GET", "/api/v1/sites/P1/occupancy", "viewer")
    assert (occ["occupancy"], occ["capacity"], occ["free"]) == (1, 50, 49)
    assert api.call("GET", "/api/v1/sites/NOPE/occupancy").status_code == 404
    sites = {x["site"]: x for x in api.ok("GET", "/api/v1/sites", "viewer")["items"]}
    assert sites["P1"]["cameras"] == ["in1", "out1"] and sites["P1"]["max_stay_s"] == 7200

    open_id = api.ok("GET", "/api/v1/sessions", params={"state": "open"})["items"][0]["id"]
    assert api.call("POST", f"/api/v1/sessions/{open_id}/paid", "viewer", json={}).status_code == 403
    paid = api.ok("POST", f"/api/v1/sessions/{open_id}/paid", "operator", json={"reference": "txn-9"})
    assert paid["paid"] and paid["payment_ref"] == "txn-9"
    assert api.call("POST", "/api/v1/sessions/99999/paid", "operator", json={}).status_code == 404
    assert api.call("POST", "/api/v1/sessions/0/paid", "operator", json={}).status_code == 422


def test_scopes_permits_anomalies_and_journeys(api: Api) -> None:
    api.ok("PUT", "/api/v1/cameras/in1", json={"site": "P1", "role": "entry"})
    api.ok("PUT", "/api/v1/cameras/out1", json={"site": "P1", "role": "exit"})
    api.ok("PUT", "/api/v1/cameras/out2", json={"site": "P1", "role": "exit"})
    api.bridge.ingest(
        [Ingest(ev(p, c, m)) for p, c, m in [
            ("AA1", "in1", 0), ("AA1", "out1", 10),  # entry and exit both in lot_viewer's scope
            ("BB2", "in1", 1), ("BB2", "out2", 12),  # exit at out2: not in its scope
            ("ZZ9", "out1", 20),  # left without entry
        ]]
    )  # fmt: skip
    plates = lambda role: sorted(s["plate"] for s in api.ok("GET", "/api/v1/sessions", role)["items"])  # noqa: E731
    assert plates("viewer") == ["AA1", "BB2"]
    assert plates("lot_viewer") == ["AA1"]
    assert plates("in_viewer") == []
    sid = {s["plate"]: s["id"] for s in api.ok("GET", "/api/v1/sessions")["items"]}
    assert api.call("GET", f"/api/v1/sessions/{sid['BB2']}", "lot_viewer").status_code == 404
    assert api.ok("GET", f"/api/v1/sessions/{sid['AA1']}", "lot_viewer")["plate"] == "AA1"
    assert api.call("GET", "/api/v1/sites/P1/occupancy", "in_viewer").status_code == 200  # it sees in1

    anomalies = api.ok("GET", "/api/v1/anomalies", "lot_viewer", params={"kind": "no_entry"})["items"]
    assert [(a["plate"], a["camera"]) for a in anomalies] == [("ZZ9", "out1")]
    assert api.ok("GET", "/api/v1/anomalies", "in_viewer")["items"] == []

    body = {"plate": "EMP1", "name": "Ann", "site": "P1", "valid_until": "2027-01-01T00:00:00Z"}
    assert api.call("POST", "/api/v1/permits", "viewer", json=body).status_code == 403
    assert api.call("POST", "/api/v1/permits", "lot_operator", json=body).status_code == 403
    permit = api.ok("POST", "/api/v1/permits", "operator", status=201, json=body)
    assert (permit["plate"], permit["name"], permit["valid_until"]) == (
        "EMP1",
        "Ann",
        "2027-01-01T00:00:00.000Z",
    )
    bad = body | {"valid_from": "2028-01-01T00:00:00Z"}
    assert api.call("POST", "/api/v1/permits", "operator", json=bad).status_code == 422
    assert [p["id"] for p in api.ok("GET", "/api/v1/permits", "lot_operator")["items"]] == [permit["id"]]
    api.ok("DELETE", f"/api/v1/permits/{permit['id']}", "operator", status=204)
    assert api.call("DELETE", f"/api/v1/permits/{permit['id']}", "operator").status_code == 404

    journeys = api.ok("GET", "/api/v1/journeys", "viewer", params={"plate": "AA1"})["items"]
    assert [(j["from_camera"], j["to_camera"], j["travel_s"]) for j in journeys] == [("in1", "out1", 600.0)]
    assert len(api.ok("GET", "/api/v1/journeys", "lot_viewer")["items"]) == 1  # BB2's in1 -> out2 is hidden
    cells = api.ok("GET", "/api/v1/journeys/matrix", "viewer")["items"]
    assert {(c["from_camera"], c["to_camera"], c["journeys"]) for c in cells} == {
        ("in1", "out1", 1),
        ("in1", "out2", 1),
    }
    assert api.call("GET", "/api/v1/journeys", params={"since": "yesterday"}).status_code == 422

    spec = api.ok("GET", "/api/v1/openapi.json", "viewer")
    for path in ("/api/v1/sessions", "/api/v1/sites/{site}/occupancy", "/api/v1/journeys", "/api/v1/permits"):
        assert path in spec["paths"], path
    assert "Session" in spec["components"]["schemas"]
