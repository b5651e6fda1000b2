"""Hotlists: watchlists imported from CSV files (stolen-vehicle feeds), reloaded on a schedule.

File format (UTF-8, comma-separated, header optional)::

    plate,reason,expires
    AB123CD,stolen 2026-11-02,2027-01-01T00:00:00Z
    XY999,,

Only ``plate`` is required; ``reason`` defaults to the hotlist's ``reason`` and ``expires`` (ISO 8601)
to never. Lines starting with ``#`` and blank lines are skipped. The entries of one file replace the
previous import of that file in one transaction (entries added through the API stay), and the
bridge reloads its matcher. A file that cannot be read or parsed leaves the previous import in place
and is logged; the next pass tries again. A file is re-imported only when its content changed.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alpr.bridge.config import Hotlist
from alpr.bridge.crypto import normalize_plate
from alpr.bridge.store import Store, parse_ts_ms
from alpr.errors import ConfigError, StoreError

__all__ = ["HotlistLoader", "parse_hotlist"]

log = logging.getLogger("alpr.bridge.hotlists")


def parse_hotlist(text: str, cfg: Hotlist) -> list[dict[str, Any]]:
    """The watchlist entries of one CSV document. Raises ConfigError naming the bad line."""
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise ConfigError(f"{cfg.path}: not a CSV file: {exc}") from None
    out: list[dict[str, Any]] = []
    for n, row in enumerate(rows, 1):
        if not row or not row[0].strip() or row[0].lstrip().startswith("#"):
            continue
        plate = row[0].strip()
        if n == 1 and plate.lower() == "plate":
            continue  # the header
        if not normalize_plate(plate) or len(plate) > 32:
            raise ConfigError(
                f"{cfg.path}:{n}: expected a plate of 1-32 letters or digits, got {plate[:40]!r}"
            )
        reason = row[1].strip() if len(row) > 1 and row[1].strip() else cfg.reason
        expires = None
        if len(row) > 2 and row[2].strip():
            try:
                expires = parse_ts_ms(row[2].strip())
            except StoreError:
                raise ConfigError(
                    f"{cfg.path}:{n}: expires: expected ISO 8601, got {row[2][:40]!r}"
                ) from None
        out.append(
            {
                "pattern": plate,
                "kind": cfg.kind,
                "reason": reason[:256],
                "max_distance": cfg.max_distance,
                "expires_ms": expires,
            }
        )
    return out


@dataclass
class HotlistLoader:
    """Imports each configured file when its content changed; call :meth:`poll` on a schedule."""

    store: Store
    hotlists: list[Hotlist]
    digests: dict[str, str] = field(default_factory=dict)

    def poll(self) -> int:
        """Import the files that changed; returns how many were (re)imported."""
        changed = 0
        for cfg in self.hotlists:
            source = str(cfg.path)
            try:
                data = Path(cfg.path).read_bytes()
                digest = hashlib.sha256(data).hexdigest()
                if self.digests.get(source) == digest:
                    continue
                entries = parse_hotlist(data.decode("utf-8"), cfg)
                n = self.store.replace_watch_source(source, entries)
            except (OSError, UnicodeDecodeError, ConfigError, StoreError) as exc:
                log.warning("hotlist %s not imported (the previous import stays): %s", source, exc)
                continue
            self.digests[source] = digest
            changed += 1
            log.info("hotlist %s: %d entries", source, n)
        return changed
