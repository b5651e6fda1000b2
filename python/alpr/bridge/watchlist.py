"""Watchlist matching: exact, wildcard (``*`` any run, ``?`` one character) and fuzzy.

Fuzzy matching uses an edit distance in which substituting one OCR-confusable character for its twin
(O/0, I/1, B/8, S/5, Z/2, G/6, D/0, Q/0, ...) costs :data:`CONFUSABLE_COST` instead of 1, so ``AB0123``
is 0.25 away from ``ABO123`` but a full 1.0 away from ``ABX123``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fnmatch import translate
from typing import Literal

from alpr.bridge.crypto import normalize_plate

__all__ = [
    "CONFUSABLE_COST",
    "Match",
    "WatchEntry",
    "Watchlist",
    "plate_distance",
]

CONFUSABLE_COST = 0.25
_PAIRS = ["O0", "I1", "B8", "S5", "Z2", "G6", "D0", "Q0", "OD", "OQ", "DQ", "IL", "L1", "A4", "T7", "UV"]
_CONFUSABLE: frozenset[tuple[str, str]] = frozenset(
    {(p[0], p[1]) for p in _PAIRS} | {(p[1], p[0]) for p in _PAIRS}
)

MatchKind = Literal["exact", "wildcard", "fuzzy"]


def _classes() -> dict[str, str]:
    """Each character -> a representative of its confusable class (closure of the pairs)."""
    rep = {c: c for p in _PAIRS for c in p}

    def find(c: str) -> str:
        while rep[c] != c:
            c = rep[c]
        return c

    for pair in _PAIRS:
        rep[find(pair[0])] = find(pair[1])
    return {c: find(c) for c in rep}


_CLASS = _classes()
_CLASS_TABLE = str.maketrans(_CLASS)


def confusable_skeleton(plate: str) -> frozenset[str]:
    """The set of confusable classes in ``plate`` (O, 0, D, Q all map to one class, and so on)."""
    return frozenset(plate.translate(_CLASS_TABLE))


def distance_lower_bound(a: frozenset[str], b: frozenset[str]) -> int:
    """A cheap lower bound of :func:`plate_distance` from two :func:`confusable_skeleton` sets.

    A class present in one plate and absent from the other needs at least one edit of cost 1 per
    class (confusable substitutions stay inside a class), and one edit fixes at most one class on
    each side.
    """
    return max(len(a - b), len(b - a))


def _sub_cost(a: str, b: str) -> float:
    if a == b:
        return 0.0
    return CONFUSABLE_COST if (a, b) in _CONFUSABLE else 1.0


def plate_distance(a: str, b: str, *, limit: float | None = None) -> float:
    """Weighted Levenshtein distance between two normalized plates.

    Insertions and deletions cost 1, substitutions 1 or :data:`CONFUSABLE_COST` for confusable pairs.
    With ``limit``, returns early (some value > limit) once every path already exceeds it.
    """
    if a == b:
        return 0.0
    if limit is not None and abs(len(a) - len(b)) > limit:
        return float(abs(len(a) - len(b)))
    prev = [float(j) for j in range(len(b) + 1)]
    for i, ca in enumerate(a, 1):
        cur = [float(i)] + [0.0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1.0, cur[j - 1] + 1.0, prev[j - 1] + _sub_cost(ca, cb))
        if limit is not None and min(cur) > limit:
            return min(cur)
        prev = cur
    return prev[-1]


@dataclass(frozen=True, slots=True)
class WatchEntry:
    """One watchlist row, decrypted. ``pattern`` is normalized (wildcards kept)."""

    id: int
    pattern: str
    kind: MatchKind
    reason: str
    max_distance: float = 1.0
    expires_ms: int | None = None
    cameras: tuple[str, ...] | None = None

    def active(self, now_ms: int) -> bool:
        """Whether the entry is in force at ``now_ms`` (not expired)."""
        return self.expires_ms is None or self.expires_ms > now_ms


@dataclass(frozen=True, slots=True)
class Match:
    """A watchlist hit: the entry and the edit distance of the read from it."""

    entry: WatchEntry
    distance: float


def normalize_pattern(pattern: str, kind: MatchKind) -> str:
    if kind == "wildcard":
        return "".join(c for c in pattern.upper() if c.isalnum() or c in "*?")
    return normalize_plate(pattern)


class Watchlist:
    """An in-memory matcher over the decrypted entries (watchlists are small; reads are many)."""

    def __init__(self, entries: Iterable[WatchEntry] = ()) -> None:
        self._exact: dict[str, list[WatchEntry]] = {}
        self._wild: list[tuple[re.Pattern[str], WatchEntry]] = []
        self._fuzzy: list[tuple[frozenset[str], WatchEntry]] = []
        for e in entries:
            if e.kind == "exact":
                self._exact.setdefault(e.pattern, []).append(e)
            elif e.kind == "wildcard":
                self._wild.append((re.compile(translate(e.pattern)), e))
            else:
                self._fuzzy.append((confusable_skeleton(e.pattern), e))

    def __len__(self) -> int:
        return sum(map(len, self._exact.values())) + len(self._wild) + len(self._fuzzy)

    def match(self, plate: str, camera: str | None = None, now_ms: int | None = None) -> list[Match]:
        """Every active entry that ``plate`` hits, best (smallest distance) first."""
        now = int(time.time() * 1000) if now_ms is None else now_ms
        p = normalize_plate(plate)
        out: list[Match] = [Match(e, 0.0) for e in self._exact.get(p, ())]
        out += [Match(e, 0.0) for rx, e in self._wild if rx.match(p)]
        sk = confusable_skeleton(p) if self._fuzzy else frozenset()
        for esk, e in self._fuzzy:
            if distance_lower_bound(sk, esk) > e.max_distance:
                continue
            d = plate_distance(p, e.pattern, limit=e.max_distance)
            if d <= e.max_distance:
                out.append(Match(e, d))
        keep = [
            m
            for m in out
            if m.entry.active(now)
            and (m.entry.cameras is None or camera is None or camera in m.entry.cameras)
        ]
        keep.sort(key=lambda m: (m.distance, m.entry.id))
        return keep


def best_per_entry(matches: Sequence[Match]) -> list[Match]:
    seen: set[int] = set()
    out = []
    for m in matches:
        if m.entry.id not in seen:
            seen.add(m.entry.id)
            out.append(m)
    return out
