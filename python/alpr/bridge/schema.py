"""The store's tables (SQLAlchemy Core). Migrations in ``migrations/versions`` create exactly these.

Sensitive columns (``*_ct``) hold AES-GCM ciphertext (see :mod:`alpr.bridge.crypto`); ``*_bidx`` hold the
HMAC blind index. Nothing else in the schema carries plate text.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

__all__ = [
    "alert_acks",
    "alerts",
    "audit",
    "camera_health",
    "crops",
    "cursors",
    "metadata",
    "outbox",
    "reads",
    "sessions",
    "tokens",
    "users",
    "watchlist",
]

metadata = MetaData()

# BIGINT autoincrement on PostgreSQL, INTEGER PRIMARY KEY (rowid) on SQLite.
PK = BigInteger().with_variant(Integer(), "sqlite")

reads = Table(
    "reads",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False, unique=True),
    Column("camera", String(128), nullable=False),
    Column("ts", String(40), nullable=False),
    Column("ts_ms", BigInteger, nullable=False),
    Column("plate_ct", LargeBinary, nullable=False),
    Column("plate_bidx", String(32), nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("confidence", Float, nullable=False),
    Column("extra", Text, nullable=False),
    Column("has_crop", Boolean, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Index("ix_reads_camera_ts", "camera", "ts_ms"),
    Index("ix_reads_ts", "ts_ms"),
    Index("ix_reads_plate_bidx", "plate_bidx"),
)

crops = Table(
    "crops",
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("ts_ms", BigInteger, nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("data_ct", LargeBinary, nullable=False),
    Index("ix_crops_ts", "ts_ms"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("sink", String(64), nullable=False),
    Column("topic", String(256), nullable=False),
    Column("payload_ct", LargeBinary, nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("plate_bidx", String(32), nullable=True),
    Column("retain", Boolean, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False),
    Index("ix_outbox_sink_id", "sink", "id"),
    Index("ix_outbox_plate_bidx", "plate_bidx"),
)

watchlist = Table(
    "watchlist",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("pattern_ct", LargeBinary, nullable=False),
    Column("pattern_bidx", String(32), nullable=True),
    Column("key_id", String(64), nullable=False),
    Column("reason", String(256), nullable=False),
    Column("max_distance", Float, nullable=False),
    Column("expires_ms", BigInteger, nullable=True),
    Column("cameras", Text, nullable=True),
    Column("created_ms", BigInteger, nullable=False),
    Index("ix_watchlist_pattern_bidx", "pattern_bidx"),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False),
    Column("watchlist_id", BigInteger, nullable=False),
    Column("camera", String(128), nullable=False),
    Column("ts", String(40), nullable=False),
    Column("ts_ms", BigInteger, nullable=False),
    Column("plate_ct", LargeBinary, nullable=False),
    Column("plate_bidx", String(32), nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("reason", String(256), nullable=False),
    Column("distance", Float, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Index("ix_alerts_camera_ts", "camera", "ts_ms"),
    Index("ix_alerts_ts", "ts_ms"),
    Index("ix_alerts_plate_bidx", "plate_bidx"),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("cameras", Text, nullable=True),
    Column("created_ms", BigInteger, nullable=False),
    Column("revoked", Boolean, nullable=False),
)

audit = Table(
    "audit",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("ts_ms", BigInteger, nullable=False),
    Column("token_id", BigInteger, nullable=True),
    Column("action", String(64), nullable=False),
    Column("detail_ct", LargeBinary, nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("results", Integer, nullable=False),
    Column("user_id", BigInteger, nullable=True),  # migration 0003: who, when signed in (not a token)
    Index("ix_audit_ts", "ts_ms"),
)

cursors = Table(
    "cursors",
    metadata,
    Column("publisher", String(256), primary_key=True),
    Column("seq", BigInteger, nullable=False),
)

# Migration 0003: dashboard accounts, login sessions, alert acknowledgements, camera health.
users = Table(
    "users",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("pw_hash", String(256), nullable=False),
    Column("role", String(16), nullable=False),
    Column("cameras", Text, nullable=True),
    Column("disabled", Boolean, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("user_id", BigInteger, nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("seen_ms", BigInteger, nullable=False),
    Index("ix_sessions_user", "user_id"),
)

alert_acks = Table(
    "alert_acks",
    metadata,
    Column("alert_id", BigInteger, primary_key=True),
    Column("by", String(128), nullable=False),
    Column("ts_ms", BigInteger, nullable=False),
)

camera_health = Table(
    "camera_health",
    metadata,
    Column("camera", String(128), primary_key=True),
    Column("publisher", String(64), nullable=False),
    Column("ts_ms", BigInteger, nullable=False),
    Column("fps", Float, nullable=True),
    Column("frames", BigInteger, nullable=True),
    Column("dropped", BigInteger, nullable=True),
)
