"""REST API over real uvicorn + TLS (throwaway certificates) on loopback."""

from __future__ import annotations

import itertools
import json
import re
import ssl
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from alpr.bridge.api.common import CSRF_HEADER, SESSION_COOKIE
from alpr.bridge.config import HttpLimits
from alpr.bridge.service import Bridge
from alpr.bridge.store import Ingest, TokenInfo
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


# ------------------------------------------------------------------- property-based: schemathesis
# Every operation of the OpenAPI document, in every way a client can (fail to) authenticate. The default
# run is a smoke test (FUZZ_EXAMPLES per operation, auth mode and generation mode); `-m slow` runs
# FUZZ_EXAMPLES_SLOW. benches/RESULTS.md records the long run.
FUZZ_EXAMPLES = 1
FUZZ_EXAMPLES_SLOW = 50
# none: no credentials; bad_token: schemathesis' own random `Authorization` values and malformed ones;
# gate_operator: an operator token limited to camera "gate"; session: a dashboard session cookie (an
# admin account) with its X-CSRF-Token.
AUTH_MODES = ("none", "bad_token", "viewer", "operator", "gate_operator", "admin", "session")
BAD_AUTH = ("", "Bearer", "Bearer alpr_wrong", "Basic YWRtaW46YWRtaW4=", "alpr_wrong", "Bearer \u00e9t\u00e9")
PUBLIC = ("/auth/",)  # sign-in routes: their own rules (401 from /auth/me, wrong passwords...)


