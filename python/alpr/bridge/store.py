"""The bridge's store: reads, crops, alerts, watchlists, tokens, audit log and a durable outbox.

SQLite (WAL, ``synchronous=FULL``) by default, PostgreSQL by URL (``postgresql+psycopg://...``); the
schema is created and upgraded by Alembic (:meth:`Store.migrate`). One bridge process writes a store.

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
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from operator import itemgetter
from pathlib import Path
from typing import Any, Literal, Protocol

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from alpr.bridge import schema as S
from alpr.bridge.crypto import Keyring, normalize_plate
from alpr.bridge.watchlist import (
    MatchKind,
    WatchEntry,
    Watchlist,
    best_per_entry,
    normalize_pattern,
    plate_distance,
)
from alpr.errors import ConfigError, StoreError

__all__ = [
    "FUZZY_BATCH",
    "ROLES",
    "EventLike",
    "Ingest",
    "OutboxRow",
    "Sink",
    "Store",
    "TokenInfo",
    "iso_ms",
    "parse_ts_ms",
]

FUZZY_BATCH = 1000
ROLES: tuple[str, ...] = ("viewer", "operator", "admin")
Role = Literal["viewer", "operator", "admin"]


class EventLike(Protocol):
    """What the store needs of an :class:`alpr.stream.events.PlateEvent`."""

    @property
    def event_id(self) -> str: ...
    @property
    def camera(self) -> str: ...
    @property
    def ts(self) -> str: ...
    @property
    def plate(self) -> str: ...
    @property
    def confidence(self) -> float: ...

    def to_dict(self) -> dict[str, Any]: ...


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
    id: int
    topic: str
    payload: bytes
    retain: bool
    attempts: int


@dataclass(frozen=True, slots=True)
class TokenInfo:
    id: int
    name: str
    role: Role
    cameras: tuple[str, ...] | None

    def allows(self, role: Role) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)

    def sees(self, camera: str) -> bool:
        return self.cameras is None or camera in self.cameras


@dataclass(frozen=True, slots=True)
class IngestResult:
    stored: int
    duplicates: int
    alerts: int


def now_ms() -> int:
    return int(time.time() * 1000)


def parse_ts_ms(ts: str) -> int:
    """ISO 8601 (``...Z`` or with an offset; naive means UTC) to Unix milliseconds."""
    try:
        dt = datetime.fromisoformat(ts.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise StoreError(f"timestamp: expected ISO 8601, got {ts!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return round(dt.timestamp() * 1000)


def iso_ms(ms: int) -> str:
    dt = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


_EXTRA = (
    "schema",
    "char_confidences",
    "region",
    "box",
    "track_id",
    "first_seen",
    "last_seen",
    "detector_score",
)


def _event_json(ev: EventLike) -> bytes:
    to_json = getattr(ev, "to_json", None)
    return to_json() if to_json is not None else _dumps(ev.to_dict())


def _dumps(obj: Any) -> bytes:
    return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS)


def normalize_url(url: str) -> str:
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if not url.startswith(("sqlite:", "postgresql+")):
        raise ConfigError(f"db: expected sqlite:///PATH or postgresql://..., got {url!r}")
    return url


class Store:
    """All persistent state of the bridge. Thread-safe (one connection per call from a pool)."""

    def __init__(self, url: str, keyring: Keyring, *, migrate: bool = True) -> None:
        self.url = normalize_url(url)
        self.keyring = keyring
        self.is_sqlite = self.url.startswith("sqlite")
        self._insert_sql: dict[str, tuple[str, list[str], tuple[str, ...]]] = {}
        if self.is_sqlite:
            path = self.url.split(":///", 1)[1] if ":///" in self.url else ""
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = sa.create_engine(
                self.url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=8
            )
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            self.engine = sa.create_engine(self.url, pool_size=8, pool_pre_ping=True)
        if migrate:
            self.migrate()

    def close(self) -> None:
        self.engine.dispose()

    def migrate(self) -> None:
        """Create or upgrade the schema to the newest Alembic revision."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
        try:
            with self.engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"store {self.engine.url!r}: migration failed ({exc})") from exc

    # ---------------------------------------------------------------------------------- ingest
    def ingest(
        self, items: Sequence[Ingest], watch: Watchlist | None = None, sinks: Sequence[Sink] = ()
    ) -> IngestResult:
        """Store a batch atomically: reads, crops, alerts, outbox rows and stream cursors."""
        if not items:
            return IngestResult(0, 0, 0)
        ring = self.keyring
        t = now_ms()
        cursors: dict[str, int] = {}
        for it in items:
            if it.publisher is not None and it.seq is not None:
                cursors[it.publisher] = max(it.seq, cursors.get(it.publisher, -1))
        with self._begin() as conn:
            ids = list({it.event.event_id for it in items})
            existing: set[str] = set()
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                existing.update(
                    conn.execute(sa.select(S.reads.c.event_id).where(S.reads.c.event_id.in_(chunk))).scalars()
                )
            read_rows: list[dict[str, Any]] = []
            crop_rows: list[dict[str, Any]] = []
            alert_rows: list[dict[str, Any]] = []
            out_rows: list[dict[str, Any]] = []
            seen: set[str] = set()
            for it in items:
                ev = it.event
                if ev.event_id in existing or ev.event_id in seen:
                    continue
                seen.add(ev.event_id)
                ts_ms = parse_ts_ms(ev.ts)
                bidx = ring.blind_index(ev.plate)
                aad = ev.event_id.encode()
                extra = {k: getattr(ev, k, None) for k in _EXTRA}
                read_rows.append(
                    {
                        "event_id": ev.event_id,
                        "camera": ev.camera,
                        "ts": ev.ts,
                        "ts_ms": ts_ms,
                        "plate_ct": ring.encrypt_text(ev.plate, aad),
                        "plate_bidx": bidx,
                        "key_id": ring.active,
                        "confidence": float(ev.confidence),
                        "extra": orjson.dumps(extra).decode(),
                        "has_crop": it.crop_jpeg is not None,
                        "created_ms": t,
                    }
                )
                if it.crop_jpeg is not None:
                    crop_rows.append(
                        {
                            "event_id": ev.event_id,
                            "ts_ms": ts_ms,
                            "key_id": ring.active,
                            "data_ct": ring.encrypt(it.crop_jpeg, aad),
                        }
                    )
                plate_payload: bytes | None = None
                for sink in sinks:
                    if sink.plates:
                        # The MQTT / webhook plate message is the stream's event document as is.
                        plate_payload = plate_payload or _event_json(ev)
                        out_rows.append(
                            self._outbox_row(sink.name, f"alpr/{ev.camera}/plate", plate_payload, bidx, t)
                        )
                matches = best_per_entry(watch.match(ev.plate, ev.camera, t)) if watch is not None else []
                for m in matches:
                    alert_rows.append(
                        {
                            "event_id": ev.event_id,
                            "watchlist_id": m.entry.id,
                            "camera": ev.camera,
                            "ts": ev.ts,
                            "ts_ms": ts_ms,
                            "plate_ct": ring.encrypt_text(ev.plate, b"alert:" + aad),
                            "plate_bidx": bidx,
                            "key_id": ring.active,
                            "kind": m.entry.kind,
                            "reason": m.entry.reason,
                            "distance": m.distance,
                            "created_ms": t,
                        }
                    )
                    alert = {
                        "type": "alert",
                        "event_id": ev.event_id,
                        "camera": ev.camera,
                        "ts": ev.ts,
                        "plate": ev.plate,
                        "watchlist_id": m.entry.id,
                        "match": m.entry.kind,
                        "reason": m.entry.reason,
                        "distance": m.distance,
                        "event": orjson.loads(_event_json(ev)),
                    }
                    for sink in sinks:
                        if sink.alerts:
                            out_rows.append(
                                self._outbox_row(sink.name, f"alpr/{ev.camera}/alert", _dumps(alert), bidx, t)
                            )
            self._insert_many(conn, S.reads, read_rows)
            self._insert_many(conn, S.crops, crop_rows)
            self._insert_many(conn, S.alerts, alert_rows)
            self._insert_many(conn, S.outbox, out_rows)
            for pub, seq in cursors.items():
                self._set_cursor(conn, pub, seq)
        return IngestResult(len(read_rows), len(items) - len(read_rows), len(alert_rows))

    def _insert_many(self, conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
        """``executemany`` straight on the driver: the hot path skips SQLAlchemy's per-row processing
        (about a third of the ingest time); values are already plain str/int/float/bool/bytes."""
        if not rows:
            return
        cached = self._insert_sql.get(table.name)
        if cached is None:
            compiled = (
                table.insert()
                .values({k: sa.bindparam(k) for k in rows[0]})
                .compile(dialect=self.engine.dialect)
            )
            order = list(compiled.positiontup or [])
            cached = self._insert_sql[table.name] = (str(compiled), order, tuple(rows[0]))
        sql, order, keys = cached
        if tuple(rows[0]) != keys:
            conn.execute(table.insert(), rows)
        elif order:
            get = itemgetter(*order)
            conn.exec_driver_sql(sql, [get(r) for r in rows] if len(order) > 1 else [(get(r),) for r in rows])
        else:
            conn.exec_driver_sql(sql, rows)

    def _outbox_row(
        self, sink: str, topic: str, payload: bytes, bidx: str | None, t: int, retain: bool = False
    ) -> dict[str, Any]:
        return {
            "sink": sink,
            "topic": topic,
            "payload_ct": self.keyring.encrypt(payload, b"outbox"),
            "key_id": self.keyring.active,
            "plate_bidx": bidx,
            "retain": retain,
            "created_ms": t,
            "attempts": 0,
        }

    def _set_cursor(self, conn: Connection, publisher: str, seq: int) -> None:
        cur = conn.execute(sa.select(S.cursors.c.seq).where(S.cursors.c.publisher == publisher)).scalar()
        if cur is None:
            conn.execute(S.cursors.insert().values(publisher=publisher, seq=seq))
        elif seq > cur:
            conn.execute(S.cursors.update().where(S.cursors.c.publisher == publisher).values(seq=seq))

    def cursors(self) -> dict[str, int]:
        """The last stored sequence number per publisher (where a restarted consumer resumes)."""
        with self.engine.connect() as conn:
            return {r.publisher: int(r.seq) for r in conn.execute(sa.select(S.cursors))}

    # ---------------------------------------------------------------------------------- outbox
    def outbox_enqueue(self, sink: str, topic: str, payload: bytes, *, retain: bool = False) -> None:
        with self._begin() as conn:
            conn.execute(S.outbox.insert(), [self._outbox_row(sink, topic, payload, None, now_ms(), retain)])

    def outbox_fetch(self, sink: str, *, after_id: int = 0, limit: int = 500) -> list[OutboxRow]:
        q = (
            sa.select(
                S.outbox.c.id, S.outbox.c.topic, S.outbox.c.payload_ct, S.outbox.c.retain, S.outbox.c.attempts
            )
            .where(S.outbox.c.sink == sink, S.outbox.c.id > after_id)
            .order_by(S.outbox.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        return [
            OutboxRow(
                int(r.id),
                r.topic,
                self.keyring.decrypt(r.payload_ct, b"outbox"),
                bool(r.retain),
                int(r.attempts),
            )
            for r in rows
        ]

    def outbox_delete(self, ids: Iterable[int]) -> int:
        """Forget delivered rows. Not fsynced on SQLite: losing this commit to a power cut only means
        the rows are sent again (at least once), and it keeps the sinks off the disk's critical path."""
        ids = list(ids)
        n = 0
        try:
            with self.engine.connect() as conn:
                if self.is_sqlite:
                    conn.exec_driver_sql("PRAGMA synchronous=NORMAL")
                try:
                    for i in range(0, len(ids), 500):
                        n += conn.execute(
                            S.outbox.delete().where(S.outbox.c.id.in_(ids[i : i + 500]))
                        ).rowcount
                    conn.commit()
                finally:
                    if self.is_sqlite:
                        conn.exec_driver_sql("PRAGMA synchronous=FULL")
                        conn.commit()
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"store: {exc}") from exc
        return n

    def outbox_failed(self, ids: Iterable[int]) -> None:
        ids = list(ids)
        if ids:
            with self._begin() as conn:
                conn.execute(
                    S.outbox.update().where(S.outbox.c.id.in_(ids)).values(attempts=S.outbox.c.attempts + 1)
                )

    def outbox_pending(self) -> dict[str, int]:
        q = sa.select(S.outbox.c.sink, sa.func.count()).group_by(S.outbox.c.sink)
        with self.engine.connect() as conn:
            return {r[0]: int(r[1]) for r in conn.execute(q)}

    # ---------------------------------------------------------------------------------- reads
    def _read_dict(self, r: Any) -> dict[str, Any]:
        d: dict[str, Any] = {
            "event_id": r.event_id,
            "camera": r.camera,
            "ts": r.ts,
            "plate": self.keyring.decrypt_text(r.plate_ct, r.event_id.encode()),
            "confidence": r.confidence,
        }
        d.update(json.loads(r.extra))
        d["has_crop"] = bool(r.has_crop)
        return d

    def query_reads(
        self,
        *,
        plate: str | None = None,
        fuzzy: bool = False,
        max_distance: float = 1.0,
        camera: str | None = None,
        cameras: Sequence[str] | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int = 100,
        before_id: int | None = None,
        scan_limit: int = 50_000,
    ) -> tuple[list[dict[str, Any]], int | None]:
        """Reads newest first. Returns ``(items, next_before_id)``; ``next`` is None at the end.

        ``cameras`` is the caller's scope (None = all). ``plate`` exact uses the blind index; with
        ``fuzzy`` the rows are decrypted in batches and compared with :func:`plate_distance`.
        """
        c = S.reads.c
        conds: list[Any] = []
        if camera is not None:
            conds.append(c.camera == camera)
        if cameras is not None:
            conds.append(c.camera.in_(list(cameras)))
        if since_ms is not None:
            conds.append(c.ts_ms >= since_ms)
        if until_ms is not None:
            conds.append(c.ts_ms < until_ms)
        if plate is not None and not fuzzy:
            conds.append(c.plate_bidx == self.keyring.blind_index(plate))
        if before_id is not None:
            conds.append(c.id < before_id)
        with self.engine.connect() as conn:
            if plate is None or not fuzzy:
                rows = conn.execute(
                    sa.select(S.reads).where(*conds).order_by(c.id.desc()).limit(limit + 1)
                ).all()
                items = [self._read_dict(r) for r in rows[:limit]]
                nxt = int(rows[limit - 1].id) if len(rows) > limit else None
                return items, nxt
            target = normalize_plate(plate)
            out: list[dict[str, Any]] = []
            scanned = 0
            last_id: int | None = before_id
            while scanned < scan_limit:
                bconds = list(conds)
                if last_id is not None:
                    bconds.append(c.id < last_id)
                batch = conn.execute(
                    sa.select(S.reads)
                    .where(*bconds)
                    .order_by(c.id.desc())
                    .limit(min(FUZZY_BATCH, scan_limit - scanned))
                ).all()
                if not batch:
                    return out, None
                for r in batch:
                    scanned += 1
                    last_id = int(r.id)
                    p = normalize_plate(self.keyring.decrypt_text(r.plate_ct, r.event_id.encode()))
                    dist = plate_distance(p, target, limit=max_distance)
                    if dist <= max_distance:
                        d = self._read_dict(r)
                        d["distance"] = dist
                        out.append(d)
                        if len(out) >= limit:
                            return out, last_id
            return out, last_id

    def get_read(self, event_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            r = conn.execute(sa.select(S.reads).where(S.reads.c.event_id == event_id)).first()
        return None if r is None else self._read_dict(r)

    def get_crop(self, event_id: str) -> bytes | None:
        with self.engine.connect() as conn:
            r = conn.execute(sa.select(S.crops).where(S.crops.c.event_id == event_id)).first()
        return None if r is None else self.keyring.decrypt(r.data_ct, event_id.encode())

    def cameras(self, scope: Sequence[str] | None = None) -> list[dict[str, Any]]:
        c = S.reads.c
        q = sa.select(c.camera, sa.func.count(), sa.func.max(c.ts_ms)).group_by(c.camera).order_by(c.camera)
        if scope is not None:
            q = q.where(c.camera.in_(list(scope)))
        with self.engine.connect() as conn:
            return [
                {"camera": r[0], "reads": int(r[1]), "last_ts": iso_ms(int(r[2]))} for r in conn.execute(q)
            ]

    def stats(self, scope: Sequence[str] | None = None) -> dict[str, Any]:
        def count(table: sa.Table, extra: Any = None) -> int:
            q = sa.select(sa.func.count()).select_from(table)
            if scope is not None and "camera" in table.c:
                q = q.where(table.c.camera.in_(list(scope)))
            if extra is not None:
                q = q.where(extra)
            with self.engine.connect() as conn:
                return int(conn.execute(q).scalar() or 0)

        hour_ago = now_ms() - 3_600_000
        return {
            "reads": count(S.reads),
            "reads_last_hour": count(S.reads, S.reads.c.created_ms >= hour_ago),
            "alerts": count(S.alerts),
            "cameras": len(self.cameras(scope)),
            "watchlist": count(S.watchlist),
            "outbox_pending": self.outbox_pending(),
        }

    # ---------------------------------------------------------------------------------- alerts
    def query_alerts(
        self,
        *,
        camera: str | None = None,
        cameras: Sequence[str] | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> tuple[list[dict[str, Any]], int | None]:
        c = S.alerts.c
        conds: list[Any] = []
        if camera is not None:
            conds.append(c.camera == camera)
        if cameras is not None:
            conds.append(c.camera.in_(list(cameras)))
        if since_ms is not None:
            conds.append(c.ts_ms >= since_ms)
        if until_ms is not None:
            conds.append(c.ts_ms < until_ms)
        if before_id is not None:
            conds.append(c.id < before_id)
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(S.alerts).where(*conds).order_by(c.id.desc()).limit(limit + 1)
            ).all()
        items = [self._alert_dict(r) for r in rows[:limit]]
        return items, (int(rows[limit - 1].id) if len(rows) > limit else None)

    def _alert_dict(self, r: Any) -> dict[str, Any]:
        return {
            "id": int(r.id),
            "event_id": r.event_id,
            "watchlist_id": int(r.watchlist_id),
            "camera": r.camera,
            "ts": r.ts,
            "plate": self.keyring.decrypt_text(r.plate_ct, b"alert:" + r.event_id.encode()),
            "match": r.kind,
            "reason": r.reason,
            "distance": r.distance,
        }

    # ---------------------------------------------------------------------------------- watchlist
    def add_watch(
        self,
        pattern: str,
        *,
        kind: MatchKind = "exact",
        reason: str = "",
        max_distance: float = 1.0,
        expires_ms: int | None = None,
        cameras: Sequence[str] | None = None,
    ) -> int:
        row = self._watch_values(pattern, kind, reason, max_distance, expires_ms, cameras)
        row["created_ms"] = now_ms()
        with self._begin() as conn:
            return int(conn.execute(S.watchlist.insert().values(**row)).inserted_primary_key[0])

    def _watch_values(
        self,
        pattern: str,
        kind: MatchKind,
        reason: str,
        max_distance: float,
        expires_ms: int | None,
        cameras: Sequence[str] | None,
    ) -> dict[str, Any]:
        """Validated, encrypted column values of a watchlist entry (shared by add and update)."""
        if kind not in ("exact", "wildcard", "fuzzy"):
            raise ConfigError(f"watchlist kind: expected exact, wildcard or fuzzy, got {kind!r}")
        norm = normalize_pattern(pattern, kind)
        if not norm.strip("*?"):
            raise ConfigError(f"watchlist pattern: expected letters or digits, got {pattern!r}")
        return {
            "kind": kind,
            "pattern_ct": self.keyring.encrypt_text(norm, b"watch"),
            "pattern_bidx": self.keyring.blind_index(norm) if kind == "exact" else None,
            "key_id": self.keyring.active,
            "reason": reason,
            "max_distance": float(max_distance),
            "expires_ms": expires_ms,
            "cameras": json.dumps(list(cameras)) if cameras is not None else None,
        }

    def update_watch(
        self,
        watch_id: int,
        pattern: str,
        *,
        kind: MatchKind = "exact",
        reason: str = "",
        max_distance: float = 1.0,
        expires_ms: int | None = None,
        cameras: Sequence[str] | None = None,
    ) -> bool:
        values = self._watch_values(pattern, kind, reason, max_distance, expires_ms, cameras)
        with self._begin() as conn:
            return bool(
                conn.execute(
                    S.watchlist.update().where(S.watchlist.c.id == watch_id).values(**values)
                ).rowcount
            )

    def _watch_entry(self, r: Any) -> WatchEntry:
        return WatchEntry(
            id=int(r.id),
            pattern=self.keyring.decrypt_text(r.pattern_ct, b"watch"),
            kind=r.kind,
            reason=r.reason,
            max_distance=float(r.max_distance),
            expires_ms=None if r.expires_ms is None else int(r.expires_ms),
            cameras=None if r.cameras is None else tuple(json.loads(r.cameras)),
        )

    def list_watch(self) -> list[WatchEntry]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(S.watchlist).order_by(S.watchlist.c.id)).all()
        return [self._watch_entry(r) for r in rows]

    def get_watch(self, watch_id: int) -> WatchEntry | None:
        with self.engine.connect() as conn:
            r = conn.execute(sa.select(S.watchlist).where(S.watchlist.c.id == watch_id)).first()
        return None if r is None else self._watch_entry(r)

    def delete_watch(self, watch_id: int) -> bool:
        with self._begin() as conn:
            return bool(conn.execute(S.watchlist.delete().where(S.watchlist.c.id == watch_id)).rowcount)

    def watchlist(self) -> Watchlist:
        return Watchlist(self.list_watch())

    # ---------------------------------------------------------------------------------- tokens
    @staticmethod
    def _hash_token(token: str) -> str:
        # Tokens carry 256 random bits, so a fast unsalted hash is enough (no dictionary to attack).
        return hashlib.sha256(token.encode()).hexdigest()

    def create_token(self, role: str, *, cameras: Sequence[str] | None = None, name: str = "") -> str:
        """Create a bearer token and return it; only its SHA-256 is stored."""
        if role not in ROLES:
            raise ConfigError(f"role: expected one of {', '.join(ROLES)}, got {role!r}")
        token = "alpr_" + secrets.token_urlsafe(32)
        with self._begin() as conn:
            conn.execute(
                S.tokens.insert().values(
                    name=name or role,
                    token_hash=self._hash_token(token),
                    role=role,
                    cameras=json.dumps(list(cameras)) if cameras is not None else None,
                    created_ms=now_ms(),
                    revoked=False,
                )
            )
        return token

    def verify_token(self, token: str) -> TokenInfo | None:
        h = self._hash_token(token)
        with self.engine.connect() as conn:
            r = conn.execute(
                sa.select(S.tokens).where(S.tokens.c.token_hash == h, S.tokens.c.revoked.is_(False))
            ).first()
        if r is None or not secrets.compare_digest(r.token_hash, h):
            return None
        cams = None if r.cameras is None else tuple(json.loads(r.cameras))
        return TokenInfo(int(r.id), r.name, r.role, cams)

    def list_tokens(self) -> list[dict[str, Any]]:
        """Every token's id, name, role, cameras and state (never the token, which is not stored)."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(S.tokens).order_by(S.tokens.c.id)).all()
        return [
            {
                "id": int(r.id),
                "name": r.name,
                "role": r.role,
                "cameras": None if r.cameras is None else json.loads(r.cameras),
                "created": iso_ms(int(r.created_ms)),
                "revoked": bool(r.revoked),
            }
            for r in rows
        ]

    def revoke_token(self, token_id: int) -> bool:
        with self._begin() as conn:
            return bool(
                conn.execute(S.tokens.update().where(S.tokens.c.id == token_id).values(revoked=True)).rowcount
            )

    # ---------------------------------------------------------------------------------- audit
    def audit(self, token_id: int | None, action: str, detail: Mapping[str, Any], results: int) -> None:
        with self._begin() as conn:
            conn.execute(
                S.audit.insert().values(
                    ts_ms=now_ms(),
                    token_id=token_id,
                    action=action,
                    detail_ct=self.keyring.encrypt(_dumps(dict(detail)), b"audit"),
                    key_id=self.keyring.active,
                    results=results,
                )
            )

    def audit_log(self, limit: int = 100) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(S.audit).order_by(S.audit.c.id.desc()).limit(limit)).all()
        return [
            {
                "id": int(r.id),
                "ts": iso_ms(int(r.ts_ms)),
                "token_id": r.token_id,
                "action": r.action,
                "detail": orjson.loads(self.keyring.decrypt(r.detail_ct, b"audit")),
                "results": int(r.results),
            }
            for r in rows
        ]

    # ---------------------------------------------------------------------------------- privacy
    def export_plate(self, plate: str) -> dict[str, Any]:
        """Everything stored about ``plate`` (a data-subject access request), crops as base64."""
        import base64

        bidx = self.keyring.blind_index(plate)
        with self.engine.connect() as conn:
            reads = conn.execute(
                sa.select(S.reads).where(S.reads.c.plate_bidx == bidx).order_by(S.reads.c.id)
            ).all()
            alerts = conn.execute(
                sa.select(S.alerts).where(S.alerts.c.plate_bidx == bidx).order_by(S.alerts.c.id)
            ).all()
        items = []
        for r in reads:
            d = self._read_dict(r)
            crop = self.get_crop(r.event_id) if r.has_crop else None
            d["crop_jpeg_base64"] = base64.b64encode(crop).decode() if crop else None
            items.append(d)
        return {
            "plate": normalize_plate(plate),
            "reads": items,
            "alerts": [self._alert_dict(a) for a in alerts],
        }

    def erase_plate(self, plate: str) -> dict[str, int]:
        """Delete every read, crop, alert and undelivered message of ``plate``; returns counts."""
        bidx = self.keyring.blind_index(plate)
        with self._erasing() as conn:
            ev = list(
                conn.execute(sa.select(S.reads.c.event_id).where(S.reads.c.plate_bidx == bidx)).scalars()
            )
            n_crops = 0
            for i in range(0, len(ev), 500):
                n_crops += conn.execute(
                    S.crops.delete().where(S.crops.c.event_id.in_(ev[i : i + 500]))
                ).rowcount
            n_reads = conn.execute(S.reads.delete().where(S.reads.c.plate_bidx == bidx)).rowcount
            n_alerts = conn.execute(S.alerts.delete().where(S.alerts.c.plate_bidx == bidx)).rowcount
            n_out = conn.execute(S.outbox.delete().where(S.outbox.c.plate_bidx == bidx)).rowcount
        self.checkpoint()
        return {"reads": n_reads, "crops": n_crops, "alerts": n_alerts, "outbox": n_out}

    def checkpoint(self) -> None:
        """Fold the SQLite WAL into the main file so deleted rows stop lingering in ``-wal``."""
        if self.is_sqlite:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    # ---------------------------------------------------------------------------------- retention
    def enforce_retention(
        self,
        *,
        reads_days: float,
        crops_days: float,
        alerts_days: float,
        audit_days: float = 0,
        now: int | None = None,
    ) -> dict[str, int]:
        """Delete what is older than each period (by capture time; 0 days keeps forever)."""
        t = now_ms() if now is None else now
        out = {"reads": 0, "crops": 0, "alerts": 0, "audit": 0}
        day = 86_400_000
        with self._erasing() as conn:
            if crops_days > 0 or reads_days > 0:
                limits = [d for d in (crops_days, reads_days) if d > 0]
                cut = t - int(min(limits) * day)
                old = list(conn.execute(sa.select(S.crops.c.event_id).where(S.crops.c.ts_ms < cut)).scalars())
                for i in range(0, len(old), 500):
                    chunk = old[i : i + 500]
                    out["crops"] += conn.execute(
                        S.crops.delete().where(S.crops.c.event_id.in_(chunk))
                    ).rowcount
                    conn.execute(S.reads.update().where(S.reads.c.event_id.in_(chunk)).values(has_crop=False))
            if reads_days > 0:
                cut = t - int(reads_days * day)
                out["reads"] = conn.execute(S.reads.delete().where(S.reads.c.ts_ms < cut)).rowcount
            if alerts_days > 0:
                cut = t - int(alerts_days * day)
                out["alerts"] = conn.execute(S.alerts.delete().where(S.alerts.c.ts_ms < cut)).rowcount
            if audit_days > 0:
                cut = t - int(audit_days * day)
                out["audit"] = conn.execute(S.audit.delete().where(S.audit.c.ts_ms < cut)).rowcount
        if any(out.values()):
            self.checkpoint()
        return out

    # ---------------------------------------------------------------------------------- keys
    def rotate(self, keyring: Keyring | None = None, *, batch: int = 1000) -> int:
        """Re-encrypt every ciphertext not sealed with the active key. Returns the rows rewritten."""
        if keyring is not None:
            self.keyring = keyring
        ring = self.keyring
        specs: list[tuple[sa.Table, Any, str, Any]] = [
            (S.reads, S.reads.c.id, "plate_ct", lambda r: r.event_id.encode()),
            (S.crops, S.crops.c.event_id, "data_ct", lambda r: r.event_id.encode()),
            (S.alerts, S.alerts.c.id, "plate_ct", lambda r: b"alert:" + r.event_id.encode()),
            (S.outbox, S.outbox.c.id, "payload_ct", lambda r: b"outbox"),
            (S.watchlist, S.watchlist.c.id, "pattern_ct", lambda r: b"watch"),
            (S.audit, S.audit.c.id, "detail_ct", lambda r: b"audit"),
        ]
        total = 0
        for table, pk, col, aad in specs:
            while True:
                with self._begin() as conn:
                    rows = conn.execute(
                        sa.select(table).where(table.c.key_id != ring.active).limit(batch)
                    ).all()
                    for r in rows:
                        blob = ring.encrypt(ring.decrypt(getattr(r, col), aad(r)), aad(r))
                        conn.execute(
                            table.update()
                            .where(pk == getattr(r, pk.name))
                            .values({col: blob, "key_id": ring.active})
                        )
                total += len(rows)
                if len(rows) < batch:
                    break
        self.checkpoint()
        return total

    # ---------------------------------------------------------------------------------- helpers
    def _begin(self) -> Any:
        return _Tx(self.engine)

    @contextmanager
    def _erasing(self) -> Iterator[Connection]:
        """A transaction whose deletes overwrite the freed bytes (SQLite ``secure_delete``), for erasure
        and retention, so removed ciphertext does not linger in free pages."""
        try:
            with self.engine.connect() as conn:
                if self.is_sqlite:
                    conn.exec_driver_sql("PRAGMA secure_delete=ON")
                    conn.commit()  # ends SQLAlchemy's autobegun (empty) transaction
                try:
                    with conn.begin():
                        yield conn
                finally:
                    if self.is_sqlite:
                        conn.exec_driver_sql("PRAGMA secure_delete=OFF")
                        conn.commit()
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"store: {exc}") from exc


class _Tx:
    """``engine.begin()`` that turns driver errors into :class:`StoreError`."""

    def __init__(self, engine: Engine) -> None:
        self._cm = engine.begin()

    def __enter__(self) -> Connection:
        try:
            return self._cm.__enter__()
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"store: {exc}") from exc

    def __exit__(self, *exc: Any) -> bool | None:
        try:
            return self._cm.__exit__(*exc)
        except sa.exc.SQLAlchemyError as e:
            raise StoreError(f"store: {e}") from e


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    # FULL: a committed event (and its stream ack) survives power loss, not only a process crash.
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()
