"""Records, time helpers and the store's connection handling (engine, migrations, transactions)."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from alpr._files import private_sqlite_file
from alpr.bridge.crypto import Keyring
from alpr.errors import ConfigError, StoreError
from alpr.timestamps import ms_to_iso, parse_utc

FUZZY_BATCH = 1000
ROLES: tuple[str, ...] = ("viewer", "operator", "admin")
Role = Literal["viewer", "operator", "admin"]


class EventLike(Protocol):
    """What the store needs of an :class:`alpr.stream.events.PlateEvent`."""

    @property
    def event_id(self) -> str:
        """The event's UUID (the store's idempotency key)."""

    @property
    def camera(self) -> str:
        """The camera that read the plate."""

    @property
    def ts(self) -> str:
        """Capture time, ISO 8601 UTC."""

    @property
    def plate(self) -> str:
        """The plate text as read."""

    @property
    def confidence(self) -> float:
        """Read confidence in [0, 1]."""

    def to_dict(self) -> dict[str, Any]:
        """The event as a JSON-ready dict (what the store keeps, encrypted)."""


@dataclass(frozen=True, slots=True)
class Ingest:
    """One event to store, with its optional JPEG crop and where it came from (for the cursor)."""

    event: EventLike
    crop_jpeg: bytes | None = None
    publisher: str | None = None
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class Sink:
    """A delivery target fed by the outbox. ``plates`` False means alerts only."""

    name: str
    plates: bool = True
    alerts: bool = True


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """An outbox row claimed for delivery: id, topic, decrypted payload, MQTT retain flag, attempts."""

    id: int
    topic: str
    payload: bytes
    retain: bool
    attempts: int


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """An API token or signed-in user as the API sees it: its role and, if scoped, cameras."""

    id: int
    name: str
    role: Role
    cameras: tuple[str, ...] | None

    def allows(self, role: Role) -> bool:
        """Whether this caller's role is ``role`` or above (viewer < operator < admin)."""
        return ROLES.index(self.role) >= ROLES.index(role)

    def sees(self, camera: str) -> bool:
        """Whether this caller may see ``camera`` (an unscoped caller sees every camera)."""
        return self.cameras is None or camera in self.cameras


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What one ingest did: events stored, duplicates skipped and alerts raised."""

    stored: int
    duplicates: int
    alerts: int


def lock_key(name: str) -> int:
    """A signed 64-bit advisory-lock key for ``name`` (PostgreSQL's ``pg_advisory_*`` take a bigint)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def now_ms() -> int:
    """The current Unix time in milliseconds."""
    return int(time.time() * 1000)


def parse_ts_ms(ts: str) -> int:
    """ISO 8601 (``...Z`` or with an offset; naive means UTC) to Unix milliseconds."""
    try:
        dt = parse_utc(ts)
    except ValueError:
        raise StoreError(f"timestamp: expected ISO 8601, got {ts!r}") from None
    return round(dt.timestamp() * 1000)


def iso_ms(ms: int) -> str:
    """Unix milliseconds as the events' ISO 8601 UTC (:func:`alpr.timestamps.ms_to_iso`)."""
    return ms_to_iso(ms)


def window(
    ts: Any,
    since_ms: int | None,
    until_ms: int | None,
    *,
    cameras: Sequence[str] | None = None,
    in_: Any = (),
) -> list[Any]:
    """The conditions of a time-window query: ``since_ms <= ts < until_ms`` (either end open when None).

    For a camera-scoped caller (``cameras`` not None), each column of ``in_`` must also be in ``cameras``.
    """
    conds: list[Any] = []
    if cameras is not None:
        conds += [col.in_(list(cameras)) for col in (in_ if isinstance(in_, (list, tuple)) else (in_,))]
    if since_ms is not None:
        conds.append(ts >= since_ms)
    if until_ms is not None:
        conds.append(ts < until_ms)
    return conds


def page(
    conn: Connection, query: Any, id_col: Any, limit: int, before_id: int | None
) -> tuple[list[Any], int | None]:
    """One page of ``query`` newest first by ``id_col``, and the cursor for the next page.

    The page holds the rows with an id below ``before_id`` (all when None), at most ``limit``; the cursor is
    the ``before_id`` to pass next, None at the end.
    """
    if before_id is not None:
        query = query.where(id_col < before_id)
    rows = conn.execute(query.order_by(id_col.desc()).limit(limit + 1)).all()
    nxt = int(rows[limit - 1]._mapping[id_col]) if len(rows) > limit else None
    return list(rows[:limit]), nxt


_EXTRA = (
    "schema",
    "char_confidences",
    "region",
    "box",
    "track_id",
    "first_seen",
    "last_seen",
    "detector_score",
    "direction",
)


def _event_json(ev: EventLike) -> bytes:
    to_json = getattr(ev, "to_json", None)
    return to_json() if to_json is not None else _dumps(ev.to_dict())


def _dumps(obj: Any) -> bytes:
    return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS)


