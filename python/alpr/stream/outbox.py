"""The publisher's durable outbox.

Events are committed to SQLite (WAL) before they are sent, read back for replays, and pruned once
every known consumer acknowledged them; optionally AES-GCM encrypted in the key-id format of
:class:`alpr.stream.keys.DataKeys` (the bridge's store uses the same one).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sqlite3
import struct
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import zmq

from alpr._files import private_sqlite_file
from alpr.errors import ConfigError, StoreError
from alpr.stream.keys import DataKeys

__all__ = ["Outbox"]

log = logging.getLogger(__name__)

_DEFAULT_MEMORY_EVENTS = 100_000
_MAX_BATCH = 10_000
_SEQ = struct.Struct(">Q")
_NOBLOCK = int(zmq.NOBLOCK)
_CHECK = b"alpr-outbox"  # a plain int: pyzmq's enum arithmetic costs more than the send


class Outbox:
    """Events not yet acknowledged by every consumer, keyed by sequence number.

    A SQLite database (WAL mode) at ``path``, or in memory when ``path`` is None. One process at a
    time: a second one opening the same file gets a ``ConfigError``. Thread-safe.

    Args:
        path: database file, created if missing.
        max_events: keep at most this many events, deleting the oldest (counted in ``evicted``).
            None: unbounded for a file, 100,000 in memory.
        fsync: ``synchronous=FULL`` (survives power loss) instead of ``NORMAL`` (survives a crash of
            the process, the usual WAL trade-off; an order of magnitude faster).
        key: AES-GCM key (16, 24 or 32 bytes; its id is :func:`~alpr.stream.keys.fingerprint`) or
            :class:`~alpr.stream.keys.DataKeys` to encrypt event documents and crops at rest (camera
            names stay clear for topic filtering); needs the ``cryptography`` package. New rows are
            sealed with the active key; the keys of the rows still held must stay in the keyring
            until the outbox drains (a rotation: ``DataKeys.with_new_key``). An outbox written by
            alpr before the key-id format is converted to it when opened with its key.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None,
        *,
        max_events: int | None = None,
        fsync: bool = False,
        key: bytes | DataKeys | None = None,
    ):
        self._lock = threading.Lock()
        self._lockfile: int | None = None
        self._keys: DataKeys | None = None
        if isinstance(key, DataKeys):
            self._keys = key
        elif key is not None:
            if not isinstance(key, bytes) or len(key) not in (16, 24, 32):
                got = f"{len(key)} bytes" if isinstance(key, bytes) else type(key).__name__
                raise ValueError(f"outbox key: expected 16, 24 or 32 bytes (AES-GCM), got {got}")
            self._keys = DataKeys.single(key)
        self.path = None if path is None else Path(path)
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise ConfigError(f"outbox: {self.path} is already open in another publisher") from None
            self._lockfile = fd
            private_sqlite_file(self.path)  # plates (unless `key` is given): 0600, the WAL as well
        if max_events is None and self.path is None:
            max_events = _DEFAULT_MEMORY_EVENTS
        if max_events is not None and max_events < 1:
            raise ValueError(f"max_events: expected >= 1 or None, got {max_events}")
        self.max_events = max_events
        self.evicted = 0
        try:
            self._db = sqlite3.connect(
                ":memory:" if self.path is None else str(self.path),
                isolation_level=None,
                check_same_thread=False,
                timeout=30.0,
            )
            # One writer process by construction (the flock above): exclusive locking spares two
            # file-lock system calls per commit and the shared-memory index of the WAL.
            self._db.execute("PRAGMA locking_mode=EXCLUSIVE")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={'FULL' if fsync else 'NORMAL'}")
            self._db.executescript(
                """
                CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
                CREATE TABLE IF NOT EXISTS events (
                    seq INTEGER PRIMARY KEY, topic BLOB NOT NULL, body BLOB NOT NULL, crop BLOB
                );
                CREATE TABLE IF NOT EXISTS acks (consumer TEXT PRIMARY KEY, seq INTEGER NOT NULL,
                                                 updated REAL NOT NULL);
                """
            )
            row = self._db.execute("SELECT value FROM meta WHERE key = 'publisher_id'").fetchone()
            if row is None:
                self.publisher_id = uuid.uuid4().bytes
                self._db.execute("INSERT INTO meta VALUES ('publisher_id', ?)", (self.publisher_id,))
            else:
                self.publisher_id = bytes(row[0])
                if len(self.publisher_id) != 16:
                    raise ConfigError(f"outbox: {self.path} has a corrupt publisher id")
            row = self._db.execute("SELECT value FROM meta WHERE key = 'pruned'").fetchone()
            pruned = int(row[0]) if row is not None else 0
            (max_seq,) = self._db.execute("SELECT max(seq) FROM events").fetchone()
            self.last_seq: int = max(pruned, max_seq or 0)
            self._check_key()
        except sqlite3.DatabaseError as exc:
            self.close()
            raise StoreError(f"outbox: cannot open {self.path or ':memory:'}: {exc}") from exc
        except ConfigError:
            self.close()
            raise

    def _check_key(self) -> None:
        # meta 'key_check.<id>': a sealed constant for every key that sealed rows since the outbox was
        # last empty, so a missing or wrong key is an error at open, not at the first replay.
        (pending,) = self._db.execute("SELECT count(*) FROM events").fetchone()
        checks = {
            str(k): bytes(v)
            for k, v in self._db.execute(
                "SELECT key, value FROM meta WHERE key = 'key_check' OR key LIKE 'key_check.%'"
            )
        }
        legacy = checks.pop("key_check", None)  # written before the key-id format
        if not pending:
            self._db.execute("DELETE FROM meta WHERE key = 'key_check' OR key LIKE 'key_check.%'")
            checks, legacy = {}, None
        elif (legacy is not None or checks) and self._keys is None:
            raise ConfigError(f"outbox: {self.path} holds {pending} events and is encrypted: pass its key")
        elif legacy is None and not checks and self._keys is not None:
            raise ConfigError(
                f"outbox: {self.path} holds {pending} events and is not encrypted: drain it first"
            )
        if self._keys is None:
            return
        if legacy is not None:
            self._upgrade(self._keys, legacy)
        for name, blob in checks.items():
            try:
                self._keys.decrypt(blob, b"key_check")
            except StoreError as exc:
                raise ConfigError(
                    f"outbox: {self.path} holds {pending} events sealed with key {name[10:]!r} and was "
                    f"encrypted with another key ({exc}); keep that key until the outbox drains"
                ) from None
        name = f"key_check.{self._keys.active}"
        if name not in checks:
            check = self._keys.encrypt(_CHECK, b"key_check")
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, check))

    def _upgrade(self, keys: DataKeys, legacy_check: bytes) -> None:
        """Re-seal the rows of an outbox from before the key-id format (``nonce + AES-GCM``, one key)."""
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        def legacy_open(aead: AESGCM, seq: int, tag: bytes, blob: bytes) -> bytes:
            return aead.decrypt(blob[:12], blob[12:], _SEQ.pack(seq) + tag)

        for key in keys.keys.values():
            aead = AESGCM(key)
            try:
                legacy_open(aead, 0, b"k", legacy_check)
                break
            except (InvalidTag, ValueError):
                continue
        else:
            raise ConfigError(f"outbox: {self.path} was encrypted with another key")
        try:
            self._db.execute("BEGIN")
            last = 0
            while True:
                rows = self._db.execute(
                    "SELECT seq, body, crop FROM events WHERE seq > ? ORDER BY seq LIMIT 1000", (last,)
                ).fetchall()
                if not rows:
                    break
                resealed = []
                for seq, b, c in rows:
                    body = self._seal(seq, b"b", legacy_open(aead, seq, b"b", bytes(b)))
                    crop = (
                        None if c is None else self._seal(seq, b"c", legacy_open(aead, seq, b"c", bytes(c)))
                    )
                    resealed.append((body, crop, seq))
                self._db.executemany("UPDATE events SET body = ?, crop = ? WHERE seq = ?", resealed)
                last = rows[-1][0]
            self._db.execute("DELETE FROM meta WHERE key = 'key_check'")
            self._db.execute("COMMIT")
        except (InvalidTag, ValueError):
            self._rollback()
            raise StoreError(f"outbox: {self.path}: an event does not decrypt (corrupt)") from None
        except sqlite3.Error:
            self._rollback()
            raise
        log.info("outbox %s: converted to the key-id format", self.path)

    def _seal(self, seq: int, tag: bytes, data: bytes) -> bytes:
        # The sequence number and field are authenticated: rows cannot be swapped or replayed.
        assert self._keys is not None
        return self._keys.encrypt(data, _SEQ.pack(seq) + tag)

    def _open(self, seq: int, tag: bytes, blob: bytes) -> bytes:
        assert self._keys is not None
        try:
            return self._keys.decrypt(blob, _SEQ.pack(seq) + tag)
        except StoreError as exc:
            raise StoreError(f"outbox: event {seq} does not decrypt ({exc})") from None

    def append(self, rows: Sequence[tuple[bytes, bytes, bytes | None]]) -> int:
        """Append ``(topic, body, crop)`` rows in one transaction; returns the first sequence number."""
        with self._lock:
            first = self.last_seq + 1
            if self._keys is not None:
                rows = [
                    (t, self._seal(first + i, b"b", b), None if c is None else self._seal(first + i, b"c", c))
                    for i, (t, b, c) in enumerate(rows)
                ]
            if len(rows) == 1 and (self.max_events is None or first <= self.max_events):
                # One row: a single autocommit statement is its own transaction (saves two round trips).
                try:
                    self._db.execute(
                        "INSERT INTO events (seq, topic, body, crop) VALUES (?, ?, ?, ?)", (first, *rows[0])
                    )
                except sqlite3.Error as exc:
                    raise StoreError(f"outbox: cannot append an event: {exc}") from exc
                self.last_seq = first
                return first
            try:
                self._db.execute("BEGIN")
                self._db.executemany(
                    "INSERT INTO events (seq, topic, body, crop) VALUES (?, ?, ?, ?)",
                    [(first + i, t, b, c) for i, (t, b, c) in enumerate(rows)],
                )
                if self.max_events is not None:
                    cut = first + len(rows) - 1 - self.max_events
                    if cut > 0:
                        n = self._db.execute("DELETE FROM events WHERE seq <= ?", (cut,)).rowcount
                        self._set_pruned(cut)
                        if n > 0:
                            self.evicted += n
                            log.warning(
                                "outbox full (%d events): dropped %d unacknowledged", self.max_events, n
                            )
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise StoreError(f"outbox: cannot append {len(rows)} events: {exc}") from exc
            self.last_seq = first + len(rows) - 1
            return first

    def first_seq(self) -> int:
        """The oldest sequence number still stored (``last_seq + 1`` when empty)."""
        with self._lock:
            (seq,) = self._db.execute("SELECT min(seq) FROM events").fetchone()
            return self.last_seq + 1 if seq is None else int(seq)

    def read(
        self, from_seq: int, limit: int, topics: Sequence[str] = (), *, max_bytes: int = 16 << 20
    ) -> tuple[list[tuple[int, bytes, bytes, bytes | None]], int]:
        """Read up to ``limit`` events (and about ``max_bytes``) with seq >= ``from_seq``.

        Only ``topics`` when given.

        Returns ``(rows, through)``: rows of ``(seq, topic, body, crop)``; every sequence number in
        ``[from_seq, through]`` was scanned (``through = from_seq - 1`` when nothing is left).
        """
        rows: list[tuple[int, bytes, bytes, bytes | None]] = []
        size = 0
        with self._lock:
            last = self.last_seq
            cursor = self._db.execute(
                "SELECT seq, topic, body, crop FROM events WHERE seq >= ? ORDER BY seq LIMIT ?",
                (from_seq, limit),
            )
            for s, t, b, c in cursor:
                if self._keys is not None:
                    b = self._open(s, b"b", b)
                    c = None if c is None else self._open(s, b"c", c)
                rows.append((int(s), bytes(t), bytes(b), None if c is None else bytes(c)))
                size += len(b) + (0 if c is None else len(c))
                if size >= max_bytes:
                    break  # big crops: keep one reply message a reasonable size
            cursor.close()
        full = len(rows) == limit or size >= max_bytes
        through = rows[-1][0] if full else max(last, from_seq - 1)
        if topics:
            wanted = {t.encode() for t in topics}
            rows = [r for r in rows if r[1] in wanted]
        return rows, through

    def forget(self, consumer: str) -> bool:
        """Drop a consumer's acknowledgement (a decommissioned consumer no longer holds events back).

        Returns whether it was known. Pruning resumes at the next acknowledgement of another consumer.
        """
        with self._lock:
            n = self._db.execute("DELETE FROM acks WHERE consumer = ?", (consumer,)).rowcount
            return n > 0

    def acked(self, consumer: str) -> int | None:
        """The last sequence number ``consumer`` acknowledged, or None if it never did."""
        with self._lock:
            row = self._db.execute("SELECT seq FROM acks WHERE consumer = ?", (consumer,)).fetchone()
            return None if row is None else int(row[0])

    def ack(self, consumer: str, seq: int) -> int:
        """Record that ``consumer`` stored everything up to ``seq``; prune what all consumers acked.

        Returns the number of events deleted.
        """
        with self._lock:
            seq = min(seq, self.last_seq)
            try:
                self._db.execute("BEGIN")
                self._db.execute(
                    "INSERT INTO acks VALUES (?, ?, ?) ON CONFLICT (consumer) DO UPDATE "
                    "SET seq = max(seq, excluded.seq), updated = excluded.updated",
                    (consumer, seq, time.time()),
                )
                (low,) = self._db.execute("SELECT min(seq) FROM acks").fetchone()
                n = self._db.execute("DELETE FROM events WHERE seq <= ?", (low,)).rowcount
                if n:
                    self._set_pruned(low)
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise StoreError(f"outbox: cannot record ack: {exc}") from exc
            return n

    def pending(self) -> int:
        """Number of events stored (not yet acknowledged by every consumer)."""
        with self._lock:
            (n,) = self._db.execute("SELECT count(*) FROM events").fetchone()
            return int(n)

    def close(self) -> None:
        """Close the database (idempotent)."""
        with self._lock:
            db = getattr(self, "_db", None)
            if db is not None:
                db.close()
                self._db = None  # type: ignore[assignment]
            if self._lockfile is not None:
                os.close(self._lockfile)
                self._lockfile = None

    def _set_pruned(self, seq: int) -> None:
        self._db.execute(
            "INSERT INTO meta VALUES ('pruned', ?) ON CONFLICT (key) DO UPDATE "
            "SET value = max(CAST(value AS INTEGER), excluded.value)",
            (seq,),
        )

    def _rollback(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._db.execute("ROLLBACK")
