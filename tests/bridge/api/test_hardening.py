"""Hostile clients against a real uvicorn on loopback: body limits before auth, short 422s, NaN,
token guessing, fuzzy-search floods, security headers, scoped stats, TLS options, logging."""

from __future__ import annotations

import signal
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from alpr.bridge import schema as S
from alpr.bridge.api import ApiLimits, create_app
from alpr.bridge.config import BridgeConfig, load_config
from alpr.bridge.crypto import Keyring
from alpr.bridge.service import Bridge
from alpr.bridge.store import Ingest, Store
from alpr.errors import ConfigError
from alpr.stream.events import PlateEvent
from netutil import free_port, serving

API = "/api/v1"


@dataclass
class Server:
    url: str
    app: Any
    store: Store
    tokens: dict[str, str]
    ids: dict[str, int]

    def h(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


def _run(app: Any, port: int, **ssl_kw: Any) -> Iterator[None]:
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", access_log=False, **ssl_kw)
    )
    with serving(server):
        yield


def _serve(store: Store, limits: ApiLimits, **ssl_kw: Any) -> Iterator[Server]:
    tokens = {r: store.create_token(r) for r in ("viewer", "operator", "admin")}
    tokens["gate_viewer"] = store.create_token("viewer", cameras=["gate"])
    ids = {r: store.verify_token(tok).id for r, tok in tokens.items()}  # type: ignore[union-attr]
    app = create_app(store, limits=limits, scan_limit=100_000)
    port = free_port()
    scheme = "https" if ssl_kw else "http"
    for _ in _run(app, port, **ssl_kw):
        yield Server(f"{scheme}://127.0.0.1:{port}", app, store, tokens, ids)


LIMITS = ApiLimits(max_body_bytes=64 * 1024, auth_max_failures=5, auth_lockout_s=60)


@pytest.fixture
def srv(store: Store) -> Iterator[Server]:
    yield from _serve(store, LIMITS)


@pytest.fixture
def client(srv: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=srv.url, timeout=10) as c:
        yield c


# --------------------------------------------------------------------------------------- body limit
def test_oversized_body_is_refused_before_it_is_read_and_before_auth(srv: Server) -> None:
    host, port = srv.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(
            b"POST /api/v1/privacy/erase HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 400000000\r\n\r\n{"plate": "'
        )
        # Not a byte more of the 400 MB: the reply must come from the header alone.
        reply = s.recv(4096)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]