def normalize_url(url: str) -> str:
    """The SQLAlchemy URL of a ``db`` setting (``postgresql://`` selects the psycopg driver).

    Raises:
        ConfigError: neither an SQLite nor a PostgreSQL URL.
    """
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if not url.startswith(("sqlite:", "postgresql+")):
        raise ConfigError(f"db: expected sqlite:///PATH or postgresql://..., got {url!r}")
    return url


class StoreBase:
    """The connection side of :class:`~alpr.bridge.store.Store`: engine, pool, migrations, transactions."""

    def __init__(self, url: str, keyring: Keyring, *, migrate: bool = True) -> None:
        self.url = normalize_url(url)
        self.keyring = keyring
        # Who claims outbox rows and advisory locks when several bridges share a PostgreSQL store.
        self.worker_id = uuid.uuid4().hex[:16]
        self.is_sqlite = self.url.startswith("sqlite")
        self._insert_sql: dict[str, tuple[str, list[str], tuple[str, ...]]] = {}
        if self.is_sqlite:
            path = self.url.split(":///", 1)[1] if ":///" in self.url else ""
            if path and path != ":memory:" and not path.startswith("file:"):
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                try:  # 0600, and so are the -wal and -shm SQLite derives from it
                    private_sqlite_file(path.split("?", 1)[0])
                except OSError as exc:
                    raise StoreError(f"store {path}: {exc}") from exc
            self.engine: Engine = sa.create_engine(
                self.url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=8
            )
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            self.engine = sa.create_engine(self.url, pool_size=8, pool_pre_ping=True)
        if migrate:
            self.migrate()

    def close(self) -> None:
        """Close the store's connection pool."""
        self.engine.dispose()

    def migrate(self) -> None:
        """Create or upgrade the schema to the newest Alembic revision."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(Path(__file__).parent.parent / "migrations"))
        try:
            with self.engine.begin() as conn:
                if not self.is_sqlite:
                    # Bridges starting together on a new database would each create the schema; the
                    # second one's insert into alembic_version fails. One at a time (the lock ends with
                    # this transaction, and the next finds the schema at head).
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key("migrate")})
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"store {self.engine.url!r}: migration failed ({exc})") from exc

    def _begin(self) -> Any:
        return _Tx(self.engine)

    @contextmanager
    def _erasing(self) -> Iterator[Connection]:
        """A transaction whose deletes overwrite the freed bytes (SQLite ``secure_delete``).

        For erasure and retention, so removed ciphertext does not linger in free pages.
        """
        with self._pragma("secure_delete=ON", "secure_delete=OFF") as conn, conn.begin():
            yield conn

    @contextmanager
    def _pragma(self, during: str, after: str) -> Iterator[Connection]:
        """A connection with SQLite ``PRAGMA during`` in force until it is done (then ``PRAGMA after``).

        Nothing is set on PostgreSQL. A database error is raised as :class:`StoreError`.
        """
        try:
            with self.engine.connect() as conn:
                if self.is_sqlite:
                    conn.exec_driver_sql(f"PRAGMA {during}")
                    conn.commit()  # ends SQLAlchemy's autobegun (empty) transaction
                try:
                    yield conn
                finally:
                    if self.is_sqlite:
                        conn.exec_driver_sql(f"PRAGMA {after}")
                        conn.commit()
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"store: {exc}") from exc

    def _reencrypt(
        self, ring: Keyring, table: sa.Table, pk: Any, cols: Sequence[tuple[str, Any]], batch: int
    ) -> int:
        """Re-seal with ``ring.active`` every row of ``table`` under an older key; returns the rows rewritten.

        ``batch`` rows go in a transaction; ``cols`` are (ciphertext column, row -> associated data).
        """
        total = 0
        while True:
            with self._begin() as conn:
                rows = conn.execute(sa.select(table).where(table.c.key_id != ring.active).limit(batch)).all()
                for r in rows:
                    values: dict[str, Any] = {"key_id": ring.active}
                    for col, aad in cols:
                        blob = getattr(r, col)
                        if blob is not None:
                            values[col] = ring.encrypt(ring.decrypt(blob, aad(r)), aad(r))
                    conn.execute(table.update().where(pk == getattr(r, pk.name)).values(values))
            total += len(rows)
            if len(rows) < batch:
                return total


class _Tx:
    """``engine.begin()`` that turns driver errors into :class:`StoreError`."""

    def __init__(self, engine: Engine) -> None:
        self._cm = engine.begin()

    def __enter__(self) -> Connection:
        try:
            return self._cm.__enter__()
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"store: {exc}") from exc

    def __exit__(self, typ: Any, val: Any, tb: Any) -> bool | None:
        try:
            suppressed = self._cm.__exit__(typ, val, tb)
        except sa.exc.SQLAlchemyError as e:
            raise StoreError(f"store: {e}") from e
        # A driver error inside the block (a lost connection mid-transaction) is a StoreError too, so
        # that callers that retry on StoreError (the bridge's writer) do not die on it.
        if isinstance(val, sa.exc.SQLAlchemyError):
            raise StoreError(f"store: {val}") from val
        return suppressed


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    # FULL: a committed event (and its stream ack) survives power loss, not only a process crash.
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()
