"""REST API over real uvicorn + TLS (throwaway certificates) on loopback."""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from alpr.bridge.config import HttpLimits
from alpr.bridge.service import Bridge
from alpr.bridge.store import Ingest
from alpr.stream.events import PlateEvent
from netutil import serve_bridge

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)
JPEG = b"\xff\xd8\xff\xe0crop\xff\xd9"


@dataclass
class Api:
    bridge: Bridge
    url: str
    client: httpx.Client
    tokens: dict[str, str]

    def get(self, path: str, role: str = "admin", **kw: Any) -> httpx.Response:
        return self.client.get(path, headers={"Authorization": f"Bearer {self.tokens[role]}"}, **kw)

    def send(self, method: str, path: str, role: str = "admin", **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"}
        return self.client.request(method, path, headers=headers, **kw)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.services)])
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, pki: Any) -> Iterator[Api]:
    tmp = tmp_path_factory.mktemp("api")
    if request.param == "sqlite":
        db = f"sqlite:///{tmp / 'api.db'}"
    else:
        db = request.getfixturevalue("postgres").new_database()
    # This module sends many wrong tokens on purpose; the lockout has its own tests (hardening).
    limits = HttpLimits(auth_max_failures=1_000_000)
    with serve_bridge(tmp, pki, db, http_limits=limits) as (bridge, url):
        tokens = {role: bridge.store.create_token(role) for role in ("viewer", "operator", "admin")}
        tokens["gate_viewer"] = bridge.store.create_token("viewer", cameras=["gate"])
        tokens["gate_operator"] = bridge.store.create_token("operator", cameras=["gate"])
        ctx = ssl.create_default_context(cafile=str(pki.ca))
        client = httpx.Client(base_url=url, verify=ctx, timeout=10)
        events = [
            PlateEvent.create(
                camera=cam, plate=p, confidence=0.8, box=(0, 0, 10, 5), ts=T0 + timedelta(minutes=i)
            )
            for i, (p, cam) in enumerate(
                [
                    ("AB123", "gate"),
                    ("A8123", "gate"),
                    ("XY999", "exit"),
                    ("AB123", "exit"),
                    ("CD456", "gate"),
                ]
            )
        ]
        bridge.ingest([Ingest(e, JPEG if i == 0 else None) for i, e in enumerate(events)])
        api = Api(bridge, url, client, tokens)
        api.events = events  # type: ignore[attr-defined]
        yield api
        client.close()


def _flat_routes(routes: Any) -> list[Any]:
    """Every route, through included routers (newer FastAPI keeps an included router as one entry)."""
    out: list[Any] = []
    for r in routes:
        inner = getattr(r, "original_router", None)
        out += _flat_routes(inner.routes) if inner is not None else [r]
    return out


def _routes(api: Api) -> list[tuple[str, str]]:
    app = api.bridge.server.config.app
    out = []
    for r in _flat_routes(app.routes):
        if isinstance(r, APIRoute) and r.path.startswith("/api/"):
            path = re.sub(r"\{event_id\}", "x", r.path)
            path = re.sub(r"\{watch_id\}|\{alert_id\}", "1", path)
            path = re.sub(r"\{token_id\}", "999999", path)  # not a real token: nothing gets revoked
            path = re.sub(r"\{name\}", "nobody", path)
            out += [(m, path) for m in sorted(r.methods)]
    return out


def test_every_route_rejects_missing_or_wrong_tokens(api: Api) -> None:
    routes = _routes(api)
    assert len(routes) >= 14, routes  # the whole API, the OpenAPI document included
    bad_headers: list[dict[str, str]] = [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer alpr_wrong"},
        {"Authorization": f"Bearer {api.tokens['admin']}x"},
        {"Authorization": f"Basic {api.tokens['admin']}"},
        {"Authorization": api.tokens["admin"]},
    ]
    for method, path in routes:
        body = {"plate": "NOSUCH1", "pattern": "NOSUCH1"} if method in ("POST", "PUT") else None
        for h in bad_headers:
            r = api.client.request(method, path, headers=h, json=body)
            assert r.status_code == 401, (method, path, h, r.status_code, r.text)
            assert r.headers.get("www-authenticate") == "Bearer"
        good = {"Authorization": f"Bearer {api.tokens['admin']}"}
        with api.client.stream(method, path, headers=good, json=body) as ok:  # /live never ends
            assert ok.status_code != 401, (method, path)


