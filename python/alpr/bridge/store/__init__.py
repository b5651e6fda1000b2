"""The bridge's store: reads, crops, alerts, watchlists, tokens, audit log and a durable outbox.

SQLite (WAL, ``synchronous=FULL``) by default, PostgreSQL by URL (``postgresql+psycopg://...``); the
schema is created and upgraded by Alembic (:meth:`Store.migrate`). One bridge process writes a SQLite
store; several may share a PostgreSQL one (see Fleet below).

Privacy: plate text, crops, outbox payloads, watchlist patterns and audit details are AES-GCM
ciphertext; plates are found through an HMAC blind index (exact search, erase/export, exact
watchlist entries). Fuzzy search cannot use an index: it decrypts candidate rows newest first in
batches of :data:`FUZZY_BATCH`, compares each with :func:`plate_distance` and stops after
``scan_limit`` rows (default 50,000), handing back a cursor to go on. Measured cost: about 40 us
per row on a 2-core machine, so a full default scan takes about 2 s of CPU (benches/); narrow it
with a camera and a time range. Exact search costs one index lookup (about 0.2 ms).

Delivery: :meth:`Store.ingest` writes the reads, their alerts, one outbox row per sink and the stream
cursor in ONE transaction, so an event is either fully accepted or not at all. Sinks delete outbox
rows only after the broker / endpoint acknowledged them: delivery is at least once, and every
payload carries ``event_id`` so consumers can drop duplicates.

Fleet: several bridges may share one PostgreSQL store; outbox rows are claimed with
``FOR UPDATE SKIP LOCKED`` and leases, and once-per-fleet duties run on an advisory-lock leader
(:mod:`.fleet`).
"""

from __future__ import annotations

from alpr.bridge.store.access import AccessMixin
from alpr.bridge.store.base import (
    FUZZY_BATCH,
    ROLES,
    EventLike,
    Ingest,
    IngestResult,
    OutboxRow,
    Role,
    Sink,
    TokenInfo,
    iso_ms,
    normalize_url,
    now_ms,
    parse_ts_ms,
)
from alpr.bridge.store.dashboard import DashboardMixin
from alpr.bridge.store.deadletters import DeadLetterMixin
from alpr.bridge.store.fleet import FleetMixin
from alpr.bridge.store.ingest import IngestMixin
from alpr.bridge.store.partitions import PartitionsMixin
from alpr.bridge.store.privacy import PrivacyMixin
from alpr.bridge.store.settings import SettingsMixin
from alpr.bridge.store.users import UsersMixin
from alpr.bridge.store.watch import WatchMixin

__all__ = [
    "FUZZY_BATCH",
    "ROLES",
    "EventLike",
    "Ingest",
    "IngestResult",
    "OutboxRow",
    "Role",
    "Sink",
    "Store",
    "TokenInfo",
    "iso_ms",
    "normalize_url",
    "now_ms",
    "parse_ts_ms",
]


class Store(
    DeadLetterMixin,
    DashboardMixin,
    IngestMixin,
    PrivacyMixin,
    WatchMixin,
    AccessMixin,
    UsersMixin,
    FleetMixin,
    SettingsMixin,
    PartitionsMixin,
):
    """All persistent state of the bridge. Thread-safe (one connection per call from a pool).

    One class for callers; each concern lives in its own module (:mod:`.base` connection handling,
    :mod:`.ingest`, :mod:`.outbox`, :mod:`.reads`, :mod:`.watch`, :mod:`.access`, :mod:`.privacy`,
    :mod:`.users` accounts and sessions, :mod:`.dashboard` acknowledgements, camera health, charts,
    :mod:`.sites` and :mod:`.parking` (cameras, sessions, permits), :mod:`.journeys`, :mod:`.fleet`,
    :mod:`.deadletters` (webhook rows given up on), :mod:`.partitions` (PostgreSQL: reads by month),
    :mod:`.settings` (dashboard-edited settings, failed sign-ins shared by a fleet).
    """

    def migrate(self) -> None:
        """Create or upgrade the schema, then seal what older revisions kept in clear."""
        super().migrate()
        self.seal_reasons()
        self.ensure_read_partitions()  # PostgreSQL: this month and the next ones exist
