"""Parking sessions: entry reads open them, exit reads close them; overstays, anomalies, barrier commands.

Correlation runs inside :meth:`Store.ingest`'s transaction, so a read, the session it opens or closes
and every message that follows from it (``session.opened``, ``session.closed``, ``gate.open``,
``alert.no_entry``, the retained ``alpr/<site>/occupancy``) are committed together or not at all, and
a replayed read (same ``event_id``) changes nothing. On PostgreSQL each site is serialised with a
transaction-scoped advisory lock, so several bridges ingesting reads of one site never open two
sessions for one vehicle.

Matching at the exit: the open sessions of the site that entered within ``match_window_s`` are
decrypted and compared with :func:`alpr.bridge.watchlist.plate_distance` (OCR-confusable
substitutions such as I/1 or O/0 cost 0.25); the closest within ``max_distance`` wins and among equal
distances the most recent entry (a stale session whose exit was missed is left for the overstay
check). Messages carry ``id``, a UUID derived from the read (or session) and the message type, so a
consumer can use it as an idempotency key: the same fact always has the same ``id``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from alpr.bridge import schema as S
from alpr.bridge.crypto import normalize_plate
from alpr.bridge.store.base import (
    EventLike,
    Sink,
    _dumps,
    iso_ms,
    lock_key,
    now_ms,
    page,
    parse_ts_ms,
    window,
)
from alpr.bridge.store.outbox import OutboxMixin
from alpr.bridge.store.session_cache import CachedSession, PermitCache, SessionCache
from alpr.bridge.store.sites import PermitDecision, PermitLookup, SiteConfig, SitesMixin
from alpr.bridge.watchlist import plate_distance

__all__ = ["ParkingMixin", "event_uuid"]

ENTRY_DEDUP_MS = 120_000
"""A second entry (or exit) read of the same vehicle within this time is the same passage."""

_NS = uuid.UUID("5b3f0c2e-8d1a-4f7e-9c35-0a6e2d7b9f41")


def event_uuid(kind: str, key: str) -> str:
    """The idempotency key of a derived message: the same (kind, key) always gives the same id."""
    return str(uuid.uuid5(_NS, f"{kind}:{key}"))


class _Seen(NamedTuple):
    """A read at an entry or exit camera of ``site``: the event, its time and its normalised plate."""

    ev: EventLike
    ts: int
    site: SiteConfig
    plate: str
    bidx: str


class _Batch(NamedTuple):
    """What one ingest batch's correlation shares: its sessions and permits, sinks and messages."""

    sessions: SessionCache
    permits: PermitCache
    sinks: Sequence[Sink]
    out: list[dict[str, Any]]
    t: int


def _is_mqtt(sink: Sink) -> bool:
    return not sink.name.startswith("webhook:")


