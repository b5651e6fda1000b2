"""Initial schema: reads, crops, outbox, watchlist, alerts, tokens, audit, cursors.

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "reads",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("camera", sa.String(128), nullable=False),
        sa.Column("ts", sa.String(40), nullable=False),
        sa.Column("ts_ms", sa.BigInteger, nullable=False),
        sa.Column("plate_ct", sa.LargeBinary, nullable=False),
        sa.Column("plate_bidx", sa.String(32), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("extra", sa.Text, nullable=False),
        sa.Column("has_crop", sa.Boolean, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_reads_camera_ts", "reads", ["camera", "ts_ms"])
    op.create_index("ix_reads_ts", "reads", ["ts_ms"])
    op.create_index("ix_reads_plate_bidx", "reads", ["plate_bidx"])

    op.create_table(
        "crops",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("ts_ms", sa.BigInteger, nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("data_ct", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_crops_ts", "crops", ["ts_ms"])

    op.create_table(
        "outbox",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column("sink", sa.String(64), nullable=False),
        sa.Column("topic", sa.String(256), nullable=False),
        sa.Column("payload_ct", sa.LargeBinary, nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("plate_bidx", sa.String(32), nullable=True),
        sa.Column("retain", sa.Boolean, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
    )
    op.create_index("ix_outbox_sink_id", "outbox", ["sink", "id"])
    op.create_index("ix_outbox_plate_bidx", "outbox", ["plate_bidx"])

    op.create_table(
        "watchlist",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("pattern_ct", sa.LargeBinary, nullable=False),
        sa.Column("pattern_bidx", sa.String(32), nullable=True),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(256), nullable=False),
        sa.Column("max_distance", sa.Float, nullable=False),
        sa.Column("expires_ms", sa.BigInteger, nullable=True),
        sa.Column("cameras", sa.Text, nullable=True),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_watchlist_pattern_bidx", "watchlist", ["pattern_bidx"])

    op.create_table(
        "alerts",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("watchlist_id", sa.BigInteger, nullable=False),
        sa.Column("camera", sa.String(128), nullable=False),
        sa.Column("ts", sa.String(40), nullable=False),
        sa.Column("ts_ms", sa.BigInteger, nullable=False),
        sa.Column("plate_ct", sa.LargeBinary, nullable=False),
        sa.Column("plate_bidx", sa.String(32), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(256), nullable=False),
        sa.Column("distance", sa.Float, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_alerts_camera_ts", "alerts", ["camera", "ts_ms"])
    op.create_index("ix_alerts_ts", "alerts", ["ts_ms"])
    op.create_index("ix_alerts_plate_bidx", "alerts", ["plate_bidx"])

    op.create_table(
        "tokens",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("cameras", sa.Text, nullable=True),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("revoked", sa.Boolean, nullable=False),
    )

    op.create_table(
        "audit",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column("ts_ms", sa.BigInteger, nullable=False),
        sa.Column("token_id", sa.BigInteger, nullable=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("detail_ct", sa.LargeBinary, nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("results", sa.Integer, nullable=False),
    )
    op.create_index("ix_audit_ts", "audit", ["ts_ms"])

    op.create_table(
        "cursors",
        sa.Column("publisher", sa.String(256), primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for t in ("cursors", "audit", "tokens", "alerts", "watchlist", "outbox", "crops", "reads"):
        op.drop_table(t)
