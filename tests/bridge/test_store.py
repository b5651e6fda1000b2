from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from alpr.bridge import schema as S
from alpr.bridge.crypto import Keyring
from alpr.bridge.store import Ingest, Sink, Store, iso_ms, parse_ts_ms
from alpr.errors import ConfigError, StoreError
from alpr.stream.events import PlateEvent

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)
JPEG = b"\xff\xd8\xff\xe0CROPDATA-SECRET\xff\xd9"


def ev(plate: str, camera: str = "gate", minutes: float = 0) -> PlateEvent:
    ts = T0 + timedelta(minutes=minutes)
    return PlateEvent.create(camera=camera, plate=plate, confidence=0.9, box=(1, 2, 30, 12), ts=ts)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.services)])
def any_store(request: pytest.FixtureRequest, sqlite_url: str, keyring: Keyring) -> Iterator[Store]:
    if request.param == "sqlite":
        url = sqlite_url
    else:
        pg = request.getfixturevalue("postgres")
        url = pg.new_database()
    s = Store(url, keyring)
    yield s
    s.close()


def test_migrations_create_exactly_the_schema(any_store: Store) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from alpr.bridge.store.partitions import is_partition

    def not_a_partition(obj: Any, name: str | None, kind: str, _r: bool, _c: Any) -> bool:
        table = obj.table.name if kind == "index" else name
        return not (table and is_partition(table))

    opts = {"include_object": not_a_partition}
    with any_store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts=opts), S.metadata)
        version = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    # PostgreSQL partitions reads by ts_ms (migration 0007), and a partitioned table's unique keys must
    # hold the partition key: UNIQUE (event_id, ts_ms) there instead of the metadata's UNIQUE (event_id).
    expected = (
        []
        if any_store.is_sqlite
        else [("remove_constraint", ("event_id", "ts_ms")), ("add_constraint", ("event_id",))]
    )
    assert [(d[0], tuple(c.name for c in d[1].columns)) for d in diff] == expected, diff
    assert all(d[1].table.name == "reads" for d in diff)
    from pathlib import Path

    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(S.__file__).parent / "migrations"))
    heads = ScriptDirectory.from_config(cfg).get_heads()
    assert len(heads) == 1 and version == heads[0]  # one linear chain, applied to its head
    any_store.migrate()  # idempotent


