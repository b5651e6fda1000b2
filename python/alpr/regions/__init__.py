r"""Plate formats per region, loaded from the TOML files in this folder (or your own).

A region file holds ``region``, ``name`` and a list of ``[[formats]]``, each with an ``id``, a
``name`` and ``patterns``. Pattern syntax (shared with :func:`alpr.ops.ctc_decode_constrained`):
``L`` a letter A-Z, ``9`` a digit, ``*`` a letter or digit, ``[...]`` a character class (ranges
allowed, e.g. ``[A-HJ-NP-Z]``), ``\X`` the literal ``X``, any other character itself.

Adding a country: write ``my_country.toml`` like ``br.toml`` and list it in the config
(``[regions] extra_files = ["my_country.toml"]`` and ``enabled = ["xx-myformat"]`` or the region code).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from alpr._compat import tomllib
from alpr.errors import ConfigError

__all__ = [
    "CONFUSABLES",
    "PlateFormat",
    "RegionSet",
    "builtin_regions",
    "confusable_variant",
    "load_region_file",
    "parse_pattern",
]

_HERE = Path(__file__).resolve().parent
_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_DIGITS = frozenset("0123456789")

# Pairs a plate OCR commonly swaps; a read is corrected only where a format allows just one of them.
CONFUSABLES: dict[str, str] = {
    "O": "0", "0": "O", "I": "1", "1": "I", "B": "8", "8": "B",
    "S": "5", "5": "S", "Z": "2", "2": "Z", "G": "6", "6": "G",
}  # fmt: skip


def confusable_variant(read: str, candidate: str, max_swaps: int = 2) -> bool:
    """Whether ``candidate`` is ``read`` with at most ``max_swaps`` confusable characters swapped.

    Each changed position turns a character into its :data:`CONFUSABLES` twin; equal texts count.
    """
    if len(read) != len(candidate):
        return False
    swaps = 0
    for a, b in zip(read, candidate, strict=True):
        if a != b:
            if CONFUSABLES.get(a) != b:
                return False
            swaps += 1
    return swaps <= max_swaps


def parse_pattern(pattern: str) -> list[frozenset[str]]:
    r"""Split a pattern into the set of characters allowed at each position.

    The parsing is the native decoder's own (``alpr._native.parse_pattern``), so the format matcher
    and constrained decoding can never disagree on a pattern: ``L`` letter, ``9`` digit, ``*`` either,
    ``[...]`` a class with ranges (``\X`` inside is a literal X, so ``[A\-Z]`` is A, - or Z), ``\X`` a
    literal, anything else itself.

    Raises:
        ConfigError: unterminated ``[`` class, dangling ``\``, a reversed range, an empty class or
            pattern.
    """
    from alpr import _native

    try:
        positions = _native.parse_pattern(pattern)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    return [
        frozenset(chr(c) for lo, hi in ranges for c in range(ord(lo), ord(hi) + 1)) for ranges in positions
    ]


@dataclass(frozen=True, slots=True)
class PlateFormat:
    """One plate format: an id such as ``"br-mercosur"``, a readable name and its patterns."""

    id: str
    name: str
    region: str
    patterns: tuple[str, ...]


def load_region_file(path: str | Path) -> list[PlateFormat]:
    """Read one region file (TOML, or JSON with the same keys).

    Raises:
        ConfigError: unreadable file, missing keys, or a bad pattern (the message names the file).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
        if p.suffix.lower() == ".json":
            import json

            data = json.loads(text)
        else:
            data = tomllib.loads(text)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read region file {p}: {exc}") from exc
    region = data.get("region")
    formats = data.get("formats")
    if not isinstance(region, str) or not isinstance(formats, list) or not formats:
        raise ConfigError(f"region file {p}: expected 'region' (string) and a non-empty [[formats]] list")
    out = []
    for k, fmt in enumerate(formats):
        if not isinstance(fmt, dict) or not isinstance(fmt.get("id"), str) or not fmt.get("patterns"):
            raise ConfigError(f"region file {p}: format #{k} needs an 'id' and 'patterns'")
        patterns = tuple(str(x) for x in fmt["patterns"])
        for pat in patterns:
            try:
                parse_pattern(pat)
            except ConfigError as exc:
                raise ConfigError(f"region file {p}, format {fmt['id']}: {exc}") from exc
        out.append(
            PlateFormat(fmt["id"], str(fmt.get("name", fmt["id"])), region, tuple(dict.fromkeys(patterns)))
        )
    return out


@cache
def builtin_regions() -> dict[str, tuple[PlateFormat, ...]]:
    """The region files shipped with alpr, by region code (``us``, ``eu``, ``br``, ``cn``)."""
    out: dict[str, tuple[PlateFormat, ...]] = {}
    for f in sorted(_HERE.glob("*.toml")):
        formats = load_region_file(f)
        out[formats[0].region] = tuple(formats)
    return out


class RegionSet:
    """A set of plate formats: flattened patterns for constrained decoding, matching, correction.

    Patterns are de-duplicated: a pattern shared by several formats is labelled with the first.

    Args:
        formats: The formats, in priority order.
        charset: When given, patterns that need a character outside it are dropped (e.g. the
            Chinese patterns for a Latin-only model).
    """

    def __init__(self, formats: Iterable[PlateFormat], charset: str | None = None) -> None:
        allowed = None if charset is None else frozenset(charset)
        self.formats: tuple[PlateFormat, ...] = tuple(formats)
        patterns: list[str] = []
        owners: list[str] = []
        slots: list[list[frozenset[str]]] = []
        for fmt in self.formats:
            for pat in fmt.patterns:
                if pat in patterns:
                    continue  # shared by an earlier format (e.g. LLL9999): that format labels it
                sets = parse_pattern(pat)
                if allowed is not None:
                    sets = [s & allowed for s in sets]
                    if any(not s for s in sets):
                        continue
                patterns.append(pat)
                owners.append(fmt.id)
                slots.append(sets)
        self.patterns: tuple[str, ...] = tuple(patterns)
        self.owners: tuple[str, ...] = tuple(owners)
        self._slots = slots
        self._regex = [
            re.compile("".join("[" + "".join(map(re.escape, sorted(s))) + "]" for s in sl)) for sl in slots
        ]

    @classmethod
    def from_names(
        cls, names: Sequence[str], extra_files: Sequence[str | Path] = (), charset: str | None = None
    ) -> RegionSet:
        """Build from region codes (``"us"``) or format ids (``"br-mercosur"``) plus extra files.

        An empty ``names`` with no extra files means every built-in format.

        Raises:
            ConfigError: an unknown name (the message lists the known ones).
        """
        pool: dict[str, tuple[PlateFormat, ...]] = dict(builtin_regions())
        extra: list[PlateFormat] = []
        for f in extra_files:
            fmts = load_region_file(f)
            extra.extend(fmts)
            pool[fmts[0].region] = pool.get(fmts[0].region, ()) + tuple(fmts)
        by_id = {fmt.id: fmt for fmts in pool.values() for fmt in fmts}
        if not names:
            return cls(extra or [f for fmts in pool.values() for f in fmts], charset)
        chosen: list[PlateFormat] = []
        for name in names:
            key = name.lower()
            if key in pool:
                chosen.extend(pool[key])
            elif key in by_id:
                chosen.append(by_id[key])
            else:
                known = sorted(pool) + sorted(by_id)
                raise ConfigError(f"unknown region or format {name!r}; known: {', '.join(known)}")
        return cls(dict.fromkeys(chosen), charset)

    def __len__(self) -> int:
        return len(self.patterns)

    def match(self, text: str) -> str | None:
        """The id of the first format whose pattern ``text`` fully matches, else ``None``."""
        for rx, owner in zip(self._regex, self.owners, strict=True):
            if rx.fullmatch(text):
                return owner
        return None

    def owner(self, pattern_index: int) -> str | None:
        """Format id for a pattern index returned by constrained decoding (``-1`` -> ``None``)."""
        return self.owners[pattern_index] if 0 <= pattern_index < len(self.owners) else None

    def resolve(self, text: str) -> tuple[str, str | None]:
        """Correct confusable characters where a format decides; returns ``(text, format id)``.

        A character is swapped for its confusable twin (O/0, I/1, B/8, S/5, Z/2, G/6) only at positions
        where the pattern forbids it and allows the twin. Among same-length patterns the one needing the
        fewest swaps wins (ties: the first). Text that no pattern fits is returned unchanged with ``None``.
        """
        best: tuple[int, str, str] | None = None
        for sets, owner in zip(self._slots, self.owners, strict=True):
            if len(sets) != len(text):
                continue
            fixed = []
            swaps = 0
            for ch, allowed in zip(text, sets, strict=True):
                if ch in allowed:
                    fixed.append(ch)
                elif CONFUSABLES.get(ch) in allowed:
                    fixed.append(CONFUSABLES[ch])
                    swaps += 1
                else:
                    break
            else:
                if best is None or swaps < best[0]:
                    best = (swaps, "".join(fixed), owner)
                    if swaps == 0:
                        break
        if best is None:
            return text, None
        return best[1], best[2]
