"""Journeys: the same vehicle seen at camera A and then at camera B within ``journey_window_ms``.

Built at ingest from the blind index (exact plates: a journey links reads of one normalized plate),
in the ingest transaction: each new read is linked to the latest earlier read of its plate; when
that read is from another camera and recent enough, the pair is a journey. A vehicle read twice by
A and then by B makes one journey, from A's last read. Reads that arrive late (older than reads
already stored) link to their predecessor only. The origin-destination matrix counts journeys per
hour of departure and pair of cameras.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from alpr.bridge import schema as S
from alpr.bridge.crypto import normalize_plate
from alpr.bridge.store.base import EventLike, StoreBase, iso_ms, page, parse_ts_ms, window

__all__ = ["JourneysMixin"]

HOUR_MS = 3_600_000


class JourneysMixin(StoreBase):
    """Part of :class:`~alpr.bridge.store.Store`."""

    journey_window_ms: int = HOUR_MS
    """Longest travel time that still counts as one journey; 0 turns journeys off."""

    def _link_journeys(self, conn: Connection, events: Sequence[EventLike]) -> None:
        if self.journey_window_ms <= 0 or not events:
            return
        ring = self.keyring
        new = [(ring.blind_index(ev.plate), parse_ts_ms(ev.ts), ev) for ev in events]
        lo = min(ts for _, ts, _ in new) - self.journey_window_ms
        hi = max(ts for _, ts, _ in new)
        bidxs = sorted({b for b, _, _ in new})
        c = S.reads.c
        seen: defaultdict[str, list[tuple[int, str, str]]] = defaultdict(list)
        for i in range(0, len(bidxs), 500):
            q = sa.select(c.plate_bidx, c.ts_ms, c.event_id, c.camera).where(
                c.plate_bidx.in_(bidxs[i : i + 500]), c.ts_ms >= lo, c.ts_ms <= hi
            )
            for r in conn.execute(q):
                seen[r.plate_bidx].append((int(r.ts_ms), r.event_id, r.camera))
        rows: list[dict[str, Any]] = []
        for bidx, ts, ev in new:
            history = sorted(seen[bidx])
            k = bisect.bisect_left(history, (ts, ev.event_id, ev.camera))
            if k == 0:
                continue
            prev_ts, prev_id, prev_cam = history[k - 1]
            if prev_cam == ev.camera or ts - prev_ts > self.journey_window_ms:
                continue
            rows.append(
                {
                    "plate_ct": ring.encrypt_text(
                        normalize_plate(ev.plate), b"journey:" + ev.event_id.encode()
                    ),
                    "plate_bidx": bidx,
                    "key_id": ring.active,
                    "from_camera": prev_cam,
                    "to_camera": ev.camera,
                    "from_ms": prev_ts,
                    "to_ms": ts,
                    "from_event_id": prev_id,
                    "to_event_id": ev.event_id,
                }
            )
        if rows:
            conn.execute(S.journeys.insert(), rows)

    def query_journeys(
        self,
        *,
        plate: str | None = None,
        cameras: Sequence[str] | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int = 100,
        before_id: int | None = None,
        plate_bidx: str | None = None,
    ) -> tuple[list[dict[str, Any]], int | None]:
        """Journeys newest first; ``since``/``until`` bound the departure.

        A scoped caller sees the journeys whose both cameras are in ``cameras``.
        """
        c = S.journeys.c
        conds = self._journey_conds(cameras, since_ms, until_ms)
        if plate is not None:
            plate_bidx = self.keyring.blind_index(plate)
        if plate_bidx is not None:
            conds.append(c.plate_bidx == plate_bidx)
        with self.engine.connect() as conn:
            rows, nxt = page(conn, sa.select(S.journeys).where(*conds), c.id, limit, before_id)
        items = [
            {
                "id": int(r.id),
                "plate": self.keyring.decrypt_text(r.plate_ct, b"journey:" + r.to_event_id.encode()),
                "from_camera": r.from_camera,
                "to_camera": r.to_camera,
                "from_ts": iso_ms(int(r.from_ms)),
                "to_ts": iso_ms(int(r.to_ms)),
                "travel_s": (int(r.to_ms) - int(r.from_ms)) / 1000,
                "from_event_id": r.from_event_id,
                "to_event_id": r.to_event_id,
            }
            for r in rows
        ]
        return items, nxt

    def _journey_conds(
        self, cameras: Sequence[str] | None, since_ms: int | None, until_ms: int | None
    ) -> list[Any]:
        c = S.journeys.c
        return window(c.from_ms, since_ms, until_ms, cameras=cameras, in_=(c.from_camera, c.to_camera))

    def od_matrix(
        self,
        *,
        cameras: Sequence[str] | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
    ) -> list[dict[str, Any]]:
        """Journeys per hour of departure (UTC) and (from, to) camera pair, with the mean travel time."""
        c = S.journeys.c
        hour = c.from_ms // HOUR_MS  # floor division on both engines (SQLAlchemy 2 renders it per dialect)
        q = (
            sa.select(
                hour.label("h"), c.from_camera, c.to_camera, sa.func.count(), sa.func.avg(c.to_ms - c.from_ms)
            )
            .where(*self._journey_conds(cameras, since_ms, until_ms))
            .group_by(hour, c.from_camera, c.to_camera)
            .order_by(hour, c.from_camera, c.to_camera)
        )
        with self.engine.connect() as conn:
            return [
                {
                    "hour": iso_ms(int(r[0]) * HOUR_MS),
                    "from_camera": r[1],
                    "to_camera": r[2],
                    "journeys": int(r[3]),
                    "mean_travel_s": round(float(r[4]) / 1000, 3),
                }
                for r in conn.execute(q)
            ]
