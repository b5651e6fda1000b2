"""Watchlist entries (encrypted patterns, blind index for exact entries)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypedDict

import sqlalchemy as sa

from alpr.bridge import schema as S
from alpr.bridge.store.base import (
    StoreBase,
    now_ms,
)
from alpr.bridge.watchlist import (
    MatchKind,
    WatchEntry,
    Watchlist,
    normalize_pattern,
)
from alpr.errors import ConfigError

if TYPE_CHECKING:
    from typing_extensions import Unpack


class WatchOptions(TypedDict, total=False):
    """A watchlist entry's settings besides its pattern; each may be left out (its default in brackets).

    ``kind``: how the pattern matches, ``"exact"``, ``"wildcard"`` or ``"fuzzy"`` [``"exact"``];
    ``max_distance``: the plate distance a fuzzy entry still matches [1.0]; ``reason``: why the plate is
    watched, stored encrypted [``""``]; ``expires_ms``: when the entry ends, Unix ms [never];
    ``cameras``: the only cameras it applies to [all].
    """

    kind: MatchKind
    reason: str
    max_distance: float
    expires_ms: int | None
    cameras: Sequence[str] | None


class WatchMixin(StoreBase):
    """Part of :class:`~alpr.bridge.store.Store`."""

    def add_watch(self, pattern: str, **options: Unpack[WatchOptions]) -> int:
        """Add a watchlist entry for ``pattern`` with the settings ``options``; returns its id."""
        row = self._watch_values(pattern, **options)
        row["created_ms"] = now_ms()
        with self._begin() as conn:
            return int(conn.execute(S.watchlist.insert().values(**row)).inserted_primary_key[0])

    def _watch_values(
        self,
        pattern: str,
        *,
        kind: MatchKind = "exact",
        reason: str = "",
        max_distance: float = 1.0,
        expires_ms: int | None = None,
        cameras: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """Validated, encrypted column values of a watchlist entry (the one place of its defaults)."""
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
            "reason": "",  # in clear it would say why a plate is watched: sealed in reason_ct
            "reason_ct": self.keyring.encrypt_text(reason, b"watch.reason"),
            "max_distance": float(max_distance),
            "expires_ms": expires_ms,
            "cameras": json.dumps(list(cameras)) if cameras is not None else None,
        }

    def update_watch(self, watch_id: int, pattern: str, **options: Unpack[WatchOptions]) -> bool:
        """Replace watchlist entry ``watch_id`` (arguments as for :meth:`add_watch`); False if unknown."""
        values = self._watch_values(pattern, **options)
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
            reason=self._reason(r, b"watch.reason"),
            max_distance=float(r.max_distance),
            expires_ms=None if r.expires_ms is None else int(r.expires_ms),
            cameras=None if r.cameras is None else tuple(json.loads(r.cameras)),
        )

    def _reason(self, r: Any, aad: bytes) -> str:
        return str(r.reason) if r.reason_ct is None else self.keyring.decrypt_text(r.reason_ct, aad)

    def seal_reasons(self) -> int:
        """Encrypt the clear ``reason`` of rows written before revision 0002; returns the rows sealed.

        ``key_id`` stays: it names the oldest key a row may use, so ``rotate`` still finds the row.
        """
        ring = self.keyring
        n = 0
        with self._begin() as conn:
            w = S.watchlist
            for r in conn.execute(sa.select(w.c.id, w.c.reason).where(w.c.reason_ct.is_(None))).all():
                ct = ring.encrypt_text(r.reason, b"watch.reason")
                conn.execute(w.update().where(w.c.id == r.id).values(reason="", reason_ct=ct))
                n += 1
            a = S.alerts
            q = sa.select(a.c.id, a.c.event_id, a.c.reason).where(a.c.reason_ct.is_(None))
            for r in conn.execute(q).all():
                ct = ring.encrypt_text(r.reason, b"alert.reason:" + r.event_id.encode())
                conn.execute(a.update().where(a.c.id == r.id).values(reason="", reason_ct=ct))
                n += 1
        return n

    def list_watch(self) -> list[WatchEntry]:
        """Every watchlist entry, by id."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(S.watchlist).order_by(S.watchlist.c.id)).all()
        return [self._watch_entry(r) for r in rows]

    def get_watch(self, watch_id: int) -> WatchEntry | None:
        """Watchlist entry ``watch_id``, or None."""
        with self.engine.connect() as conn:
            r = conn.execute(sa.select(S.watchlist).where(S.watchlist.c.id == watch_id)).first()
        return None if r is None else self._watch_entry(r)

    def delete_watch(self, watch_id: int) -> bool:
        """Delete watchlist entry ``watch_id``; False when there is no such entry."""
        with self._begin() as conn:
            return bool(conn.execute(S.watchlist.delete().where(S.watchlist.c.id == watch_id)).rowcount)

    def replace_watch_source(self, source: str, entries: Sequence[Mapping[str, Any]]) -> int:
        """Make the entries imported from ``source`` (a hotlist file) exactly ``entries``, atomically.

        Each entry is a dict of ``pattern`` and any of the :class:`WatchOptions`. Entries added
        through the API (no source) are never touched. Returns how many entries ``source`` now has.
        """
        t = now_ms()
        rows = [self._watch_values(**e) | {"created_ms": t, "source": source} for e in entries]
        with self._begin() as conn:
            conn.execute(S.watchlist.delete().where(S.watchlist.c.source == source))
            if rows:
                conn.execute(S.watchlist.insert(), rows)
        return len(rows)

    def watchlist(self) -> Watchlist:
        """The current watchlist as a matcher."""
        return Watchlist(self.list_watch())