def test_chunked_body_over_the_limit_gets_413(srv: Server, client: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(64):
            yield b"x" * 4096

    json = {"Content-Type": "application/json"}
    r = client.post(f"{API}/privacy/erase", content=chunks(), headers=json | srv.h("admin"))
    assert r.status_code == 413
    # Without a token the body is never read: 401 (its length is unknown until it has been read).
    r = client.post(f"{API}/privacy/erase", content=chunks(), headers=json)
    assert r.status_code == 401


def test_an_unauthenticated_body_is_not_parsed(client: httpx.Client) -> None:
    """Found by schemathesis: FastAPI parses a body before the route's dependencies, so a request
    without a valid token got 400 / 422 (which say what the route accepts) instead of 401."""
    for content in (b"\xaa\x10", b"{not json", b'{"plate": 1}', b"[]"):
        for auth in ({}, {"Authorization": "Bearer alpr_wrong"}):
            r = client.post(
                f"{API}/privacy/erase", content=content, headers=auth | {"Content-Type": "application/json"}
            )
            assert r.status_code == 401, (content, auth, r.status_code, r.text)
            assert r.headers["www-authenticate"] == "Bearer" and r.headers["x-content-type-options"]


def test_body_under_the_limit_still_works(srv: Server, client: httpx.Client) -> None:
    r = client.post(f"{API}/privacy/export", json={"plate": "AB123"}, headers=srv.h("admin"))
    assert r.status_code == 200, r.text


# --------------------------------------------------------------------------------------- 422 / NaN
def test_validation_errors_do_not_echo_big_inputs(srv: Server, client: httpx.Client) -> None:
    big = "x" * 50_000
    r = client.post(f"{API}/privacy/export", json={"plate": big}, headers=srv.h("admin"))
    assert r.status_code == 422
    assert len(r.content) < 2_000, len(r.content)
    (err,) = r.json()["detail"]
    assert err["loc"] == ["body", "plate"] and err["input"].startswith("xxxx")
    r = client.post(f"{API}/privacy/export", json={"plate": ["A" * 1000] * 40}, headers=srv.h("admin"))
    assert r.status_code == 422 and len(r.content) < 2_000


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_in_a_body_are_422(srv: Server, client: httpx.Client, value: str) -> None:
    body = '{"pattern": "AB123", "kind": "fuzzy", "max_distance": ' + value + "}"
    r = client.post(
        f"{API}/watchlists",
        content=body.encode(),
        headers={**srv.h("operator"), "Content-Type": "application/json"},
    )
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["body", "max_distance"]
    r = client.get(
        f"{API}/reads",
        params={"plate": "AB1", "fuzzy": "true", "max_distance": value.lower()},
        headers=srv.h("viewer"),
    )
    assert r.status_code == 422


def test_a_non_ascii_digit_cursor_is_422(srv: Server, client: httpx.Client) -> None:
    r = client.get(f"{API}/reads", params={"cursor": "²"}, headers=srv.h("viewer"))
    assert r.status_code == 422


# --------------------------------------------------------------------------------------- token guessing
def test_guessed_tokens_are_rate_limited_audited_and_locked_out(srv: Server, client: httpx.Client) -> None:
    codes = []
    for i in range(8):
        r = client.get(f"{API}/health", headers={"Authorization": f"Bearer alpr_guess{i}"})
        codes.append(r.status_code)
    assert codes[:4] == [401] * 4, codes
    assert codes[4:] == [429] * 4, codes
    assert 0 < int(r.headers["retry-after"]) <= 60
    # Locked out: even the right token is refused now, so guessing cannot go on.
    r = client.get(f"{API}/health", headers=srv.h("admin"))
    assert r.status_code == 429
    # No token at all is not a guess: still a plain 401.
    assert client.get(f"{API}/health").status_code == 401
    log = srv.store.audit_log(100)
    failed = [e for e in log if e["action"] == "auth.failed"]
    assert len(failed) == 5 and all(e["detail"]["ip"] == "127.0.0.1" for e in failed)
    assert [e["action"] for e in log].count("auth.lockout") == 1


def test_lockout_expires(store: Store) -> None:
    from alpr.bridge.api.hardening import AuthGuard

    g = AuthGuard(ApiLimits(auth_max_failures=3, auth_window_s=10, auth_lockout_s=30), store)
    assert g.failed("1.2.3.4", now=0) == (1, False)
    assert g.failed("1.2.3.4", now=11) == (1, False)  # the first one left the window
    assert g.failed("1.2.3.4", now=12) == (2, False)
    assert g.failed("1.2.3.4", now=13) == (3, True)
    assert g.retry_after("1.2.3.4", now=20) == pytest.approx(23)
    assert g.retry_after("5.6.7.8", now=20) == 0
    assert g.retry_after("1.2.3.4", now=44) == 0


# --------------------------------------------------------------------------------------- fuzzy floods
def test_fuzzy_searches_are_bounded_per_token_and_health_stays_up(srv: Server, client: httpx.Client) -> None:
    ev = PlateEvent.create(camera="gate", plate="AB123", confidence=0.9, box=(0, 0, 1, 1))
    srv.store.ingest([Ingest(ev)])
    gate = srv.app.state.fuzzy_gate
    fuzzy = {"plate": "AB124", "fuzzy": "true"}
    viewer = srv.ids["viewer"]
    with gate.slot(viewer), gate.slot(viewer):  # two searches of this token in flight
        r = client.get(f"{API}/reads", params=fuzzy, headers=srv.h("viewer"))
        assert r.status_code == 429 and r.headers["retry-after"] == "1"
        # Exact searches, other tokens and /health are not held up.
        assert (
            client.get(f"{API}/reads", params={"plate": "AB123"}, headers=srv.h("viewer")).status_code == 200
        )
        assert client.get(f"{API}/reads", params=fuzzy, headers=srv.h("admin")).status_code == 200
        assert client.get(f"{API}/health", headers=srv.h("viewer")).status_code == 200
    r = client.get(f"{API}/reads", params=fuzzy, headers=srv.h("viewer"))
    assert r.status_code == 200 and [i["plate"] for i in r.json()["items"]] == ["AB123"]


def test_fuzzy_total_limit_across_tokens(srv: Server, client: httpx.Client) -> None:
    gate = srv.app.state.fuzzy_gate
    held = [gate.slot(srv.ids[n]) for n in ("admin", "operator", "admin", "operator")]
    for h in held:
        h.__enter__()
    try:
        r = client.get(f"{API}/reads", params={"plate": "AB1", "fuzzy": "true"}, headers=srv.h("viewer"))
        assert r.status_code == 429
    finally:
        for h in held:
            h.__exit__(None, None, None)
    r = client.get(f"{API}/reads", params={"plate": "AB1", "fuzzy": "true"}, headers=srv.h("viewer"))
    assert r.status_code == 200


# --------------------------------------------------------------------------------------- headers
def _has_api_headers(r: httpx.Response) -> None:
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["referrer-policy"] == "no-referrer"


def test_security_headers_on_every_reply(srv: Server, client: httpx.Client) -> None:
    for r in (
        client.get(f"{API}/health", headers=srv.h("viewer")),
        client.get(f"{API}/health"),
        client.get(f"{API}/nope", headers=srv.h("viewer")),
        client.get(f"{API}/reads", params={"limit": 0}, headers=srv.h("viewer")),
    ):
        _has_api_headers(r)
        assert "strict-transport-security" not in r.headers  # plain HTTP: HSTS would be meaningless
    page = client.get("/")
    assert page.status_code == 200 and "img-src 'self' blob:" in page.headers["content-security-policy"]


def test_hsts_under_tls(store: Store, pki: Any) -> None:
    for s in _serve(store, LIMITS, ssl_certfile=str(pki.server_cert), ssl_keyfile=str(pki.server_key)):
        ctx = ssl.create_default_context(cafile=str(pki.ca))
        with httpx.Client(base_url=s.url, verify=ctx, timeout=10) as c:
            r = c.get(f"{API}/health", headers=s.h("viewer"))
            _has_api_headers(r)
            assert r.headers["strict-transport-security"].startswith("max-age=")


# --------------------------------------------------------------------------------------- scope
def test_stats_respect_camera_scoped_tokens(srv: Server, client: httpx.Client) -> None:
    srv.store.ingest(
        [
            Ingest(PlateEvent.create(camera=c, plate=p, confidence=0.9, box=(0, 0, 1, 1)))
            for c, p in [("gate", "AB1"), ("exit", "CD2"), ("exit", "EF3")]
        ]
    )
    srv.store.add_watch("ZZ1")
    srv.store.add_watch("ZZ2", cameras=["exit"])
    srv.store.add_watch("ZZ3", cameras=["gate"])
    full = client.get(f"{API}/stats", headers=srv.h("viewer")).json()
    assert full["reads"] == 3 and full["watchlist"] == 3 and "outbox_pending" in full
    mine = client.get(f"{API}/stats", headers=srv.h("gate_viewer")).json()
    assert mine["reads"] == 1 and mine["cameras"] == 1
    assert mine["watchlist"] == 1
    assert "outbox_pending" not in mine
    charts = client.get(f"{API}/stats/charts", headers=srv.h("gate_viewer")).json()["totals"]
    assert charts["reads"] == 1 and charts["watchlist"] == 1
    assert client.get(f"{API}/stats/charts", headers=srv.h("viewer")).json()["totals"]["watchlist"] == 3


# --------------------------------------------------------------------------------------- TLS options
def test_tls_key_without_cert_is_a_config_error(tmp_path: Path, pki: Any, keyring: Keyring) -> None:
    with pytest.raises(ConfigError, match="tls_key needs tls_cert"):
        load_config(overrides={"tls_key": str(pki.server_key)})
    with pytest.raises(ConfigError, match="tls_cert needs tls_key"):
        load_config(overrides={"tls_cert": str(pki.server_cert)})
    # A path that does not load is reported when the bridge starts, not as a traceback in uvicorn.
    cfg = BridgeConfig(
        db=f"sqlite:///{tmp_path / 'a.db'}", tls_cert=tmp_path / "nope.pem", tls_key=pki.server_key
    )
    with pytest.raises(ConfigError, match="tls: cannot load"):
        Bridge(cfg, keyring)


def test_serve_cli_reports_a_lone_tls_key(tmp_path: Path, key_file: Path, pki: Any) -> None:
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "alpr",
            "serve",
            "--db",
            f"sqlite:///{tmp_path / 'a.db'}",
            "--key-file",
            str(key_file),
            "--tls-key",
            str(pki.server_key),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2, r.stderr
    assert "tls_key needs tls_cert" in r.stderr and "Traceback" not in r.stderr


def test_serve_logs_info_lines(tmp_path: Path, key_file: Path) -> None:
    port = free_port()
    cmd = [sys.executable, "-m", "alpr", "serve", "--db", f"sqlite:///{tmp_path / 'a.db'}"]
    cmd += ["--key-file", str(key_file), "--http", f"127.0.0.1:{port}"]
    with subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True) as p:
        seen: list[str] = []
        try:
            assert p.stderr is not None
            # Other lines (warnings of the environment) may come first: look at the first 50.
            for line in iter(p.stderr.readline, ""):
                seen.append(line)
                if (" INFO alpr.bridge: " in line and f"127.0.0.1:{port}" in line) or len(seen) >= 50:
                    break
            assert any(" INFO alpr.bridge: " in ln and f"127.0.0.1:{port}" in ln for ln in seen), seen
        finally:
            p.send_signal(signal.SIGINT)
            try:
                p.communicate(timeout=30)  # drains stderr, so the server is never blocked writing it
            except subprocess.TimeoutExpired:
                p.kill()
                p.communicate()


