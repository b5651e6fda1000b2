"""Queries: reads (exact / fuzzy search), crops, cameras, statistics, alerts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from alpr.bridge import schema as S
from alpr.bridge.crypto import normalize_plate
from alpr.bridge.store.base import (
    FUZZY_BATCH,
    iso_ms,
    now_ms,
    page,
    window,
)
from alpr.bridge.store.outbox import OutboxMixin
from alpr.bridge.watchlist import (
    plate_distance,
)


class ReadsMixin(OutboxMixin):
    """Part of :class:`~alpr.bridge.store.Store`."""

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

    def query_reads(  # noqa: PLR0913 (keyword-only query filters of the API)
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
        conds = window(c.ts_ms, since_ms, until_ms, cameras=cameras, in_=c.camera)
        if camera is not None:
            conds.append(c.camera == camera)
        if plate is not None and not fuzzy:
            conds.append(c.plate_bidx == self.keyring.blind_index(plate))
        with self.engine.connect() as conn:
            if plate is None or not fuzzy:
                rows, nxt = page(conn, sa.select(S.reads).where(*conds), c.id, limit, before_id)
                return [self._read_dict(r) for r in rows], nxt
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
        """Read ``event_id`` as a dict (plate decrypted), or None."""
        with self.engine.connect() as conn:
            r = conn.execute(sa.select(S.reads).where(S.reads.c.event_id == event_id)).first()
        return None if r is None else self._read_dict(r)

    def get_crop(self, event_id: str) -> bytes | None:
        """The decrypted JPEG crop of ``event_id``, or None when it has none."""
        with self.engine.connect() as conn:
            r = conn.execute(sa.select(S.crops).where(S.crops.c.event_id == event_id)).first()
        return None if r is None else self.keyring.decrypt(r.data_ct, event_id.encode())

    def cameras(self, scope: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Every camera with reads: its read count and last read time (within ``scope`` when given)."""
        c = S.reads.c
        q = sa.select(c.camera, sa.func.count(), sa.func.max(c.ts_ms)).group_by(c.camera).order_by(c.camera)
        if scope is not None:
            q = q.where(c.camera.in_(list(scope)))
        with self.engine.connect() as conn:
            out = {
                r[0]: {"camera": r[0], "reads": int(r[1]), "last_ts": iso_ms(int(r[2]))}
                for r in conn.execute(q)
            }
            # Site, role and direction (store/sites.py); configured cameras show before their first read.
            for cfg in conn.execute(sa.select(S.camera_config)):
                if scope is None or cfg.camera in scope:
                    d = out.setdefault(cfg.camera, {"camera": cfg.camera, "reads": 0, "last_ts": None})
                    d.update(site=cfg.site, role=cfg.role, direction=cfg.direction)
        return [out[k] for k in sorted(out)]

    def stats(self, scope: Sequence[str] | None = None) -> dict[str, Any]:
        """Totals: reads (all, last hour), alerts, cameras, watchlist entries, outbox backlog.

        Within ``scope`` when given; the delivery backlog only for an unscoped caller.
        """

        def count(table: sa.Table, extra: Any = None) -> int:
            q = sa.select(sa.func.count()).select_from(table)
            if scope is not None and "camera" in table.c:
                q = q.where(table.c.camera.in_(list(scope)))
            if extra is not None:
                q = q.where(extra)
            with self.engine.connect() as conn:
                return int(conn.execute(q).scalar() or 0)

        hour_ago = now_ms() - 3_600_000
        out: dict[str, Any] = {
            "reads": count(S.reads),
            "reads_last_hour": count(S.reads, S.reads.c.created_ms >= hour_ago),
            "alerts": count(S.alerts),
            "cameras": len(self.cameras(scope)),
        }
        out["watchlist"] = self.watch_count(scope)
        if scope is None:  # the delivery backlog counts every camera: not for a camera-scoped token
            out["outbox_pending"] = self.outbox_pending()
        return out

    def watch_count(self, scope: Sequence[str] | None = None) -> int:
        """Watchlist entries; for a camera-scoped token only those limited to its own cameras.

        Those are the ones it could manage, so it learns nothing about the global list.
        """
        with self.engine.connect() as conn:
            if scope is None:
                q = sa.select(sa.func.count()).select_from(S.watchlist)
                return int(conn.execute(q).scalar() or 0)
            cams = conn.execute(sa.select(S.watchlist.c.cameras)).scalars().all()
        mine = set(scope)
        return sum(1 for c in cams if c is not None and set(json.loads(c)) <= mine)

    def query_alerts(
        self,
        *,
        camera: str | None = None,
        cameras: Sequence[str] | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int = 100,
        before_id: int | None = None,
        state: str | None = None,
    ) -> tuple[list[dict[str, Any]], int | None]:
        """Alerts newest first with their acknowledgement; ``state`` "open" / "acknowledged" filters."""
        c, k = S.alerts.c, S.alert_acks.c
        conds = window(c.ts_ms, since_ms, until_ms, cameras=cameras, in_=c.camera)
        if camera is not None:
            conds.append(c.camera == camera)
        if state == "open":
            conds.append(k.alert_id.is_(None))
        elif state == "acknowledged":
            conds.append(k.alert_id.is_not(None))
        q = sa.select(S.alerts, k.by.label("ack_by"), k.ts_ms.label("ack_ms")).outerjoin(
            S.alert_acks, k.alert_id == c.id
        )
        with self.engine.connect() as conn:
            rows, nxt = page(conn, q.where(*conds), c.id, limit, before_id)
        return [self._alert_dict(r) for r in rows], nxt

    def _alert_dict(self, r: Any) -> dict[str, Any]:
        return {
            "id": int(r.id),
            "event_id": r.event_id,
            "watchlist_id": int(r.watchlist_id),
            "camera": r.camera,
            "ts": r.ts,
            "plate": self.keyring.decrypt_text(r.plate_ct, b"alert:" + r.event_id.encode()),
            "match": r.kind,
            "reason": (
                r.reason
                if r.reason_ct is None
                else self.keyring.decrypt_text(r.reason_ct, b"alert.reason:" + r.event_id.encode())
            ),
            "distance": r.distance,
            "acknowledged": getattr(r, "ack_ms", None) is not None,
            "acknowledged_by": getattr(r, "ack_by", None),
            "acknowledged_at": None if getattr(r, "ack_ms", None) is None else iso_ms(int(r.ack_ms)),
        }
