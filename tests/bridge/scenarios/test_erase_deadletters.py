"""Erasure reaches the audit log and the dead letters; a webhook payload the endpoint keeps refusing
moves to the dead letters (visible, retried and dropped through the API) instead of blocking its sink."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import sqlalchemy as sa

from alpr.bridge import schema as S
from alpr.bridge.api import create_app
from alpr.bridge.crypto import Keyring
from alpr.bridge.store import Ingest, Sink, Store
from alpr.bridge.webhooks import WebhookSink
from alpr.stream.events import PlateEvent
from netutil import serve_app as serving

API = "/api/v1"


def ev(plate: str) -> PlateEvent:
    return PlateEvent.create(camera="gate", plate=plate, confidence=0.9, box=(0, 0, 1, 1))


def test_erase_redacts_the_audit_log_and_leaves_no_old_detail_on_disk(
    tmp_path: Path, keyring: Keyring
) -> None:
    db = tmp_path / "a.db"
    store = Store(f"sqlite:///{db}", keyring)
    store.ingest([Ingest(ev("GONE1")), Ingest(ev("KEEP1"))])
    admin = store.create_token("admin")
    with serving(create_app(store)) as client:
        _erase_via_api(client, store, keyring, {"Authorization": f"Bearer {admin}"})
    store.close()


def _erase_via_api(client: httpx.Client, store: Store, keyring: Keyring, h: dict[str, str]) -> None:
    assert client.get(f"{API}/reads", params={"plate": "GONE1"}, headers=h).json()["items"]
    assert client.get(f"{API}/reads", params={"plate": "KEEP1"}, headers=h).status_code == 200
    assert client.post(f"{API}/privacy/export", json={"plate": "gone 1"}, headers=h).status_code == 200
    with store.engine.connect() as conn:
        old = list(
            conn.execute(sa.select(S.audit.c.detail_ct).where(S.audit.c.plate_bidx.is_not(None))).scalars()
        )
    assert len(old) == 3
    out = client.post(f"{API}/privacy/erase", json={"plate": "GONE1"}, headers=h).json()
    assert out["reads"] == 1 and out["audit_redacted"] == 2  # the search and the export
    log = client.get(f"{API}/audit", headers=h).json()["items"]
    details = [e["detail"] for e in log]
    assert "GONE1" not in orjson.dumps(details).decode().replace(" ", "").upper()
    by_action = {e["action"]: e["detail"] for e in log}
    assert by_action["privacy.export"]["plate"] == "[erased]"
    assert by_action["privacy.erase"] == {"plate_ref": keyring.blind_index("GONE1")[:16]}
    assert any(d.get("plate") == "KEEP1" for d in details)  # other plates' rows are untouched
    store.checkpoint()
    raw = b"".join(p.read_bytes() for p in Path(store.engine.url.database or "").parent.glob("a.db*"))
    assert sum(blob in raw for blob in old) == 1  # only KEEP1's search row is left


class Endpoint:
    """A webhook receiver that answers 400 to any payload naming ``refuse`` (a plate)."""

    def __init__(self) -> None:
        self.refuse = "BAD1"
        self.got: list[dict[str, Any]] = []
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = orjson.loads(self.rfile.read(int(self.headers["Content-Length"])))
                ok = body.get("plate") != outer.refuse
                if ok:
                    outer.got.append(body)
                self.send_response(200 if ok else 400)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_a: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    e = Endpoint()
    yield e
    e.server.shutdown()
    e.server.server_close()


def _wait(pred: Any, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not pred():
        time.sleep(0.02)
    return bool(pred())


def test_a_refused_payload_is_dead_lettered_and_the_rest_goes_out(store: Store, endpoint: Endpoint) -> None:
    sink = WebhookSink(
        store, endpoint.url, sink="webhook:t", max_attempts=3, backoff_min_s=0.01, backoff_max_s=0.02
    )
    store.ingest([Ingest(ev(p)) for p in ["BAD1", "OK1", "OK2", "OK3"]], sinks=[Sink("webhook:t")])
    sink.start()
    try:
        assert _wait(lambda: len(endpoint.got) == 3 and store.outbox_pending() == {}), endpoint.got
        assert [b["plate"] for b in endpoint.got] == ["OK1", "OK2", "OK3"]
        assert store.outbox_pending() == {} and sink.dead_lettered == 1 and sink.failures == 3
        admin, viewer = store.create_token("admin"), store.create_token("viewer")
        with serving(create_app(store)) as client:
            _dead_letters_via_api(client, endpoint, store, admin, viewer)
    finally:
        sink.stop()


def _dead_letters_via_api(
    client: httpx.Client, endpoint: Endpoint, store: Store, admin: str, viewer: str
) -> None:
    h = {"Authorization": f"Bearer {admin}"}
    assert client.get(f"{API}/dead-letters", headers={"Authorization": f"Bearer {viewer}"}).status_code == 403
    page = client.get(f"{API}/dead-letters", headers=h).json()
    (letter,) = page["items"]
    assert page["counts"] == {"webhook:t": 1}
    assert letter["attempts"] == 3 and letter["error"] == "HTTP 400" and letter["payload"]["plate"] == "BAD1"
    assert client.get(f"{API}/health", headers=h).json()["dead_letters"] == {"webhook:t": 1}
    # The endpoint is fixed: a retry puts the row back and it is delivered.
    endpoint.refuse = ""
    assert client.post(f"{API}/dead-letters/{letter['id']}/retry", headers=h).status_code == 204
    assert _wait(lambda: len(endpoint.got) == 4)
    assert endpoint.got[-1]["plate"] == "BAD1" and store.dead_letter_counts() == {}
    assert client.post(f"{API}/dead-letters/{letter['id']}/retry", headers=h).status_code == 404
    assert client.delete(f"{API}/dead-letters/{letter['id']}", headers=h).status_code == 404
    assert client.delete(f"{API}/dead-letters/0", headers=h).status_code == 422


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.services)])
def any_store(request: pytest.FixtureRequest, sqlite_url: str, keyring: Keyring) -> Iterator[Store]:
    url = sqlite_url if request.param == "sqlite" else request.getfixturevalue("postgres").new_database()
    s = Store(url, keyring)
    yield s
    s.close()


def test_dead_letters_are_erased_rotated_and_dropped(any_store: Store) -> None:
    store = any_store
    store.ingest([Ingest(ev(p)) for p in ["GONE2", "KEEP2"]], sinks=[Sink("webhook:t")])
    for row in store.outbox_fetch("webhook:t"):
        assert store.outbox_dead_letter(row.id, "HTTP 410")
    assert store.outbox_dead_letter(10**9, "x") is False
    assert store.dead_letter_counts() == {"webhook:t": 2}
    n = store.rotate(store.keyring.with_new_key())
    assert n >= 2 and {d["payload"]["plate"] for d in store.dead_letters()} == {"GONE2", "KEEP2"}
    assert store.erase_plate("GONE2")["outbox"] == 1
    (left,) = store.dead_letters()
    assert left["payload"]["plate"] == "KEEP2"
    assert store.dead_letter_delete(left["id"]) and store.dead_letters() == []


def test_store_files_are_private_whatever_the_umask(tmp_path: Path, keyring: Keyring) -> None:
    import os
    import stat

    old = os.umask(0o022)
    try:
        legacy = tmp_path / "legacy.db"
        legacy.touch(mode=0o644)  # a store created by an older version
        for db in (tmp_path / "new.db", legacy):
            s = Store(f"sqlite:///{db}", keyring)
            s.ingest([Ingest(ev("AB123"))])
            files = sorted(tmp_path.glob(f"{db.name}*"))
            assert {f.name for f in files} >= {db.name, f"{db.name}-wal", f"{db.name}-shm"}
            assert {f.name: stat.S_IMODE(f.stat().st_mode) for f in files} == {f.name: 0o600 for f in files}
            s.close()
    finally:
        os.umask(old)


def test_dead_letters_follow_the_reads_retention(store: Store) -> None:
    from alpr.bridge.config import Retention
    from alpr.bridge.retention import enforce

    store.ingest([Ingest(ev("OLD3"))], sinks=[Sink("webhook:t")])
    (row,) = store.outbox_fetch("webhook:t")
    assert store.outbox_dead_letter(row.id, "HTTP 500")
    day = 86_400_000
    later = int(time.time() * 1000) + 2 * day
    assert enforce(store, Retention(reads_days=3), now_ms=later)["dead_letters"] == 0
    assert enforce(store, Retention(reads_days=1), now_ms=later)["dead_letters"] == 1
    assert store.dead_letters() == []
