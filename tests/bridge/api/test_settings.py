"""Retention days edited through ``/api/v1/settings/retention`` (admin only, validated, audited) and
the retention pass honouring them over the config; failed sign-ins shared by bridges on one store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from alpr.bridge.api import create_app
from alpr.bridge.config import Retention
from alpr.bridge.crypto import Keyring
from alpr.bridge.retention import enforce
from alpr.bridge.store import Ingest, Store, parse_ts_ms
from alpr.stream.events import PlateEvent
from netutil import serve_app

T0 = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
URL = "/api/v1/settings/retention"


def ev(plate: str, days: float) -> PlateEvent:
    return PlateEvent.create(
        camera="gate", plate=plate, confidence=0.9, box=(0, 0, 9, 4), ts=T0 - timedelta(days=days)
    )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.services)])
def db_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    if request.param == "sqlite":
        return sqlite_url
    return str(request.getfixturevalue("postgres").new_database())


@pytest.fixture
def two(db_url: str, keyring: Keyring) -> Iterator[tuple[Store, Store]]:
    a, b = Store(db_url, keyring), Store(db_url, keyring)
    yield a, b
    a.close()
    b.close()


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_retention_setting_changes_what_the_pass_deletes(two: tuple[Store, Store]) -> None:
    store = two[0]
    config = Retention(reads_days=30, crops_days=7, alerts_days=365, audit_days=365)
    app = create_app(store)
    app.state.retention = config
    admin, operator = store.create_token("admin"), store.create_token("operator")
    store.ingest([Ingest(ev("OLD10", 10), None), Ingest(ev("NEW2", 2), None)])
    now = parse_ts_ms(T0.isoformat())
    with serve_app(app) as c:
        r = c.get(URL, headers=_auth(admin))
        assert r.status_code == 200
        assert r.json()["reads_days"] == 30 and r.json()["source"]["reads_days"] == "config"
        # Under the config (30 days) both reads stay.
        assert enforce(store, config, now_ms=now)["reads"] == 0
        assert c.get(URL, headers=_auth(operator)).status_code == 403
        assert c.put(URL, headers=_auth(operator), json={"reads_days": 5}).status_code == 403
        for bad in ({"reads_days": -1}, {"reads_days": "x"}, {"nope": 3}, {"audit_days": 1e9}):
            r = c.put(URL, headers=_auth(admin), json=bad)
            assert r.status_code == 422, (bad, r.text)
        r = c.put(URL, headers=_auth(admin), json={"reads_days": 5})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["reads_days"] == 5 and body["source"]["reads_days"] == "stored"
        assert body["crops_days"] == 7 and body["source"]["crops_days"] == "config"
        assert body["config"]["reads_days"] == 30 and body["updated_by"]
    # The stored 5 days override the config's 30: the 10-day-old read goes, the 2-day-old one stays.
    assert enforce(store, config, now_ms=now)["reads"] == 1
    assert [r["plate"] for r in store.query_reads()[0]] == ["NEW2"]
    assert any(a["action"] == "settings.retention" for a in store.audit_log(100))
    # The other bridge on the same store sees the stored value too; null returns to the config.
    other = create_app(two[1])
    with serve_app(other) as c:
        assert c.get(URL, headers=_auth(admin)).json()["reads_days"] == 5
        r = c.put(URL, headers=_auth(admin), json={"reads_days": None})
        assert r.json()["reads_days"] == Retention().reads_days
        assert r.json()["source"]["reads_days"] == "config"


def test_failed_sign_ins_count_across_bridges_on_one_store(two: tuple[Store, Store]) -> None:
    from alpr.bridge.api.session import MAX_FAILURES

    two[0].create_user("ann", "viewer", "correct horse battery")
    wrong = {"username": "ann", "password": "wrong password"}
    with serve_app(create_app(two[0])) as a, serve_app(create_app(two[1])) as b:
        for i in range(MAX_FAILURES):  # alternate bridges: each sees fewer than the limit itself
            r = (a if i % 2 else b).post("/auth/login", json=wrong)
            assert r.status_code == 401, r.text
        for c in (a, b):  # both refuse now, even the right password
            r = c.post("/auth/login", json=wrong | {"password": "correct horse battery"})
            assert r.status_code == 429, r.text
            assert int(r.headers["Retry-After"]) > 0
        # Another user name from the same address is not locked out.
        assert b.post("/auth/login", json={"username": "bob", "password": "x"}).status_code == 401
    assert sum(a["action"] == "auth.login_limited" for a in two[1].audit_log(100)) == 2


def test_token_guess_lockout_is_shared_by_bridges_on_one_store(two: tuple[Store, Store]) -> None:
    from alpr.bridge.api import ApiLimits

    limits = ApiLimits(auth_max_failures=4, auth_window_s=60, auth_lockout_s=120)
    good = two[0].create_token("viewer")
    health = "/api/v1/health"
    with serve_app(create_app(two[0], limits=limits)) as a, serve_app(create_app(two[1], limits=limits)) as b:
        assert a.get(health, headers=_auth(good)).status_code == 200
        for i in range(3):
            assert (a if i % 2 else b).get(health, headers=_auth("alpr_wrong")).status_code == 401
        r = a.get(health, headers=_auth("alpr_wrong"))  # the 4th, counted with b's two
        assert r.status_code == 429
        r = b.get(health, headers=_auth(good))  # locked out on the other bridge too
        assert r.status_code == 429 and 100 < int(r.headers["Retry-After"]) <= 120