# --------------------------------------------------------------------------------------- reason at rest
def test_watchlist_and_alert_reasons_are_encrypted_at_rest(tmp_path: Path, keyring: Keyring) -> None:
    db = tmp_path / "r.db"
    store = Store(f"sqlite:///{db}", keyring)
    wid = store.add_watch("AB123", reason="stolen XYZZYQ")
    store.ingest(
        [Ingest(PlateEvent.create(camera="gate", plate="AB123", confidence=0.9, box=(0, 0, 1, 1)))],
        store.watchlist(),
    )
    assert store.get_watch(wid).reason == "stolen XYZZYQ"  # type: ignore[union-attr]
    (alert,), _ = store.query_alerts()
    assert alert["reason"] == "stolen XYZZYQ"
    store.checkpoint()
    store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("r.db*"))
    assert b"XYZZYQ" not in raw


def test_reasons_from_before_0002_are_sealed_on_open(tmp_path: Path, keyring: Keyring) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    store = Store(url, keyring)
    wid = store.add_watch("AB123", reason="x")
    with store.engine.begin() as conn:  # a row as revision 0001 wrote it
        conn.execute(S.watchlist.update().values(reason="legacy PLUGH", reason_ct=None))
    store.close()
    store = Store(url, keyring)
    assert store.get_watch(wid).reason == "legacy PLUGH"  # type: ignore[union-attr]
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(S.watchlist.c.reason)).scalar() == ""
    store.close()
