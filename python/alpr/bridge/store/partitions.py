"""PostgreSQL: the ``reads`` table range-partitioned by month of ``ts_ms`` (capture time). SQLite: one table.

Migration 0007 turns ``reads`` into a declaratively partitioned table (``PARTITION BY RANGE (ts_ms)``)
with one partition per calendar month (UTC), ``reads_pYYYYMM``, from the oldest stored read (at most
:data:`BACK_MONTHS` back) to :data:`AHEAD_MONTHS` ahead, plus ``reads_default`` for anything outside
(a camera with a wrong clock). Range queries on ``ts_ms`` (the reads page, retention, exports) then only
touch the months they cover, and indexes stay per month.

Partitioning needs the partition key in every unique constraint, so on PostgreSQL the key is
``(id, ts_ms)`` and the de-duplication constraint ``UNIQUE (event_id, ts_ms)``: an event's capture time
is part of the event, so a replayed event still collides with its stored copy (the ingest also checks
``event_id`` before inserting). ``id`` still comes from one sequence and stays unique.

Months must exist before their reads arrive (moving rows out of the default partition later means a
scan of it): :meth:`PartitionsMixin.ensure_read_partitions` creates the missing ones up to
:data:`AHEAD_MONTHS` ahead when the store opens and on each retention pass (the fleet's leader), and moves
any rows the default partition already holds for a month it creates.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from alpr.bridge.store.base import StoreBase, lock_key

__all__ = [
    "AHEAD_MONTHS",
    "BACK_MONTHS",
    "PartitionsMixin",
    "ensure_month_partitions",
    "is_partition",
    "month_bounds",
    "month_index",
    "read_partitions",
]

AHEAD_MONTHS = 3
"""Months after the current one that always have a partition."""
BACK_MONTHS = 36
"""At most this many months before now get their own partition when a table is converted."""

_NAME = re.compile(r"reads_p\d{6}")
_LOCK = lock_key("partitions:reads")  # serialises partition changes between bridges


def month_index(ms: int) -> int:
    """``year * 12 + month - 1`` of the UTC month holding ``ms``."""
    d = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return d.year * 12 + d.month - 1


def month_bounds(index: int) -> tuple[str, int, int]:
    """``(name, lo_ms, hi_ms)`` of the partition for month ``index`` (``year * 12 + month - 1``)."""
    y, m = divmod(index, 12)
    lo = datetime(y, m + 1, 1, tzinfo=timezone.utc)
    y2, m2 = divmod(index + 1, 12)
    hi = datetime(y2, m2 + 1, 1, tzinfo=timezone.utc)
    return f"reads_p{y:04d}{m + 1:02d}", int(lo.timestamp() * 1000), int(hi.timestamp() * 1000)


def is_partition(table: str) -> bool:
    """True for the name of a partition of ``reads`` (``reads_pYYYYMM``, ``reads_default``)."""
    return table == "reads_default" or bool(_NAME.fullmatch(table))


def read_partitions(conn: Connection) -> list[str]:
    """The partitions of ``reads``, by name (empty when ``reads`` is not partitioned)."""
    q = sa.text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'reads' "
        "AND p.relnamespace = to_regnamespace(current_schema())::oid ORDER BY c.relname"
    )
    return [str(r) for r in conn.execute(q).scalars()]


def ensure_month_partitions(conn: Connection, first_ms: int, last_ms: int) -> list[str]:
    """Create the missing monthly partitions of ``reads`` covering ``first_ms`` .. ``last_ms``.

    Rows the default partition holds for them move in; returns the names created. Runs inside the caller's
    transaction, under a transaction advisory lock.
    """
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK})
    have = set(read_partitions(conn))
    created = []
    for index in range(month_index(first_ms), month_index(last_ms) + 1):
        name, lo, hi = month_bounds(index)
        if name in have:
            continue
        # Built detached, filled from the default partition, then attached: attaching checks that the
        # default partition holds nothing in the new range any more.
        conn.exec_driver_sql(f"CREATE TABLE {name} (LIKE reads INCLUDING DEFAULTS)")
        if "reads_default" in have:
            conn.exec_driver_sql(
                f"WITH moved AS (DELETE FROM reads_default WHERE ts_ms >= {lo} AND ts_ms < {hi} RETURNING *) "
                f"INSERT INTO {name} SELECT * FROM moved"
            )
        conn.exec_driver_sql(f"ALTER TABLE reads ATTACH PARTITION {name} FOR VALUES FROM ({lo}) TO ({hi})")
        created.append(name)
    return created


class PartitionsMixin(StoreBase):
    """Part of :class:`~alpr.bridge.store.Store`."""

    def read_partitions(self) -> list[str]:
        """The partitions of ``reads`` (PostgreSQL; always empty on SQLite)."""
        if self.is_sqlite:
            return []
        with self.engine.connect() as conn:
            return read_partitions(conn)

    def ensure_read_partitions(self, *, now_ms: int | None = None) -> list[str]:
        """Create the missing partitions of this month and the next :data:`AHEAD_MONTHS`.

        Nothing happens on SQLite, or when ``reads`` is not partitioned. Returns the names created.
        """
        if self.is_sqlite:
            return []
        t = int(time.time() * 1000) if now_ms is None else now_ms
        ahead = month_bounds(month_index(t) + AHEAD_MONTHS)[1]
        with self._begin() as conn:
            if not read_partitions(conn):
                return []
            return ensure_month_partitions(conn, t, ahead)
