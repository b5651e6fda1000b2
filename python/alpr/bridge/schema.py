"""The store's tables (SQLAlchemy Core). Migrations in ``migrations/versions`` create exactly these.

Sensitive columns (``*_ct``) hold AES-GCM ciphertext (see :mod:`alpr.bridge.crypto`); ``*_bidx`` hold the
HMAC blind index. Nothing else in the schema carries plate text.
"""

from __future__ import annotations

from typing import Any

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
    "anomalies",
    "audit",
    "auth_failures",
    "camera_config",
    "camera_health",
    "crops",
    "cursors",
    "journeys",
    "metadata",
    "outbox",
    "parking_sessions",
    "permits",
    "reads",
    "sessions",
    "settings",
    "sites",
    "tokens",
    "users",
    "watchlist",
]

metadata = MetaData()

# BIGINT autoincrement on PostgreSQL, INTEGER PRIMARY KEY (rowid) on SQLite.
PK = BigInteger().with_variant(Integer(), "sqlite")


def _pk() -> Column[int]:
    """The surrogate key every table but ``crops`` has."""
    return Column("id", PK, primary_key=True, autoincrement=True)


def _sealed_plate() -> tuple[Column[Any], ...]:
    """A plate as the store keeps it: AES-GCM ciphertext, its blind index and the key id."""
    return (
        Column("plate_ct", LargeBinary, nullable=False),
        Column("plate_bidx", String(32), nullable=False),
        Column("key_id", String(64), nullable=False),
    )


def _queued_message() -> tuple[Column[Any], ...]:
    """A message for one sink (MQTT, a webhook): the outbox row, and its dead letter once given up on."""
    return (
        _pk(),
        Column("sink", String(64), nullable=False),
        Column("topic", String(256), nullable=False),
        Column("payload_ct", LargeBinary, nullable=False),
        Column("key_id", String(64), nullable=False),
        Column("plate_bidx", String(32), nullable=True),  # the plate it names, for erasure
    )


reads = Table(
    "reads",
    metadata,
    _pk(),
    Column("event_id", String(64), nullable=False, unique=True),
    Column("camera", String(128), nullable=False),
    Column("ts", String(40), nullable=False),
    Column("ts_ms", BigInteger, nullable=False),
    *_sealed_plate(),
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
    *_queued_message(),
    Column("retain", Boolean, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False),
    # Fleet: a bridge claims rows (FOR UPDATE SKIP LOCKED) for ``lease_until_ms``; see store/fleet.py.
    Column("claimed_by", String(64), nullable=True),
    Column("lease_until_ms", BigInteger, nullable=True),
    Index("ix_outbox_sink_id", "sink", "id"),
    Index("ix_outbox_plate_bidx", "plate_bidx"),
)

watchlist = Table(
    "watchlist",
    metadata,
    _pk(),
    Column("kind", String(16), nullable=False),
    Column("pattern_ct", LargeBinary, nullable=False),
    Column("pattern_bidx", String(32), nullable=True),
    Column("key_id", String(64), nullable=False),
    Column("reason", String(256), nullable=False),  # "" since 0002: the reason is in reason_ct
    Column("max_distance", Float, nullable=False),
    Column("expires_ms", BigInteger, nullable=True),
    Column("cameras", Text, nullable=True),
    Column("created_ms", BigInteger, nullable=False),
    # The hotlist file an entry was imported from (None: added through the API); see bridge/hotlists.py.
    Column("source", String(512), nullable=True),
    Column("reason_ct", LargeBinary, nullable=True),
    Index("ix_watchlist_pattern_bidx", "pattern_bidx"),
    Index("ix_watchlist_source", "source"),
)