def test_dashboard_is_static_and_data_free(api: Api) -> None:
    app = api.bridge.server.config.app
    public = sorted(
        r.path
        for r in _flat_routes(app.routes)
        if isinstance(r, APIRoute) and not r.path.startswith(("/api/", "/auth/"))
    )
    assert "/" in public and "/app.js" in public and "/app.css" in public
    plates = {e.plate for e in api.events}  # type: ignore[attr-defined]
    for path in public:
        r = api.client.get(path)  # no credentials: these hold no data
        assert r.status_code == 200 and "script-src 'self'" in r.headers["content-security-policy"]
        assert not any(p in r.text for p in plates)
        if path.endswith(".js"):
            assert "innerHTML" not in r.text and "eval(" not in r.text  # data only as text
    assert "<script>" not in api.client.get("/").text  # no inline script (the CSP forbids it anyway)


def test_roles(api: Api) -> None:
    assert api.get("/api/v1/reads", "viewer").status_code == 200
    assert api.get("/api/v1/watchlists", "viewer").status_code == 403
    assert api.get("/api/v1/watchlists", "operator").status_code == 200
    assert api.send("POST", "/api/v1/privacy/export", "operator", json={"plate": "AB123"}).status_code == 403
    assert api.get("/api/v1/audit", "operator").status_code == 403
    assert api.get("/api/v1/audit", "admin").status_code == 200
    h = api.get("/api/v1/health", "viewer")
    assert h.status_code == 200 and h.json()["status"] == "ok"
    spec = api.get("/api/v1/openapi.json", "viewer").json()
    assert "/api/v1/reads" in spec["paths"] and spec["components"]["securitySchemes"]


