"""PostgreSQL only: ``reads`` range-partitioned by month of ``ts_ms`` (see alpr/bridge/store/partitions.py).

Revision ID: 0007
Revises: 0006

SQLite is left as it is. On PostgreSQL the table is rebuilt in this transaction: a partitioned
``reads`` with ``reads_default`` and one partition per month from the oldest read or last month (at
most 36 months back) to 3 months ahead, the rows copied over, the primary key ``(id, ts_ms)``, the
de-duplication key ``UNIQUE (event_id, ts_ms)`` and the three indexes recreated, and the id sequence
kept. The copy holds an exclusive lock on ``reads`` while it runs.
"""

from __future__ import annotations

import time

from alembic import op

from alpr.bridge.store.partitions import (
    AHEAD_MONTHS,
    BACK_MONTHS,
    ensure_month_partitions,
    month_bounds,
    month_index,
)

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_INDEXES = (
    "CREATE INDEX ix_reads_camera_ts ON reads (camera, ts_ms)",
    "CREATE INDEX ix_reads_ts ON reads (ts_ms)",
    "CREATE INDEX ix_reads_plate_bidx ON reads (plate_bidx)",
)


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    seq = conn.exec_driver_sql("SELECT pg_get_serial_sequence('reads', 'id')").scalar()
    conn.exec_driver_sql(f"ALTER SEQUENCE {seq} OWNED BY NONE")  # kept when the old table goes
    conn.exec_driver_sql("ALTER TABLE reads RENAME TO reads_unpartitioned")
    conn.exec_driver_sql(
        "CREATE TABLE reads (LIKE reads_unpartitioned INCLUDING DEFAULTS) PARTITION BY RANGE (ts_ms)"
    )
    conn.exec_driver_sql("CREATE TABLE reads_default PARTITION OF reads DEFAULT")
    now = int(time.time() * 1000)
    oldest = conn.exec_driver_sql("SELECT min(ts_ms) FROM reads_unpartitioned").scalar()
    # From the oldest read, or last month for late replays, but not more than BACK_MONTHS back.
    first = month_bounds(month_index(now) - 1)[1]
    if oldest is not None:
        first = min(first, int(oldest))
    first = max(first, month_bounds(month_index(now) - BACK_MONTHS)[1])
    ensure_month_partitions(conn, first, month_bounds(month_index(now) + AHEAD_MONTHS)[1])
    conn.exec_driver_sql("INSERT INTO reads SELECT * FROM reads_unpartitioned")
    conn.exec_driver_sql("DROP TABLE reads_unpartitioned")
    conn.exec_driver_sql("ALTER TABLE reads ADD PRIMARY KEY (id, ts_ms)")
    conn.exec_driver_sql("ALTER TABLE reads ADD CONSTRAINT reads_event_id_ts_ms_key UNIQUE (event_id, ts_ms)")
    for ddl in _INDEXES:
        conn.exec_driver_sql(ddl)
    conn.exec_driver_sql(f"ALTER SEQUENCE {seq} OWNED BY reads.id")


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    seq = conn.exec_driver_sql("SELECT pg_get_serial_sequence('reads', 'id')").scalar()
    conn.exec_driver_sql(f"ALTER SEQUENCE {seq} OWNED BY NONE")
    conn.exec_driver_sql("ALTER TABLE reads RENAME TO reads_partitioned")
    conn.exec_driver_sql("CREATE TABLE reads (LIKE reads_partitioned INCLUDING DEFAULTS)")
    conn.exec_driver_sql("INSERT INTO reads SELECT * FROM reads_partitioned")
    conn.exec_driver_sql("DROP TABLE reads_partitioned")  # and its partitions
    conn.exec_driver_sql("ALTER TABLE reads ADD PRIMARY KEY (id)")
    conn.exec_driver_sql("ALTER TABLE reads ADD CONSTRAINT reads_event_id_key UNIQUE (event_id)")
    for ddl in _INDEXES:
        conn.exec_driver_sql(ddl)
    conn.exec_driver_sql(f"ALTER SEQUENCE {seq} OWNED BY reads.id")