@pytest.mark.services
def test_bridges_starting_together_on_a_new_postgres_database_both_migrate(
    postgres: Any, keyring: Keyring
) -> None:
    """A fleet's bridges start at once on an empty database: all of them come up (the migration is
    serialised by an advisory lock; before, the second insert into alembic_version failed)."""
    import threading

    def up(url: str, start: threading.Barrier, stores: list[Store], errors: list[BaseException]) -> None:
        start.wait()
        try:
            stores.append(Store(url, keyring))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    for _ in range(3):
        url, start = postgres.new_database(), threading.Barrier(4)
        stores: list[Store] = []
        errors: list[BaseException] = []
        threads = [threading.Thread(target=up, args=(url, start, stores, errors)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        for st in stores:
            st.close()
        assert errors == [] and len(stores) == 4


def test_ingest_is_idempotent_and_atomic(any_store: Store) -> None:
    events = [ev(f"AB{i:03d}", minutes=i) for i in range(20)]
    items = [Ingest(e, JPEG if i % 2 else None, "pub-a", i + 1) for i, e in enumerate(events)]
    r = any_store.ingest(items[:12], sinks=[Sink("mqtt")])
    assert (r.stored, r.duplicates) == (12, 0)
    r = any_store.ingest(items, sinks=[Sink("mqtt")])  # a replay overlapping what is stored
    assert (r.stored, r.duplicates) == (8, 12)
    assert any_store.cursors() == {"pub-a": 20}
    assert any_store.outbox_pending() == {"mqtt": 20}
    page, nxt = any_store.query_reads(limit=100)
    assert len(page) == 20 and nxt is None
    assert page[0]["plate"] == "AB019" and page[0]["ts"] == events[19].ts
    assert page[0]["has_crop"] and any_store.get_crop(events[19].event_id) == JPEG
    assert not page[1]["has_crop"] and any_store.get_crop(events[18].event_id) is None


def test_queries(any_store: Store) -> None:
    plates = ["AB123", "AB123", "A8123", "XY999", "AB128", "ZZ000"]
    cams = ["gate", "exit", "gate", "gate", "exit", "gate"]
    events = [ev(p, c, minutes=i) for i, (p, c) in enumerate(zip(plates, cams, strict=True))]
    any_store.ingest([Ingest(e) for e in events])
    exact, _ = any_store.query_reads(plate="ab 123")
    assert [r["event_id"] for r in exact] == [events[1].event_id, events[0].event_id]
    assert any_store.query_reads(plate="AB123", camera="gate")[0][0]["event_id"] == events[0].event_id
    assert any_store.query_reads(plate="AB123", cameras=["exit"])[0][0]["camera"] == "exit"
    fuzzy, _ = any_store.query_reads(plate="AB123", fuzzy=True, max_distance=1.0)
    assert {r["plate"] for r in fuzzy} == {"AB123", "A8123", "AB128"}
    assert {r["plate"]: r["distance"] for r in fuzzy}["A8123"] == pytest.approx(0.25)
    tight, _ = any_store.query_reads(plate="AB123", fuzzy=True, max_distance=0.3)
    assert {r["plate"] for r in tight} == {"AB123", "A8123"}
    # Time range: [since, until)
    since, until = parse_ts_ms(events[1].ts), parse_ts_ms(events[3].ts)
    window, _ = any_store.query_reads(since_ms=since, until_ms=until)
    assert [r["plate"] for r in window] == ["A8123", "AB123"]
    # Keyset pagination walks every row exactly once, newest first.
    seen: list[str] = []
    cursor = None
    while True:
        page, cursor = any_store.query_reads(limit=4, before_id=cursor)
        seen += [r["event_id"] for r in page]
        if cursor is None:
            break
    assert seen == [e.event_id for e in reversed(events)]
    # Fuzzy search pages too, with a bounded scan per call.
    first, cur = any_store.query_reads(plate="AB123", fuzzy=True, limit=2)
    rest, _ = any_store.query_reads(plate="AB123", fuzzy=True, limit=10, before_id=cur)
    assert len(first) == 2 and {r["plate"] for r in first + rest} == {"AB123", "A8123", "AB128"}
    bounded, cur = any_store.query_reads(plate="XY999", fuzzy=True, max_distance=0, scan_limit=2)
    assert bounded == [] and cur is not None  # not within the 2 newest rows: resume from cur
    found, cur = any_store.query_reads(plate="XY999", fuzzy=True, max_distance=0, before_id=cur)
    assert [r["event_id"] for r in found] == [events[3].event_id] and cur is None
    cams_out = {c["camera"]: c["reads"] for c in any_store.cameras()}
    assert cams_out == {"gate": 4, "exit": 2}
    assert any_store.cameras(["exit"])[0]["camera"] == "exit"
    st = any_store.stats()
    assert st["reads"] == 6 and st["cameras"] == 2


def test_watchlist_alerts_and_outbox(any_store: Store) -> None:
    w1 = any_store.add_watch("AB-123", kind="exact", reason="stolen")
    w2 = any_store.add_watch("X*9", kind="wildcard", reason="fleet")
    any_store.add_watch("Q0Q0", kind="fuzzy", reason="vip", max_distance=0.6)
    with pytest.raises(ConfigError, match="kind"):
        any_store.add_watch("A", kind="regex")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="letters or digits"):
        any_store.add_watch("**", kind="wildcard")
    sinks = [Sink("mqtt"), Sink("hook", plates=False)]
    events = [ev("AB123"), ev("XY9"), ev("QOQ0"), ev("NOPE1")]
    r = any_store.ingest([Ingest(e) for e in events], any_store.watchlist(), sinks)
    assert r.alerts == 3
    alerts, _ = any_store.query_alerts()
    assert {(a["plate"], a["watchlist_id"], a["match"]) for a in alerts} == {
        ("AB123", w1, "exact"),
        ("XY9", w2, "wildcard"),
        ("QOQ0", w1 + 2, "fuzzy"),
    }
    hook = any_store.outbox_fetch("hook")
    assert [h.topic for h in hook] == ["alpr/gate/alert"] * 3
    mq = any_store.outbox_fetch("mqtt")
    assert len(mq) == 7 and sum(h.topic.endswith("/plate") for h in mq) == 4
    assert any_store.outbox_delete([h.id for h in hook]) == 3
    assert any_store.outbox_pending() == {"mqtt": 7}
    assert any_store.update_watch(w1, "ZZ1", kind="exact", reason="changed")
    assert any_store.get_watch(w1) is not None and any_store.get_watch(w1).pattern == "ZZ1"  # type: ignore[union-attr]
    assert any_store.delete_watch(w2) and not any_store.delete_watch(w2)
    assert [e.id for e in any_store.list_watch()] == [w1, w1 + 2]


def test_tokens_are_stored_hashed(any_store: Store) -> None:
    tok = any_store.create_token("operator", cameras=["gate"], name="ops")
    info = any_store.verify_token(tok)
    assert info is not None and info.role == "operator" and info.cameras == ("gate",)
    assert info.allows("viewer") and info.allows("operator") and not info.allows("admin")
    assert info.sees("gate") and not info.sees("exit")
    assert any_store.verify_token(tok + "x") is None
    with any_store.engine.connect() as conn:
        stored = conn.execute(sa.select(S.tokens.c.token_hash)).scalars().all()
    assert tok not in stored and len(stored[0]) == 64
    assert any_store.revoke_token(info.id)
    assert any_store.verify_token(tok) is None
    with pytest.raises(ConfigError, match="role"):
        any_store.create_token("root")


def test_erase_export_retention_audit(any_store: Store) -> None:
    any_store.add_watch("AB123", reason="stolen")
    events = [ev("AB123", minutes=0), ev("AB123", minutes=1), ev("CD456", minutes=2)]
    any_store.ingest([Ingest(e, JPEG) for e in events], any_store.watchlist(), [Sink("mqtt")])
    out = any_store.export_plate("ab123")
    assert [r["event_id"] for r in out["reads"]] == [events[0].event_id, events[1].event_id]
    assert base64.b64decode(out["reads"][0]["crop_jpeg_base64"]) == JPEG
    assert len(out["alerts"]) == 2
    counts = any_store.erase_plate("AB 123")
    assert counts == {"reads": 2, "crops": 2, "alerts": 2, "outbox": 4, "audit_redacted": 0} | {
        "sessions": 0, "anomalies": 0, "journeys": 0, "permits": 0,
    }  # fmt: skip
    assert any_store.query_reads(plate="AB123")[0] == []
    assert [r["plate"] for r in any_store.query_reads()[0]] == ["CD456"]
    any_store.audit(None, "reads.search", {"plate": "CD456"}, 1)
    assert any_store.audit_log()[0]["detail"] == {"plate": "CD456"}

    # Retention, each kind on its own clock (relative to capture time).
    now = parse_ts_ms(events[2].ts)
    day = 86_400_000
    old = [ev("OLD1", minutes=-3 * 24 * 60), ev("OLD2", minutes=-10 * 24 * 60)]
    any_store.add_watch("OLD2", reason="x")
    any_store.ingest([Ingest(e, JPEG) for e in old], any_store.watchlist())
    n = any_store.enforce_retention(reads_days=7, crops_days=1, alerts_days=30, audit_days=0, now=now)
    assert n == {"reads": 1, "crops": 2, "alerts": 0, "audit": 0}  # OLD2 read; OLD1 + OLD2 crops
    plates = {r["plate"]: r["has_crop"] for r in any_store.query_reads()[0]}
    assert plates == {"CD456": True, "OLD1": False}
    assert len(any_store.query_alerts()[0]) == 1  # the alert outlives its read (30 days)
    n = any_store.enforce_retention(reads_days=0, crops_days=0, alerts_days=5, now=now + day)
    assert n["alerts"] == 1 and n["reads"] == 0


def test_rotation_reencrypts_every_table(any_store: Store, tmp_path: Path) -> None:
    any_store.add_watch("AB123", reason="stolen")
    any_store.ingest([Ingest(ev("AB123"), JPEG)], any_store.watchlist(), [Sink("mqtt")])
    any_store.audit(None, "reads.search", {"plate": "AB123"}, 1)
    ring2 = any_store.keyring.with_new_key()
    n = any_store.rotate(ring2)
    assert n == 7  # read, crop, alert, 2 outbox rows, watchlist entry, audit row (sessions: test_parking)
    tables = [S.reads, S.crops, S.alerts, S.outbox, S.watchlist, S.audit]
    with any_store.engine.connect() as conn:
        for t in tables:
            assert set(conn.execute(sa.select(t.c.key_id)).scalars()) == {"k2"}, t.name
    assert any_store.rotate() == 0
    # The old key can now be dropped: everything still decrypts with k2 alone.
    only_k2 = Keyring(keys={"k2": ring2.keys["k2"]}, active="k2", index_key=ring2.index_key)
    s2 = Store(any_store.url, only_k2)
    try:
        assert s2.query_reads(plate="AB123")[0][0]["plate"] == "AB123"
        assert s2.get_crop(s2.query_reads()[0][0]["event_id"]) == JPEG
        assert s2.query_alerts()[0][0]["plate"] == "AB123"
        assert len(s2.outbox_fetch("mqtt")) == 2
        assert s2.list_watch()[0].pattern == "AB123"
        assert s2.audit_log()[0]["detail"]["plate"] == "AB123"
    finally:
        s2.close()


def test_sqlite_files_hold_no_plaintext(tmp_path: Path, keyring: Keyring) -> None:
    db = tmp_path / "priv.db"
    s = Store(f"sqlite:///{db}", keyring)
    plates = [f"PLT{i:04d}Q" for i in range(300)]
    events = [ev(p, minutes=i) for i, p in enumerate(plates)]
    s.add_watch("PLT0007Q", reason="stolen")
    s.add_watch("PLT00*", kind="wildcard", reason="fleet")
    s.ingest([Ingest(e, JPEG) for e in events], s.watchlist(), [Sink("mqtt"), Sink("hook")])
    s.audit(None, "reads.search", {"plate": "PLT0001Q"}, 1)
    files = [p for p in tmp_path.iterdir() if p.name.startswith("priv.db")]
    assert {p.name for p in files} >= {"priv.db", "priv.db-wal"}  # the WAL is live and read too
    blob = b"".join(p.read_bytes() for p in files)
    assert events[5].event_id.encode() in blob  # we are reading the rows we wrote ...
    for p in plates:  # ... and not one plate is in clear, in any encoding SQLite might use
        assert p.encode() not in blob and p.encode("utf-16-le") not in blob, p
    assert b"CROPDATA-SECRET" not in blob
    assert b"PLT00" not in blob
    s.close()


def test_bad_urls_and_timestamps(tmp_path: Path, keyring: Keyring) -> None:
    with pytest.raises(ConfigError, match="expected sqlite"):
        Store("mysql://x", keyring)
    with pytest.raises(StoreError, match="ISO 8601"):
        parse_ts_ms("yesterday")
    assert iso_ms(parse_ts_ms("2026-01-01T12:00:00.123Z")) == "2026-01-01T12:00:00.123Z"
    assert parse_ts_ms("2026-01-01T13:00:00+01:00") == parse_ts_ms("2026-01-01T12:00:00Z")


def test_erased_ciphertext_leaves_the_files(tmp_path: Path, keyring: Keyring) -> None:
    db = tmp_path / "erase.db"
    s = Store(f"sqlite:///{db}", keyring)
    events = [ev("GONE1", minutes=i) for i in range(3)] + [ev("KEEP1", minutes=9)]
    s.ingest([Ingest(e, JPEG) for e in events])
    with s.engine.connect() as conn:
        blobs = list(conn.execute(sa.select(S.reads.c.plate_ct).where(S.reads.c.camera == "gate")).scalars())
        crop_blobs = list(conn.execute(sa.select(S.crops.c.data_ct)).scalars())
    s.checkpoint()

    def on_disk() -> bytes:
        return b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("erase.db"))

    assert all(b in on_disk() for b in blobs + crop_blobs)
    assert s.erase_plate("GONE1")["reads"] == 3
    data = on_disk()
    assert sum(b in data for b in blobs) == 1  # only KEEP1's ciphertext is left
    assert sum(b in data for b in crop_blobs) == 1
    s.close()


def test_non_ascii_plates_keep_their_own_index(any_store: Store) -> None:
    events = [ev("ÄÖÜ123"), ev("123", minutes=1), ev("皖AD5599", minutes=2)]
    any_store.ingest([Ingest(e) for e in events], any_store.watchlist())
    assert [r["plate"] for r in any_store.export_plate("123")["reads"]] == ["123"]  # was also ÄÖÜ123
    assert [r["plate"] for r in any_store.query_reads(plate="ÄÖÜ 123")[0]] == ["ÄÖÜ123"]
    assert any_store.erase_plate("皖AD5599")["reads"] == 1
    assert sorted(r["plate"] for r in any_store.query_reads()[0]) == ["123", "ÄÖÜ123"]