class Fuzzer:
    """One schemathesis run over every operation in one auth mode; records status codes per operation."""

    def __init__(self, api: Api, mode: str) -> None:
        import requests

        self.api, self.mode, self.n = api, mode, 0
        self.statuses: dict[str, Counter[int]] = {}
        self.failures: list[str] = []
        store = api.bridge.store
        # Ids the fuzzer must not revoke: the module's tokens (the run's own token answers 409 anyway).
        self.keep = {i.id for t in api.tokens.values() if (i := store.verify_token(t)) is not None}
        self.headers: dict[str, str] = {}
        self.login: TokenInfo | None = None
        if mode in ("viewer", "operator", "admin"):
            self.headers = {"Authorization": f"Bearer {store.create_token(mode)}"}
        elif mode == "gate_operator":
            self.headers = {"Authorization": f"Bearer {store.create_token('operator', cameras=['gate'])}"}
        elif mode == "session":
            self.login = _session_user(api)
        self.http = requests.Session()  # one TLS connection for the run, not one per case
        self.ca = str(api.bridge.config.tls_cert.parent / "ca.pem")

    @property
    def examples(self) -> int:
        return sum(sum(c.values()) for c in self.statuses.values())

    def run(self, examples: int) -> None:
        import schemathesis
        from hypothesis.errors import Unsatisfiable
        from schemathesis import GenerationMode

        spec = self.api.get("/api/v1/openapi.json").json()
        ops = [r.ok() for r in schemathesis.openapi.from_dict(spec).get_all_operations()]
        assert len(ops) >= 40 and {o.path for o in ops} >= {"/auth/login", "/auth/me", "/api/v1/live"}
        for op, gen in itertools.product(ops, GenerationMode):
            try:
                self._property(op, gen, examples)()
            except Unsatisfiable:  # nothing to make invalid (no parameters, no body)
                assert gen is GenerationMode.NEGATIVE, op
        self.http.close()

    def _property(self, op: Any, gen: Any, examples: int) -> Any:
        from hypothesis import HealthCheck, given, settings

        @given(case=op.as_strategy(generation_mode=gen))
        @settings(
            max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def prop(case: Any) -> None:
            self.one(case, f"{op.method.upper()} {op.path}", gen.value)

        return prop

    def one(self, case: Any, label: str, gen: str) -> None:
        from schemathesis.checks import not_a_server_error
        from schemathesis.core.failures import FailureGroup
        from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

        self.n += 1
        if self.mode != "bad_token" or self.n % 2:  # bad_token: half keep schemathesis' random values
            case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
        if self.mode == "bad_token" and self.n % 2:
            case.headers["Authorization"] = BAD_AUTH[self.n % len(BAD_AUTH)]
        params = case.path_parameters or {}
        if params.get("token_id") in self.keep:
            params["token_id"] = 999_999
        if params.get("name") == SESSION_USER:  # the account the session tests sign in with
            params["name"] = "nobody"
        creds = dict(self.headers)
        if self.login is not None:  # a new session each time: the fuzzer signs itself out now and then
            sid, creds[CSRF_HEADER] = self.api.bridge.store.create_session(self.login)
            creds["Cookie"] = f"{SESSION_COOKIE}={sid}"

        def sign(r: Any) -> Any:
            # As requests' `auth`, set after the case's headers: a negative case that leaves a header out
            # (Authorization, as the schema's security parameter) must not drop the mode's credentials.
            r.headers.update(creds)
            return r

        resp = case.call(base_url=self.api.url, session=self.http, auth=sign, verify=self.ca, timeout=10)
        self.statuses.setdefault(label, Counter())[resp.status_code] += 1
        what = f"{self.mode} {gen} {case.method} {case.formatted_path} {case.query} -> {resp.status_code}"
        what += f" {resp.text[:200]}"
        protected = not case.path.startswith(PUBLIC)
        anonymous = self.mode in ("none", "bad_token")
        if resp.status_code >= 500:
            self.failures.append(what)
        if protected and anonymous and resp.status_code not in (401, 413, 429):
            self.failures.append(f"{what}: expected 401 without a valid credential")
        if protected and not anonymous and resp.status_code == 401:
            self.failures.append(f"{what}: a valid credential was refused")
        try:
            case.validate_response(
                resp, checks=[not_a_server_error, response_schema_conformance, content_type_conformance]
            )
        except FailureGroup as exc:  # collected: one report for the whole run
            self.failures.append(f"{what}: {type(exc).__name__}: {str(exc)[:300]}")


@pytest.mark.parametrize(
    "examples",
    [FUZZ_EXAMPLES, pytest.param(FUZZ_EXAMPLES_SLOW, marks=pytest.mark.slow)],
    ids=["short", "long"],
)
@pytest.mark.parametrize("mode", AUTH_MODES)
def test_schemathesis_finds_no_server_errors(
    api: Api, mode: str, examples: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alpr.bridge.api import live

    monkeypatch.setattr(live, "MAX_S", 0.05)  # a live stream ends at once here, so a fuzz case can read it
    monkeypatch.setattr(live, "POLL_S", 0.01)
    out = Fuzzer(api, mode)
    out.run(examples)
    print(f"schemathesis {mode}: {out.examples} examples over {len(out.statuses)} operations")
    for label, counts in sorted(out.statuses.items()):
        print(f"  {label}: {dict(sorted(counts.items()))}")
    assert not out.failures, "\n".join(out.failures)


# ------------------------------------------------------------------- the dashboard's session routes
SESSION_USER, SESSION_PASSWORD = "fuzz.dashboard", "correct horse battery"
LOGIN_EXAMPLES = 25  # each one costs an argon2 verification (about 50 ms)


def _session_user(api: Api) -> TokenInfo:
    store = api.bridge.store
    if store.get_user(SESSION_USER) is None:
        store.create_user(SESSION_USER, "admin", SESSION_PASSWORD)
    who = store.check_password(SESSION_USER, SESSION_PASSWORD)
    assert who is not None
    return who


def _client(api: Api) -> httpx.Client:
    """A client of its own: a session cookie it is given must not reach the module's shared client."""
    ctx = ssl.create_default_context(cafile=str(api.bridge.config.tls_cert.parent / "ca.pem"))
    return httpx.Client(base_url=api.url, verify=ctx, timeout=10)


def test_a_session_changes_nothing_without_its_csrf_token(api: Api) -> None:
    store = api.bridge.store
    sid, csrf = store.create_session(_session_user(api))
    cookie = {"Cookie": f"{SESSION_COOKIE}={sid}"}
    unsafe = [(m, p) for m, p in _routes(api) if m not in ("GET", "HEAD", "OPTIONS")]
    unsafe.append(("POST", "/auth/logout"))
    assert len(unsafe) >= 20, unsafe
    for method, path in unsafe:
        body = {"plate": "NOSUCH1", "pattern": "NOSUCH1"}
        for h in ({}, {CSRF_HEADER: ""}, {CSRF_HEADER: "wrong"}, {CSRF_HEADER: csrf + "x"}):
            r = api.client.request(method, path, headers=cookie | h, json=body)
            assert r.status_code == 403, (method, path, h, r.status_code, r.text)
    with _client(api) as c:
        assert c.get("/auth/me", headers=cookie).json()["csrf"] == csrf  # still signed in
        assert c.get("/api/v1/reads", headers=cookie).status_code == 200  # reading needs no CSRF token
        ok = c.post("/api/v1/privacy/export", headers=cookie | {CSRF_HEADER: csrf}, json={"plate": "NOSUCH1"})
        assert ok.status_code == 200, ok.text
        assert c.post("/auth/logout", headers=cookie | {CSRF_HEADER: csrf}).status_code == 204
        assert c.get("/auth/me", headers=cookie).status_code == 401
        assert c.get("/api/v1/reads", headers=cookie).status_code == 401


def _json_values() -> Any:
    from hypothesis import strategies as st

    scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40)
    return st.recursive(
        scalars,
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
        max_leaves=6,
    )


def _login_bodies() -> Any:
    from hypothesis import strategies as st

    field = (
        _json_values()
        | st.text(min_size=1, max_size=80)  # unicode: any code point hypothesis likes, surrogates excluded
        | st.sampled_from([SESSION_USER, SESSION_USER.upper(), SESSION_USER + "\x00", " " + SESSION_USER])
        | st.integers(1, 200_000).map(lambda n: "\u00e9" * n)  # up to 400 kB of UTF-8
    )
    name = st.sampled_from([SESSION_USER, SESSION_USER.upper()]) | st.text(min_size=1, max_size=64)
    well_formed = st.fixed_dictionaries({"username": name, "password": st.text(min_size=1, max_size=64)})
    as_json = st.fixed_dictionaries({}, optional={"username": field, "password": field, "csrf": field})
    json_bodies = well_formed | as_json | _json_values()
    return json_bodies.map(lambda v: ("application/json", _json_bytes(v))) | st.tuples(
        st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded", ""]),
        st.binary(max_size=300),
    )


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value).encode()


