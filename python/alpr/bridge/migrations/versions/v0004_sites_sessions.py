"""Sites and camera roles, parking sessions, permits, anomalies, journeys; outbox leases; hotlist sources.

Revision ID: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("outbox") as b:
        b.add_column(sa.Column("claimed_by", sa.String(64), nullable=True))
        b.add_column(sa.Column("lease_until_ms", sa.BigInteger, nullable=True))
    with op.batch_alter_table("watchlist") as b:
        b.add_column(sa.Column("source", sa.String(512), nullable=True))
    op.create_index("ix_watchlist_source", "watchlist", ["source"])

    op.create_table(
        "camera_config",
        sa.Column("camera", sa.String(128), primary_key=True),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("direction", sa.String(16), nullable=True),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_camera_config_site", "camera_config", ["site"])

    op.create_table(
        "sites",
        sa.Column("site", sa.String(64), primary_key=True),
        sa.Column("max_stay_s", sa.Float, nullable=True),
        sa.Column("capacity", sa.Integer, nullable=True),
        sa.Column("match_window_s", sa.Float, nullable=False),
        sa.Column("max_distance", sa.Float, nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
    )

    op.create_table(
        "parking_sessions",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("plate_ct", sa.LargeBinary, nullable=False),
        sa.Column("plate_bidx", sa.String(32), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("entry_event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("entry_camera", sa.String(128), nullable=False),
        sa.Column("entry_ms", sa.BigInteger, nullable=False),
        sa.Column("exit_event_id", sa.String(64), nullable=True),
        sa.Column("exit_camera", sa.String(128), nullable=True),
        sa.Column("exit_ms", sa.BigInteger, nullable=True),
        sa.Column("exit_plate_ct", sa.LargeBinary, nullable=True),
        sa.Column("distance", sa.Float, nullable=True),
        sa.Column("paid_ms", sa.BigInteger, nullable=True),
        sa.Column("payment_ref", sa.String(128), nullable=True),
        sa.Column("overstay_ms", sa.BigInteger, nullable=True),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_sessions_site_state", "parking_sessions", ["site", "state", "entry_ms"])
    op.create_index("ix_sessions_entry", "parking_sessions", ["entry_ms"])
    op.create_index("ix_sessions_plate_bidx", "parking_sessions", ["plate_bidx"])

    op.create_table(
        "permits",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column("plate_ct", sa.LargeBinary, nullable=False),
        sa.Column("plate_bidx", sa.String(32), nullable=False),
        sa.Column("name_ct", sa.LargeBinary, nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("site", sa.String(64), nullable=True),
        sa.Column("valid_from_ms", sa.BigInteger, nullable=True),
        sa.Column("valid_until_ms", sa.BigInteger, nullable=True),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_permits_plate_bidx", "permits", ["plate_bidx"])

    op.create_table(
        "anomalies",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("camera", sa.String(128), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("session_id", sa.BigInteger, nullable=True),
        sa.Column("ts_ms", sa.BigInteger, nullable=False),
        sa.Column("plate_ct", sa.LargeBinary, nullable=False),
        sa.Column("plate_bidx", sa.String(32), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_anomalies_site_ts", "anomalies", ["site", "ts_ms"])
    op.create_index("ix_anomalies_plate_bidx", "anomalies", ["plate_bidx"])

    op.create_table(
        "journeys",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column("plate_ct", sa.LargeBinary, nullable=False),
        sa.Column("plate_bidx", sa.String(32), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("from_camera", sa.String(128), nullable=False),
        sa.Column("to_camera", sa.String(128), nullable=False),
        sa.Column("from_ms", sa.BigInteger, nullable=False),
        sa.Column("to_ms", sa.BigInteger, nullable=False),
        sa.Column("from_event_id", sa.String(64), nullable=False),
        sa.Column("to_event_id", sa.String(64), nullable=False, unique=True),
    )
    op.create_index("ix_journeys_from_ms", "journeys", ["from_ms"])
    op.create_index("ix_journeys_plate_bidx", "journeys", ["plate_bidx"])


def downgrade() -> None:
    for t in ("journeys", "anomalies", "permits", "parking_sessions", "sites", "camera_config"):
        op.drop_table(t)
    op.drop_index("ix_watchlist_source", "watchlist")
    with op.batch_alter_table("watchlist") as b:
        b.drop_column("source")
    with op.batch_alter_table("outbox") as b:
        b.drop_column("lease_until_ms")
        b.drop_column("claimed_by")