def test_reads_filters_pagination_and_crop(api: Api) -> None:
    ev = api.events  # type: ignore[attr-defined]
    body = api.get("/api/v1/reads", params={"plate": "ab-123"}).json()
    assert [i["event_id"] for i in body["items"]] == [ev[3].event_id, ev[0].event_id]
    assert body["items"][0]["plate"] == "AB123" and body["next"] is None
    fuzzy = api.get("/api/v1/reads", params={"plate": "AB123", "fuzzy": "true", "max_distance": 0.5}).json()
    assert {i["plate"] for i in fuzzy["items"]} == {"AB123", "A8123"}
    cam = api.get("/api/v1/reads", params={"camera": "exit"}).json()
    assert {i["camera"] for i in cam["items"]} == {"exit"} and len(cam["items"]) == 2
    since = (T0 + timedelta(minutes=1)).isoformat()
    until = (T0 + timedelta(minutes=3)).isoformat()
    win = api.get("/api/v1/reads", params={"since": since, "until": until}).json()
    assert [i["plate"] for i in win["items"]] == ["XY999", "A8123"]
    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = api.get("/api/v1/reads", params=params).json()
        seen += [i["event_id"] for i in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == [e.event_id for e in reversed(ev)]
    assert api.get("/api/v1/reads", params={"cursor": "abc"}).status_code == 422
    one = api.get(f"/api/v1/reads/{ev[0].event_id}")
    assert one.status_code == 200 and one.json()["has_crop"] is True
    crop = api.get(f"/api/v1/reads/{ev[0].event_id}/crop")
    assert crop.status_code == 200 and crop.content == JPEG and crop.headers["content-type"] == "image/jpeg"
    assert api.get(f"/api/v1/reads/{ev[1].event_id}/crop").status_code == 404
    assert api.get("/api/v1/reads/nope").status_code == 404
    cams = api.get("/api/v1/cameras").json()["items"]
    assert {c["camera"]: c["reads"] for c in cams} == {"gate": 3, "exit": 2}
    assert api.get("/api/v1/stats").json()["reads"] == 5


def test_camera_scopes(api: Api) -> None:
    ev = api.events  # type: ignore[attr-defined]
    items = api.get("/api/v1/reads", "gate_viewer").json()["items"]
    assert {i["camera"] for i in items} == {"gate"} and len(items) == 3
    assert api.get(f"/api/v1/reads/{ev[2].event_id}", "gate_viewer").status_code == 404  # exit camera
    assert api.get(f"/api/v1/reads/{ev[0].event_id}", "gate_viewer").status_code == 200
    assert [c["camera"] for c in api.get("/api/v1/cameras", "gate_viewer").json()["items"]] == ["gate"]
    assert api.get("/api/v1/stats", "gate_viewer").json()["reads"] == 3


def test_watchlist_crud_raises_alerts_and_audit(api: Api) -> None:
    expires = (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()
    r = api.send(
        "POST",
        "/api/v1/watchlists",
        "operator",
        json={"pattern": "ZZ-9*", "kind": "wildcard", "reason": "stolen", "expires": expires},
    )
    assert r.status_code == 201, r.text
    w = r.json()
    assert w["pattern"] == "ZZ9*" and w["kind"] == "wildcard" and w["expires"] is not None
    assert api.get(f"/api/v1/watchlists/{w['id']}", "operator").json() == w
    bad = api.send("POST", "/api/v1/watchlists", "operator", json={"pattern": "*", "kind": "wildcard"})
    assert bad.status_code == 422
    # The bridge reloads its matcher on every change: a new read now raises an alert.
    hit = PlateEvent.create(camera="gate", plate="ZZ9001", confidence=0.9, box=(0, 0, 1, 1))
    assert api.bridge.ingest([Ingest(hit)]).alerts == 1
    alerts = api.get("/api/v1/alerts", "viewer").json()["items"]
    assert alerts[0]["event_id"] == hit.event_id and alerts[0]["reason"] == "stolen"
    assert api.get("/api/v1/alerts", "viewer", params={"camera": "exit"}).json()["items"] == []
    upd = api.send("PUT", f"/api/v1/watchlists/{w['id']}", "operator", json={"pattern": "QQ1", "reason": "x"})
    assert upd.status_code == 200 and upd.json()["kind"] == "exact"
    assert api.send("DELETE", f"/api/v1/watchlists/{w['id']}", "operator").status_code == 204
    assert api.send("DELETE", f"/api/v1/watchlists/{w['id']}", "operator").status_code == 404
    miss = PlateEvent.create(camera="gate", plate="ZZ9002", confidence=0.9, box=(0, 0, 1, 1))
    assert api.bridge.ingest([Ingest(miss)]).alerts == 0
    api.get("/api/v1/reads", "viewer", params={"plate": "AUDIT1"})
    log = api.get("/api/v1/audit").json()["items"]
    assert any(e["action"] == "reads.search" and e["detail"]["plate"] == "AUDIT1" for e in log)


def test_camera_scoped_operator_manages_only_its_cameras(api: Api) -> None:
    own = api.send("POST", "/api/v1/watchlists", "gate_operator", json={"pattern": "SCOPE1"})
    assert own.status_code == 201 and own.json()["cameras"] == ["gate"]  # defaults to the token's cameras
    other = api.send(
        "POST", "/api/v1/watchlists", "gate_operator", json={"pattern": "SCOPE2", "cameras": ["exit"]}
    )
    assert other.status_code == 403
    glob = api.send("POST", "/api/v1/watchlists", "operator", json={"pattern": "SCOPE3"}).json()
    ids = {w["id"] for w in api.get("/api/v1/watchlists", "gate_operator").json()["items"]}
    assert own.json()["id"] in ids and glob["id"] not in ids
    assert api.get(f"/api/v1/watchlists/{glob['id']}", "gate_operator").status_code == 404
    assert api.send("DELETE", f"/api/v1/watchlists/{glob['id']}", "gate_operator").status_code == 404
    assert api.send("DELETE", f"/api/v1/watchlists/{glob['id']}", "operator").status_code == 204
    assert api.send("DELETE", f"/api/v1/watchlists/{own.json()['id']}", "gate_operator").status_code == 204


def test_export_and_erase(api: Api) -> None:
    e = PlateEvent.create(camera="gate", plate="GDPR1", confidence=0.9, box=(0, 0, 1, 1))
    api.bridge.ingest([Ingest(e, JPEG)])
    out = api.send("POST", "/api/v1/privacy/export", json={"plate": "gdpr1"}).json()
    assert [r["event_id"] for r in out["reads"]] == [e.event_id] and out["reads"][0]["crop_jpeg_base64"]
    gone = api.send("POST", "/api/v1/privacy/erase", json={"plate": "GDPR1"}).json()
    assert gone["reads"] == 1 and gone["crops"] == 1
    assert api.get("/api/v1/reads", params={"plate": "GDPR1"}).json()["items"] == []


def test_schemathesis_finds_no_server_errors(api: Api) -> None:
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error

    spec = api.get("/api/v1/openapi.json").json()
    schema = schemathesis.openapi.from_dict(spec)
    auth = {"Authorization": f"Bearer {api.tokens['admin']}"}
    ops = [r.ok() for r in schema.get_all_operations()]
    assert len(ops) >= 12
    failures: list[str] = []
    for op in ops:

        @given(case=op.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case: Any) -> None:
            resp = case.call(
                base_url=api.url, headers=auth, verify=str(api.bridge.config.tls_cert.parent / "ca.pem")
            )
            if resp.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} {case.query} -> {resp.status_code}")
            case.validate_response(resp, checks=[not_a_server_error])

        run()
    assert failures == []