@pytest.mark.parametrize(
    "examples",
    [LOGIN_EXAMPLES, pytest.param(20 * LOGIN_EXAMPLES, marks=pytest.mark.slow)],
    ids=["short", "long"],
)
def test_login_fuzz_never_signs_in_or_fails(api: Api, examples: int) -> None:
    from hypothesis import HealthCheck, given, settings

    _session_user(api)
    seen: Counter[int] = Counter()
    with _client(api) as c:

        @given(body=_login_bodies())
        @settings(
            max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def login(body: tuple[str, bytes]) -> None:
            ctype, content = body
            r = c.post("/auth/login", content=content, headers={"Content-Type": ctype} if ctype else {})
            seen[r.status_code] += 1
            assert r.status_code in (400, 401, 413, 422, 429), (body[0], content[:200], r.status_code, r.text)
            assert SESSION_COOKIE not in r.headers.get("set-cookie", "")
            assert not c.cookies

        login()
        # The right password, but not as JSON (a cross-site form can send text/plain): no session.
        right = _json_bytes({"username": SESSION_USER, "password": SESSION_PASSWORD})
        for ctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
            r = c.post("/auth/login", content=right, headers={"Content-Type": ctype})
            assert r.status_code == 422 and not c.cookies, (ctype, r.status_code, r.text)
    print(f"/auth/login: {sum(seen.values())} examples, {dict(sorted(seen.items()))}")


def test_live_fuzz_last_event_id_and_query(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from alpr.bridge.api import live

    monkeypatch.setattr(live, "MAX_S", 0.05)
    monkeypatch.setattr(live, "POLL_S", 0.01)
    printable = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60)
    # A header value cannot start or end with white space (the client refuses to send it).
    marks = st.from_regex(r"\A-?[0-9]{0,30}:-?[0-9]{0,30}\Z") | printable.map(str.strip)
    query = st.dictionaries(printable.filter(bool), printable, max_size=3)
    auth = {"Authorization": f"Bearer {api.tokens['gate_viewer']}"}

    @given(last=marks, query=query)
    @settings(max_examples=30, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def stream(last: str, query: dict[str, str]) -> None:
        r = api.client.get("/api/v1/live", headers=auth | {"Last-Event-ID": last}, params=query)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream"), r.text
        assert r.content.startswith(b"retry: 1000\n\n")
        data = [json.loads(line[6:]) for line in r.content.splitlines() if line.startswith(b"data: ")]
        assert {d["camera"] for d in data} <= {"gate"}  # a camera-scoped token sees only its camera

    stream()
    assert api.client.get("/api/v1/live", headers={"Last-Event-ID": "1:1"}).status_code == 401