alerts = Table(
    "alerts",
    metadata,
    _pk(),
    Column("event_id", String(64), nullable=False),
    Column("watchlist_id", BigInteger, nullable=False),
    Column("camera", String(128), nullable=False),
    Column("ts", String(40), nullable=False),
    Column("ts_ms", BigInteger, nullable=False),
    *_sealed_plate(),
    Column("kind", String(16), nullable=False),
    Column("reason", String(256), nullable=False),
    Column("distance", Float, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("reason_ct", LargeBinary, nullable=True),
    Index("ix_alerts_camera_ts", "camera", "ts_ms"),
    Index("ix_alerts_ts", "ts_ms"),
    Index("ix_alerts_plate_bidx", "plate_bidx"),
)

tokens = Table(
    "tokens",
    metadata,
    _pk(),
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
    _pk(),
    Column("ts_ms", BigInteger, nullable=False),
    Column("token_id", BigInteger, nullable=True),
    Column("action", String(64), nullable=False),
    Column("detail_ct", LargeBinary, nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("results", Integer, nullable=False),
    Column("user_id", BigInteger, nullable=True),  # migration 0003: who, when signed in (not a token)
    # 0005: blind index of the plate a detail names, so erasing the plate also redacts the audit rows.
    Column("plate_bidx", String(32), nullable=True),
    Index("ix_audit_ts", "ts_ms"),
    Index("ix_audit_plate_bidx", "plate_bidx"),
)

# 0005: webhook rows given up on after ``max_attempts`` (bridge/webhooks.py), kept for an admin to
# inspect, retry or drop (``/api/v1/dead-letters``); erased and rotated like the outbox.
dead_letters = Table(
    "dead_letters",
    metadata,
    *_queued_message(),
    Column("created_ms", BigInteger, nullable=False),
    Column("failed_ms", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("error", String(256), nullable=False),
    Index("ix_dead_letters_sink_id", "sink", "id"),
    Index("ix_dead_letters_plate_bidx", "plate_bidx"),
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
    _pk(),
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

# -- sites, sessions, permits, journeys (revision 0004) ---------------------------------------------
camera_config = Table(
    "camera_config",
    metadata,
    Column("camera", String(128), primary_key=True),
    Column("site", String(64), nullable=False),
    Column("role", String(8), nullable=False),  # entry | exit | pass
    Column("direction", String(16), nullable=True),  # approaching | leaving | None (any)
    Column("updated_ms", BigInteger, nullable=False),
    Index("ix_camera_config_site", "site"),
)

sites = Table(
    "sites",
    metadata,
    Column("site", String(64), primary_key=True),
    Column("max_stay_s", Float, nullable=True),
    Column("capacity", Integer, nullable=True),
    Column("match_window_s", Float, nullable=False),
    Column("max_distance", Float, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
)

parking_sessions = Table(
    "parking_sessions",
    metadata,
    _pk(),
    Column("site", String(64), nullable=False),
    Column("state", String(8), nullable=False),  # open | closed
    *_sealed_plate(),
    Column("entry_event_id", String(64), nullable=False, unique=True),
    Column("entry_camera", String(128), nullable=False),
    Column("entry_ms", BigInteger, nullable=False),
    Column("exit_event_id", String(64), nullable=True),
    Column("exit_camera", String(128), nullable=True),
    Column("exit_ms", BigInteger, nullable=True),
    Column("exit_plate_ct", LargeBinary, nullable=True),
    Column("distance", Float, nullable=True),
    Column("paid_ms", BigInteger, nullable=True),
    Column("payment_ref", String(128), nullable=True),
    Column("overstay_ms", BigInteger, nullable=True),
    Column("created_ms", BigInteger, nullable=False),
    Index("ix_sessions_site_state", "site", "state", "entry_ms"),
    Index("ix_sessions_entry", "entry_ms"),
    Index("ix_sessions_plate_bidx", "plate_bidx"),
)

permits = Table(
    "permits",
    metadata,
    _pk(),
    Column("plate_ct", LargeBinary, nullable=False),
    Column("plate_bidx", String(32), nullable=False),
    Column("name_ct", LargeBinary, nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("site", String(64), nullable=True),  # None: every site
    Column("valid_from_ms", BigInteger, nullable=True),
    Column("valid_until_ms", BigInteger, nullable=True),
    Column("created_ms", BigInteger, nullable=False),
    Index("ix_permits_plate_bidx", "plate_bidx"),
)

anomalies = Table(
    "anomalies",
    metadata,
    _pk(),
    Column("kind", String(16), nullable=False),  # overstay | no_entry
    Column("site", String(64), nullable=False),
    Column("camera", String(128), nullable=False),
    Column("event_id", String(64), nullable=False),
    Column("session_id", BigInteger, nullable=True),
    Column("ts_ms", BigInteger, nullable=False),
    *_sealed_plate(),
    Column("created_ms", BigInteger, nullable=False),
    Index("ix_anomalies_site_ts", "site", "ts_ms"),
    Index("ix_anomalies_plate_bidx", "plate_bidx"),
)

journeys = Table(
    "journeys",
    metadata,
    _pk(),
    *_sealed_plate(),
    Column("from_camera", String(128), nullable=False),
    Column("to_camera", String(128), nullable=False),
    Column("from_ms", BigInteger, nullable=False),
    Column("to_ms", BigInteger, nullable=False),
    Column("from_event_id", String(64), nullable=False),
    Column("to_event_id", String(64), nullable=False, unique=True),
    Index("ix_journeys_from_ms", "from_ms"),
    Index("ix_journeys_plate_bidx", "plate_bidx"),
)

# Migration 0006: settings edited in the dashboard (``retention`` overrides the TOML config) and failed
# sign-ins counted in the store, so every bridge sharing it enforces one limit.
settings = Table(
    "settings",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
    Column("updated_by", String(128), nullable=False),
)

auth_failures = Table(
    "auth_failures",
    metadata,
    _pk(),
    Column("scope", String(16), nullable=False),
    Column("key", String(64), nullable=False),
    Column("ts_ms", BigInteger, nullable=False),
    Index("ix_auth_failures_key", "scope", "key", "ts_ms"),
    Index("ix_auth_failures_ts", "ts_ms"),
)
