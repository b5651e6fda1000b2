"""reads partitioned by month on a real PostgreSQL (migration 0007); SQLite keeps one table."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from alpr.bridge.config import Retention
from alpr.bridge.crypto import Keyring
from alpr.bridge.retention import enforce
from alpr.bridge.store import Ingest, Store
from alpr.bridge.store.partitions import AHEAD_MONTHS, is_partition, month_bounds, month_index
from alpr.stream.events import PlateEvent

NOW = int(time.time() * 1000)


def read(plate: str, when: datetime, camera: str = "gate") -> PlateEvent:
    return PlateEvent.create(camera=camera, plate=plate, confidence=0.9, box=(1, 1, 20, 8), ts=when)


def months_from_now(n: int, day: int = 15) -> datetime:
    _name, lo, _hi = month_bounds(month_index(NOW) + n)
    return datetime.fromtimestamp(lo / 1000, tz=timezone.utc) + timedelta(days=day - 1, hours=12)


def where(store: Store) -> dict[str, str]:
    """event_id -> the partition its row is stored in."""
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT event_id, tableoid::regclass::text FROM reads").all()
    return {r[0]: r[1] for r in rows}


def alembic(store: Store, action: str, rev: str) -> None:
    from alembic import command
    from alembic.config import Config

    from alpr.bridge import schema as S

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(S.__file__).parent / "migrations"))
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, action)(cfg, rev)


def test_sqlite_keeps_one_table(store: Store) -> None:
    assert store.read_partitions() == [] and store.ensure_read_partitions() == []
    store.ingest([Ingest(read("AB123", months_from_now(0)))])
    assert store.stats()["reads"] == 1


@pytest.mark.services
def test_reads_go_to_their_month_and_queries_prune(postgres: Any, keyring: Keyring) -> None:
    store = Store(postgres.new_database(), keyring)
    try:
        with store.engine.connect() as conn:
            kind = conn.exec_driver_sql("SELECT relkind FROM pg_class WHERE relname = 'reads'").scalar()
        assert kind == "p"  # a partitioned table
        months = [month_bounds(month_index(NOW) + k)[0] for k in range(-1, AHEAD_MONTHS + 1)]
        assert store.read_partitions() == sorted([*months, "reads_default"])
        assert all(is_partition(p) for p in store.read_partitions()) and not is_partition("reads")

        this, last = read("AB123", months_from_now(0)), read("CD456", months_from_now(-1))
        far = read("EF789", months_from_now(AHEAD_MONTHS + 6))  # a camera with a wrong clock
        assert store.ingest([Ingest(e) for e in (this, last, far)]).stored == 3
        want = {this.event_id: months[1], last.event_id: months[0], far.event_id: "reads_default"}
        assert where(store) == want
        assert store.ingest([Ingest(this)]).duplicates == 1  # de-duplication still holds
        with pytest.raises(sa.exc.IntegrityError), store.engine.begin() as conn:  # ... and is a constraint
            conn.exec_driver_sql(
                "INSERT INTO reads (event_id, camera, ts, ts_ms, plate_ct, plate_bidx, key_id, confidence, "
                "extra, has_crop, created_ms) SELECT event_id, camera, ts, ts_ms, plate_ct, plate_bidx, "
                "key_id, confidence, extra, has_crop, created_ms FROM reads WHERE event_id = %s",
                (this.event_id,),
            )

        # A range query on ts_ms reads one month's partition only.
        _n, lo, hi = month_bounds(month_index(NOW))
        with store.engine.connect() as conn:
            q = f"EXPLAIN SELECT * FROM reads WHERE ts_ms >= {lo} AND ts_ms < {hi}"
            plan = "\n".join(conn.exec_driver_sql(q).scalars())
        assert months[1] in plan and months[0] not in plan and "reads_default" not in plan

        # Time moves on: the leader's retention pass makes the coming months, and the far read moves out
        # of the default partition into its own month; the API still finds it.
        later = int(months_from_now(AHEAD_MONTHS + 5).timestamp() * 1000)
        enforce(store, Retention(reads_days=0, crops_days=0, alerts_days=0, audit_days=0), now_ms=later)
        far_month = month_bounds(month_index(NOW) + AHEAD_MONTHS + 6)[0]
        assert far_month in store.read_partitions()
        assert where(store)[far.event_id] == far_month
        page, _ = store.query_reads(plate="EF789")
        assert [r["event_id"] for r in page] == [far.event_id]
        assert store.ensure_read_partitions(now_ms=later) == []  # nothing left to do
    finally:
        store.close()


@pytest.mark.services
def test_migration_converts_a_populated_table_and_back(postgres: Any, keyring: Keyring) -> None:
    store = Store(postgres.new_database(), keyring, migrate=False)
    try:
        alembic(store, "upgrade", "0006")
        old = [read(f"OLD{i:02d}", months_from_now(-k)) for i, k in enumerate([0, 2, 7, 7, 50])]
        store.ingest([Ingest(e) for e in old])  # 50 months back: older than BACK_MONTHS
        with store.engine.connect() as conn:
            ids_before = dict(conn.exec_driver_sql("SELECT event_id, id FROM reads").all())
        assert store.read_partitions() == []

        store.migrate()  # 0006 -> head
        parts = store.read_partitions()
        assert month_bounds(month_index(NOW) - 7)[0] in parts  # reaches back to the oldest read ...
        assert month_bounds(month_index(NOW) - 50)[0] not in parts  # ... within BACK_MONTHS
        placed = where(store)
        assert placed[old[2].event_id] == placed[old[3].event_id] == month_bounds(month_index(NOW) - 7)[0]
        assert placed[old[4].event_id] == "reads_default"
        with store.engine.connect() as conn:
            assert dict(conn.exec_driver_sql("SELECT event_id, id FROM reads").all()) == ids_before
        new = read("NEW01", months_from_now(0))
        store.ingest([Ingest(new)])  # the id sequence carried over
        with store.engine.connect() as conn:
            new_id = conn.exec_driver_sql(f"SELECT id FROM reads WHERE event_id = '{new.event_id}'").scalar()
        assert new_id > max(ids_before.values())
        assert sorted(r["plate"] for r in store.query_reads(limit=100)[0]) == sorted(
            [e.plate for e in old] + ["NEW01"]
        )

        alembic(store, "downgrade", "0006")  # and back to one table, rows and ids intact
        assert store.read_partitions() == []
        with store.engine.connect() as conn:
            assert dict(conn.exec_driver_sql("SELECT event_id, id FROM reads").all()) == {
                **ids_before,
                new.event_id: new_id,
            }
            kind = conn.exec_driver_sql("SELECT relkind FROM pg_class WHERE relname = 'reads'").scalar()
        assert kind == "r"
        assert store.ingest([Ingest(new)]).duplicates == 1  # UNIQUE (event_id) again
    finally:
        store.close()
