"""One ingest batch's view of the parking sessions and permits it may touch.

Correlation used to ask the database for the candidate sessions (and the plate's permits) of every
entry or exit read, three to four queries per read. Within one ingest transaction, with the sites'
advisory locks held, nothing else changes those rows, so the batch loads each touched site's open
and recently closed sessions once (for the batch's time span), answers every read from memory in
time order, and applies its own openings and closings to that view as it goes. Permits are fetched
once for all the batch's plates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from alpr.bridge import schema as S

__all__ = ["CachedSession", "PermitCache", "SessionCache"]


@dataclass(slots=True)
class CachedSession:
    """A parking session as correlation needs it, with its plate decrypted."""

    id: int
    entry_ms: int
    exit_ms: int | None
    plate_bidx: str
    plate_ct: bytes
    entry_event_id: str
    entry_camera: str
    paid_ms: int | None
    plate: str


class SessionCache:
    """The open and recently closed sessions of the sites one batch touches.

    Args:
        conn: the ingest transaction's connection.
        decrypt: ``(ciphertext, aad) -> text`` (the store's keyring).
        spans: per site, ``(earliest, latest)`` read time of the batch there, milliseconds.
        windows: per site, how far back an open session may be matched, milliseconds.
        dedup_ms: how far back a closed session still absorbs a second exit read.
    """

    def __init__(
        self,
        conn: Connection,
        decrypt: Callable[[bytes, bytes], str],
        spans: dict[str, tuple[int, int]],
        windows: dict[str, int],
        dedup_ms: int,
    ) -> None:
        self._conn, self._decrypt, self._spans, self._windows = conn, decrypt, spans, windows
        self._dedup = dedup_ms
        self._open: dict[str, list[CachedSession]] = {}
        self._closed: dict[str, list[CachedSession]] = {}

    def _load(self, site: str) -> None:
        lo, hi = self._spans[site]
        c = S.parking_sessions.c
        opened = sa.and_(c.state == "open", c.entry_ms >= lo - self._windows[site], c.entry_ms <= hi)
        closed = sa.and_(c.state == "closed", c.exit_ms >= lo - self._dedup, c.exit_ms <= hi)
        q = sa.select(S.parking_sessions).where(c.site == site, sa.or_(opened, closed))
        self._open[site], self._closed[site] = [], []
        for r in self._conn.execute(q):
            s = CachedSession(
                int(r.id), int(r.entry_ms), None if r.exit_ms is None else int(r.exit_ms), r.plate_bidx,
                r.plate_ct, r.entry_event_id, r.entry_camera, r.paid_ms,
                self._decrypt(r.plate_ct, b"session:" + r.entry_event_id.encode()),
            )  # fmt: skip
            (self._open if r.state == "open" else self._closed)[site].append(s)

    def open_sessions(self, site: str, ts: int, since_ms: int) -> list[CachedSession]:
        """Open sessions of ``site`` that entered in ``[ts - since_ms, ts]``."""
        if site not in self._open:
            self._load(site)
        return [s for s in self._open[site] if ts - since_ms <= s.entry_ms <= ts]

    def closed_sessions(self, site: str, ts: int) -> list[CachedSession]:
        """Sessions of ``site`` closed in the last ``dedup_ms`` before ``ts``."""
        if site not in self._closed:
            self._load(site)
        lo = ts - self._dedup
        return [s for s in self._closed[site] if s.exit_ms is not None and lo <= s.exit_ms <= ts]

    def opened(self, site: str, session: CachedSession) -> None:
        """Record a session this batch opened."""
        if site not in self._open:
            self._load(site)
        self._open[site].append(session)

    def closed(self, site: str, session: CachedSession, exit_ms: int) -> None:
        """Record that this batch closed ``session`` at ``exit_ms``."""
        self._open[site] = [s for s in self._open[site] if s.id != session.id]
        session.exit_ms = exit_ms
        self._closed[site].append(session)


class PermitCache:
    """The local permits of the plates one batch reads, by blind index (fetched once, then on a miss).

    Args:
        conn: the ingest transaction's connection.
        to_permit: the store's row -> :class:`~alpr.bridge.store.sites.Permit` (decrypts).
        bidxs: the blind indexes to fetch up front.
    """

    def __init__(self, conn: Connection, to_permit: Callable[[Any], Any], bidxs: Iterable[str]) -> None:
        self._conn, self._to_permit = conn, to_permit
        self._by_bidx: dict[str, list[Any]] = {}
        self._fetch(sorted(set(bidxs)))

    def _fetch(self, bidxs: list[str]) -> None:
        if not bidxs:
            return
        for b in bidxs:
            self._by_bidx[b] = []
        q = sa.select(S.permits).where(S.permits.c.plate_bidx.in_(bidxs)).order_by(S.permits.c.id)
        for r in self._conn.execute(q):
            self._by_bidx[r.plate_bidx].append(self._to_permit(r))

    def permits(self, bidx: str) -> list[Any]:
        """The permits of the plate with blind index ``bidx``, oldest first."""
        if bidx not in self._by_bidx:
            self._fetch([bidx])
        return self._by_bidx[bidx]