class ParkingMixin(SitesMixin, OutboxMixin):
    """Part of :class:`~alpr.bridge.store.Store`."""

    permit_lookup: PermitLookup | None = None
    """Optional callout consulted before the local allow-list (see :mod:`alpr.bridge.permits`)."""
    event_sinks: Sequence[Sink] = ()
    """Where messages not caused by an ingest (payments, overstays) go; the bridge sets its sinks."""

    # -- messages --------------------------------------------------------------------------------
    def _emit(
        self,
        out: list[dict[str, Any]],
        sinks: Sequence[Sink],
        topic: str,
        payload: dict[str, Any],
        bidx: str | None,
        t: int,
        *,
        alert: bool = False,
    ) -> None:
        body = _dumps(payload)
        for sink in sinks:
            if sink.alerts if alert else sink.plates:
                out.append(self._outbox_row(sink.name, topic, body, bidx, t))

    def _emit_gate(  # noqa: PLR0913 (called with one fixed shape at four sites; the payload needs each)
        self,
        out: list[dict[str, Any]],
        sinks: Sequence[Sink],
        ev: EventLike,
        site: str,
        reason: str,
        decision: PermitDecision | None,
        bidx: str,
        t: int,
    ) -> None:
        payload = {
            "id": event_uuid("gate.open", ev.event_id),
            "type": "gate.open",
            "site": site,
            "camera": ev.camera,
            "ts": ev.ts,
            "event_id": ev.event_id,
            "plate": ev.plate,
            "reason": reason,
            "permit": None if decision is None else decision.name,
            "source": None if decision is None else decision.source,
        }
        body = _dumps(payload)
        for sink in sinks:
            if sink.plates:
                # MQTT: the barrier's command topic; webhooks: the event type in the last topic level.
                topic = f"alpr/{site}/{ev.camera}/gate" + ("" if _is_mqtt(sink) else ".open")
                out.append(self._outbox_row(sink.name, topic, body, bidx, t))

    def _emit_occupancy(
        self, conn: Connection, out: list[dict[str, Any]], sinks: Sequence[Sink], site: str
    ) -> None:
        mqtt = [s for s in sinks if _is_mqtt(s) and s.plates]
        if not mqtt:
            return
        t = now_ms()
        body = _dumps({"site": site, "occupancy": self._count_open(conn, site), "ts": iso_ms(t)})
        for sink in mqtt:
            out.append(self._outbox_row(sink.name, f"alpr/{site}/occupancy", body, None, t, True))

    # -- correlation (inside ingest) -------------------------------------------------------------
    def _correlate(
        self,
        conn: Connection,
        events: Sequence[EventLike],
        sinks: Sequence[Sink],
        out: list[dict[str, Any]],
        t: int,
    ) -> None:
        cams = self.camera_configs(conn)
        if not cams:
            return
        todo = [
            (parse_ts_ms(ev.ts), ev) for ev in events if ev.camera in cams and cams[ev.camera].role != "pass"
        ]
        if not todo:
            return
        sites = self.site_configs(conn)
        if not self.is_sqlite:
            for name in sorted({cams[ev.camera].site for _, ev in todo}):
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key("site:" + name)})
        seen_all: list[tuple[_Seen, str]] = []
        for ts, ev in sorted(todo, key=lambda x: x[0]):
            cam = cams[ev.camera]
            going = getattr(ev, "direction", None)
            if cam.direction is not None and going is not None and going != cam.direction:
                continue  # e.g. a vehicle leaving past the entry camera of a two-way lane
            plate = normalize_plate(ev.plate)
            site = sites.get(cam.site) or SiteConfig(cam.site)
            seen_all.append((_Seen(ev, ts, site, plate, self.keyring.blind_index(plate)), cam.role))
        spans: dict[str, tuple[int, int]] = {}
        windows: dict[str, int] = {}
        for seen, _ in seen_all:
            lo, hi = spans.get(seen.site.site, (seen.ts, seen.ts))
            spans[seen.site.site] = (min(lo, seen.ts), max(hi, seen.ts))
            windows[seen.site.site] = int(seen.site.match_window_s * 1000)
        batch = _Batch(
            SessionCache(conn, self.keyring.decrypt_text, spans, windows, ENTRY_DEDUP_MS),
            PermitCache(conn, self._permit, (seen.bidx for seen, _ in seen_all)),
            sinks,
            out,
            t,
        )
        touched: set[str] = set()
        for seen, role in seen_all:
            if (self._entry if role == "entry" else self._exit)(conn, seen, batch):
                touched.add(seen.site.site)
        for name in sorted(touched):
            self._emit_occupancy(conn, out, sinks, name)

    @staticmethod
    def _best(
        cands: list[CachedSession], plate: str, bidx: str, max_distance: float
    ) -> tuple[CachedSession, float] | None:
        best: tuple[CachedSession, float] | None = None
        for r in cands:
            d = 0.0 if r.plate_bidx == bidx else plate_distance(r.plate, plate, limit=max_distance)
            if d > max_distance:
                continue
            if best is None or (d, -r.entry_ms, -r.id) < (best[1], -best[0].entry_ms, -best[0].id):
                best = (r, d)
        return best

    def _decide(
        self, batch: _Batch, plate: str, bidx: str, site: str, camera: str, ts: int
    ) -> PermitDecision | None:
        """The callout's answer when it has one, else the local allow-list."""
        if self.permit_lookup is not None:
            answer = self.permit_lookup(plate, site, camera, ts)
            if answer is not None:
                return answer
        p = next((p for p in batch.permits.permits(bidx) if p.valid(site, ts)), None)
        return None if p is None else PermitDecision(True, p.name, "local")

    def _entry(self, conn: Connection, seen: _Seen, batch: _Batch) -> bool:
        ev, ts, site, plate, bidx = seen
        sinks, out, t = batch.sinks, batch.out, batch.t
        since = min(ENTRY_DEDUP_MS, int(site.match_window_s * 1000))
        recent = batch.sessions.open_sessions(site.site, ts, since)
        if self._best(recent, plate, bidx, site.max_distance) is not None:
            return False  # the same vehicle read twice on its way in
        ring = self.keyring
        plate_ct = ring.encrypt_text(plate, b"session:" + ev.event_id.encode())
        sid = conn.execute(
            S.parking_sessions.insert().values(
                site=site.site,
                state="open",
                plate_ct=plate_ct,
                plate_bidx=bidx,
                key_id=ring.active,
                entry_event_id=ev.event_id,
                entry_camera=ev.camera,
                entry_ms=ts,
                created_ms=t,
            )
        ).inserted_primary_key
        assert sid is not None  # an insert into a table with a surrogate key
        mine = CachedSession(int(sid[0]), ts, None, bidx, plate_ct, ev.event_id, ev.camera, None, plate)
        batch.sessions.opened(site.site, mine)
        payload = {
            "id": event_uuid("session.opened", ev.event_id),
            "type": "session.opened",
            "session_id": int(sid[0]) if sid else None,
            "site": site.site,
            "plate": plate,
            "entry_ts": ev.ts,
            "entry_camera": ev.camera,
            "entry_event_id": ev.event_id,
        }
        self._emit(out, sinks, f"alpr/{site.site}/session.opened", payload, bidx, t)
        decision = self._decide(batch, plate, bidx, site.site, ev.camera, ts)
        if decision is not None and decision.allowed:
            self._emit_gate(out, sinks, ev, site.site, "permit", decision, bidx, t)
        return True

    def _exit(self, conn: Connection, seen: _Seen, batch: _Batch) -> bool:
        ev, ts, site, plate, bidx = seen
        sinks, out, t = batch.sinks, batch.out, batch.t
        if self._best(batch.sessions.closed_sessions(site.site, ts), plate, bidx, site.max_distance):
            return False  # read again on its way out: its session just closed
        window_ms = int(site.match_window_s * 1000)
        cands = batch.sessions.open_sessions(site.site, ts, window_ms)
        best = self._best(cands, plate, bidx, site.max_distance)
        if best is None:
            decision = self._decide(batch, plate, bidx, site.site, ev.camera, ts)
            self._anomaly(
                conn, out, sinks, "no_entry", site.site, ev.camera, ev.event_id, ev.ts, ts, plate, None, t
            )
            if decision is not None and decision.allowed:
                self._emit_gate(out, sinks, ev, site.site, "permit", decision, bidx, t)
            return False
        r, dist = best
        ring = self.keyring
        conn.execute(
            S.parking_sessions.update()
            .where(S.parking_sessions.c.id == r.id)
            .values(
                state="closed",
                exit_event_id=ev.event_id,
                exit_camera=ev.camera,
                exit_ms=ts,
                exit_plate_ct=ring.encrypt_text(plate, b"session-exit:" + r.entry_event_id.encode()),
                distance=dist,
            )
        )
        batch.sessions.closed(site.site, r, ts)
        session_plate = r.plate
        # The permit is the session's (the entry read), so a misread at the exit still opens for it.
        decision = self._decide(batch, session_plate, r.plate_bidx, site.site, ev.camera, ts)
        payload = {
            "id": event_uuid("session.closed", r.entry_event_id),
            "type": "session.closed",
            "session_id": int(r.id),
            "site": site.site,
            "plate": session_plate,
            "exit_plate": plate,
            "distance": dist,
            "entry_ts": iso_ms(int(r.entry_ms)),
            "exit_ts": ev.ts,
            "dwell_s": (ts - int(r.entry_ms)) / 1000,
            "entry_camera": r.entry_camera,
            "exit_camera": ev.camera,
            "entry_event_id": r.entry_event_id,
            "exit_event_id": ev.event_id,
            "paid": r.paid_ms is not None,
        }
        self._emit(out, sinks, f"alpr/{site.site}/session.closed", payload, r.plate_bidx, t)
        if decision is not None and decision.allowed:
            self._emit_gate(out, sinks, ev, site.site, "permit", decision, r.plate_bidx, t)
        elif r.paid_ms is not None:
            self._emit_gate(out, sinks, ev, site.site, "paid", None, r.plate_bidx, t)
        return True

    def _anomaly(  # noqa: PLR0913 (one anomaly's fields; an _Anomaly record would be tidier)
        self,
        conn: Connection,
        out: list[dict[str, Any]],
        sinks: Sequence[Sink],
        kind: str,
        site: str,
        camera: str,
        event_id: str,
        ts_iso: str,
        ts: int,
        plate: str,
        session_id: int | None,
        t: int,
    ) -> None:
        ring = self.keyring
        bidx = ring.blind_index(plate)
        aid = conn.execute(
            S.anomalies.insert().values(
                kind=kind,
                site=site,
                camera=camera,
                event_id=event_id,
                session_id=session_id,
                ts_ms=ts,
                plate_ct=ring.encrypt_text(plate, f"anomaly:{kind}:{event_id}".encode()),
                plate_bidx=bidx,
                key_id=ring.active,
                created_ms=t,
            )
        ).inserted_primary_key
        payload = {
            "id": event_uuid("alert." + kind, event_id),
            "type": "alert." + kind,
            "anomaly_id": int(aid[0]) if aid else None,
            "site": site,
            "camera": camera,
            "ts": ts_iso,
            "plate": plate,
            "event_id": event_id,
            "session_id": session_id,
        }
        self._emit(out, sinks, f"alpr/{site}/alert.{kind}", payload, bidx, t, alert=True)

    # -- background and API actions --------------------------------------------------------------
    def check_overstays(self, now: int | None = None) -> int:
        """Raise ``alert.overstay`` once for every open session past its site's ``max_stay_s``."""
        t = now_ms() if now is None else now
        n = 0
        with self._begin() as conn:
            out: list[dict[str, Any]] = []
            for site in self.site_configs(conn).values():
                if site.max_stay_s is None:
                    continue
                c = S.parking_sessions.c
                q = sa.select(S.parking_sessions).where(
                    c.site == site.site,
                    c.state == "open",
                    c.overstay_ms.is_(None),
                    c.entry_ms < t - int(site.max_stay_s * 1000),
                )
                if not self.is_sqlite:  # another bridge checking at the same time skips these rows
                    q = q.with_for_update(skip_locked=True)
                for r in conn.execute(q).all():
                    conn.execute(S.parking_sessions.update().where(c.id == r.id).values(overstay_ms=t))
                    plate = self.keyring.decrypt_text(r.plate_ct, b"session:" + r.entry_event_id.encode())
                    self._anomaly(
                        conn, out, self.event_sinks, "overstay", site.site, r.entry_camera,
                        r.entry_event_id, iso_ms(t), t, plate, int(r.id), t,
                    )  # fmt: skip
                    n += 1
            if out:
                conn.execute(S.outbox.insert(), out)
        return n

    def mark_paid(self, session_id: int, *, reference: str | None = None, paid_ms: int | None = None) -> bool:
        """Record a payment for a session (idempotent: a second call keeps the first payment)."""
        t = now_ms()
        with self._begin() as conn:
            c = S.parking_sessions.c
            r = conn.execute(sa.select(S.parking_sessions).where(c.id == session_id)).first()
            if r is None:
                return False
            if r.paid_ms is not None:
                return True
            when = t if paid_ms is None else paid_ms
            conn.execute(
                S.parking_sessions.update()
                .where(c.id == session_id)
                .values(paid_ms=when, payment_ref=reference)
            )
            out: list[dict[str, Any]] = []
            payload = {
                "id": event_uuid("session.paid", r.entry_event_id),
                "type": "session.paid",
                "session_id": int(r.id),
                "site": r.site,
                "paid_ts": iso_ms(when),
                "reference": reference,
                "entry_event_id": r.entry_event_id,
            }
            self._emit(out, self.event_sinks, f"alpr/{r.site}/session.paid", payload, r.plate_bidx, t)
            if out:
                conn.execute(S.outbox.insert(), out)
        return True

    # -- queries ---------------------------------------------------------------------------------
    def _count_open(self, conn: Connection, site: str) -> int:
        c = S.parking_sessions.c
        q = sa.select(sa.func.count()).where(c.site == site, c.state == "open")
        return int(conn.execute(q).scalar() or 0)

    def occupancy(self, site: str) -> dict[str, Any]:
        """The occupancy of ``site``: open sessions, capacity and free spaces, overstays, and the time."""
        c = S.parking_sessions.c
        with self.engine.connect() as conn:
            n = self._count_open(conn, site)
            over = conn.execute(
                sa.select(sa.func.count()).where(
                    c.site == site, c.state == "open", c.overstay_ms.is_not(None)
                )
            ).scalar()
            cfg = self.site_configs(conn).get(site) or SiteConfig(site)
        return {
            "site": site,
            "occupancy": n,
            "capacity": cfg.capacity,
            "free": None if cfg.capacity is None else max(0, cfg.capacity - n),
            "overstays": int(over or 0),
            "ts": iso_ms(now_ms()),
        }

    def _session_dict(self, r: Any) -> dict[str, Any]:
        aad = r.entry_event_id.encode()
        return {
            "id": int(r.id),
            "plate": self.keyring.decrypt_text(r.plate_ct, b"session:" + aad),
            "site": r.site,
            "state": r.state,
            "entry_ts": iso_ms(int(r.entry_ms)),
            "exit_ts": None if r.exit_ms is None else iso_ms(int(r.exit_ms)),
            "dwell_s": None if r.exit_ms is None else (int(r.exit_ms) - int(r.entry_ms)) / 1000,
            "entry_camera": r.entry_camera,
            "exit_camera": r.exit_camera,
            "entry_event_id": r.entry_event_id,
            "exit_event_id": r.exit_event_id,
            "exit_plate": None
            if r.exit_plate_ct is None
            else self.keyring.decrypt_text(r.exit_plate_ct, b"session-exit:" + aad),
            "distance": r.distance,
            "paid": r.paid_ms is not None,
            "paid_ts": None if r.paid_ms is None else iso_ms(int(r.paid_ms)),
            "payment_ref": r.payment_ref,
            "overstay": r.overstay_ms is not None,
        }

    def query_sessions(  # noqa: PLR0913 (keyword-only query filters of the API)
        self,
        *,
        site: str | None = None,
        state: str | None = None,
        plate: str | None = None,
        cameras: Sequence[str] | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> tuple[list[dict[str, Any]], int | None]:
        """Sessions newest first (by id); ``since``/``until`` bound the entry time.

        ``cameras`` is the caller's scope: a session is visible when its entry and (if any) exit camera are.
        """
        c = S.parking_sessions.c
        conds = window(c.entry_ms, since_ms, until_ms, cameras=cameras, in_=c.entry_camera)
        if cameras is not None:
            conds.append(sa.or_(c.exit_camera.is_(None), c.exit_camera.in_(list(cameras))))
        if site is not None:
            conds.append(c.site == site)
        if state is not None:
            conds.append(c.state == state)
        if plate is not None:
            conds.append(c.plate_bidx == self.keyring.blind_index(plate))
        with self.engine.connect() as conn:
            rows, nxt = page(conn, sa.select(S.parking_sessions).where(*conds), c.id, limit, before_id)
        return [self._session_dict(r) for r in rows], nxt

    def get_session(self, session_id: int) -> dict[str, Any] | None:
        """Parking session ``session_id`` as a dict, or None."""
        with self.engine.connect() as conn:
            r = conn.execute(
                sa.select(S.parking_sessions).where(S.parking_sessions.c.id == session_id)
            ).first()
        return None if r is None else self._session_dict(r)

    def query_anomalies(  # noqa: PLR0913 (keyword-only query filters of the API)
        self,
        *,
        site: str | None = None,
        kind: str | None = None,
        cameras: Sequence[str] | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int = 100,
        before_id: int | None = None,
        plate_bidx: str | None = None,
    ) -> tuple[list[dict[str, Any]], int | None]:
        """Anomalies (no entry, overstay) newest first, filtered like :meth:`query_sessions`.

        ``since``/``until`` bound the anomaly's read time; a scoped caller sees those of its ``cameras``.
        """
        c = S.anomalies.c
        conds = window(c.ts_ms, since_ms, until_ms, cameras=cameras, in_=c.camera)
        for col, val in ((c.site, site), (c.kind, kind), (c.plate_bidx, plate_bidx)):
            if val is not None:
                conds.append(col == val)
        with self.engine.connect() as conn:
            rows, nxt = page(conn, sa.select(S.anomalies).where(*conds), c.id, limit, before_id)
        items = [
            {
                "id": int(r.id),
                "kind": r.kind,
                "site": r.site,
                "camera": r.camera,
                "event_id": r.event_id,
                "session_id": r.session_id,
                "ts": iso_ms(int(r.ts_ms)),
                "plate": self.keyring.decrypt_text(r.plate_ct, f"anomaly:{r.kind}:{r.event_id}".encode()),
            }
            for r in rows
        ]
        return items, nxt
