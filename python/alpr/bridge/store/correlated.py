"""Privacy for sessions, anomalies, journeys and permits: export, erasure, retention, key rotation.

They follow the reads: a plate's export holds them, its erasure removes them (found through the
blind index of the plate as read at the entry / in the journey; a session closed by a misread exit is
found by its entry plate), retention drops them with the reads (closed sessions by exit time; open
sessions stay, they are the current occupancy) and key rotation re-encrypts every ciphertext column.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from alpr.bridge import schema as S
from alpr.bridge.crypto import Keyring
from alpr.bridge.store.base import iso_ms, now_ms
from alpr.bridge.store.journeys import JourneysMixin
from alpr.bridge.store.parking import ParkingMixin

__all__ = ["CorrelatedPrivacyMixin"]

Aad = Callable[[Any], bytes]


def _specs() -> list[tuple[sa.Table, list[tuple[str, Aad]]]]:
    return [
        (
            S.parking_sessions,
            [
                ("plate_ct", lambda r: b"session:" + r.entry_event_id.encode()),
                ("exit_plate_ct", lambda r: b"session-exit:" + r.entry_event_id.encode()),
            ],
        ),
        (S.permits, [("plate_ct", lambda r: b"permit"), ("name_ct", lambda r: b"permit-name")]),
        (S.anomalies, [("plate_ct", lambda r: f"anomaly:{r.kind}:{r.event_id}".encode())]),
        (S.journeys, [("plate_ct", lambda r: b"journey:" + r.to_event_id.encode())]),
    ]


class CorrelatedPrivacyMixin(ParkingMixin, JourneysMixin):
    """Part of :class:`~alpr.bridge.store.Store`."""

    def _export_correlated(self, bidx: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            sessions = conn.execute(
                sa.select(S.parking_sessions.c.id).where(S.parking_sessions.c.plate_bidx == bidx)
            ).scalars()
            session_ids = sorted(int(i) for i in sessions)
            permit_rows = conn.execute(sa.select(S.permits).where(S.permits.c.plate_bidx == bidx)).all()
        permits = [
            {
                "id": p.id,
                "name": p.name,
                "site": p.site,
                "valid_from": None if p.valid_from_ms is None else iso_ms(p.valid_from_ms),
                "valid_until": None if p.valid_until_ms is None else iso_ms(p.valid_until_ms),
            }
            for p in (self._permit(r) for r in permit_rows)
        ]
        return {
            "sessions": [self.get_session(i) for i in session_ids],
            "journeys": list(reversed(self.query_journeys(plate_bidx=bidx, limit=100_000)[0])),
            "anomalies": list(reversed(self.query_anomalies(limit=100_000, plate_bidx=bidx)[0])),
            "permits": permits,
        }

    def _erase_correlated(self, conn: Connection, bidx: str) -> dict[str, int]:
        out = {}
        for name, table in (
            ("sessions", S.parking_sessions),
            ("anomalies", S.anomalies),
            ("journeys", S.journeys),
            ("permits", S.permits),
        ):
            out[name] = conn.execute(table.delete().where(table.c.plate_bidx == bidx)).rowcount
        return out

    def enforce_correlated_retention(self, *, days: float, now: int | None = None) -> dict[str, int]:
        """Drop closed sessions, anomalies and journeys older than ``days`` (0 keeps forever)."""
        out = {"sessions": 0, "anomalies": 0, "journeys": 0}
        if days <= 0:
            return out
        cut = (now_ms() if now is None else now) - int(days * 86_400_000)
        c = S.parking_sessions.c
        with self._erasing() as conn:
            out["sessions"] = conn.execute(
                S.parking_sessions.delete().where(c.state == "closed", c.exit_ms < cut)
            ).rowcount
            out["anomalies"] = conn.execute(S.anomalies.delete().where(S.anomalies.c.ts_ms < cut)).rowcount
            out["journeys"] = conn.execute(S.journeys.delete().where(S.journeys.c.to_ms < cut)).rowcount
        return out

    def _rotate_correlated(self, ring: Keyring, batch: int) -> int:
        return sum(self._reencrypt(ring, table, table.c.id, cols, batch) for table, cols in _specs())
