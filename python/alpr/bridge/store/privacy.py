"""Privacy: export and erasure per plate, retention, key rotation, SQLite checkpoints."""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa

from alpr.bridge import schema as S
from alpr.bridge.crypto import Keyring, normalize_plate
from alpr.bridge.store.base import (
    now_ms,
)
from alpr.bridge.store.correlated import CorrelatedPrivacyMixin
from alpr.bridge.store.reads import ReadsMixin


class PrivacyMixin(ReadsMixin, CorrelatedPrivacyMixin):
    """Part of :class:`~alpr.bridge.store.Store`."""

    def export_plate(self, plate: str) -> dict[str, Any]:
        """Everything stored about ``plate`` (a data-subject access request), crops as base64."""
        import base64

        bidx = self.keyring.blind_index(plate)
        with self.engine.connect() as conn:
            reads = conn.execute(
                sa.select(S.reads).where(S.reads.c.plate_bidx == bidx).order_by(S.reads.c.id)
            ).all()
            alerts = conn.execute(
                sa.select(S.alerts).where(S.alerts.c.plate_bidx == bidx).order_by(S.alerts.c.id)
            ).all()
        items = []
        for r in reads:
            d = self._read_dict(r)
            crop = self.get_crop(r.event_id) if r.has_crop else None
            d["crop_jpeg_base64"] = base64.b64encode(crop).decode() if crop else None
            items.append(d)
        return {
            "plate": normalize_plate(plate),
            "reads": items,
            "alerts": [self._alert_dict(a) for a in alerts],
            **self._export_correlated(bidx),
        }

    def erase_plate(self, plate: str) -> dict[str, int]:
        """Delete every read, crop, alert and undelivered message of ``plate``; returns counts."""
        bidx = self.keyring.blind_index(plate)
        with self._erasing() as conn:
            ev = list(
                conn.execute(sa.select(S.reads.c.event_id).where(S.reads.c.plate_bidx == bidx)).scalars()
            )
            n_crops = 0
            for i in range(0, len(ev), 500):
                n_crops += conn.execute(
                    S.crops.delete().where(S.crops.c.event_id.in_(ev[i : i + 500]))
                ).rowcount
            n_reads = conn.execute(S.reads.delete().where(S.reads.c.plate_bidx == bidx)).rowcount
            n_alerts = conn.execute(S.alerts.delete().where(S.alerts.c.plate_bidx == bidx)).rowcount
            if n_alerts:  # SQLite may reuse a deleted row id: no acknowledgement may outlive its alert
                conn.execute(
                    S.alert_acks.delete().where(S.alert_acks.c.alert_id.not_in(sa.select(S.alerts.c.id)))
                )
            n_out = conn.execute(S.outbox.delete().where(S.outbox.c.plate_bidx == bidx)).rowcount
            dl = S.dead_letters
            n_out += conn.execute(dl.delete().where(dl.c.plate_bidx == bidx)).rowcount
            n_audit = self._redact_audit(conn, bidx)
            more = self._erase_correlated(conn, bidx)
        self.checkpoint()
        return {
            "reads": n_reads,
            "crops": n_crops,
            "alerts": n_alerts,
            "outbox": n_out,
            "audit_redacted": n_audit,
            **more,
        }

    def _redact_audit(self, conn: Any, bidx: str) -> int:
        """Audit rows that name the plate keep who did what and when, not the plate: ``"[erased]"``."""
        a = S.audit.c
        rows = conn.execute(sa.select(a.id, a.detail_ct).where(a.plate_bidx == bidx)).all()
        ring = self.keyring
        for r in rows:
            detail = orjson.loads(ring.decrypt(r.detail_ct, b"audit"))
            detail["plate"] = "[erased]"
            ct = ring.encrypt(orjson.dumps(detail), b"audit")
            conn.execute(
                S.audit.update().where(a.id == r.id).values(detail_ct=ct, key_id=ring.active, plate_bidx=None)
            )
        return len(rows)

    def checkpoint(self) -> None:
        """Fold the SQLite WAL into the main file so deleted rows stop lingering in ``-wal``."""
        if self.is_sqlite:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    def enforce_retention(
        self,
        *,
        reads_days: float,
        crops_days: float,
        alerts_days: float,
        audit_days: float = 0,
        now: int | None = None,
    ) -> dict[str, int]:
        """Delete what is older than each period (by capture time; 0 days keeps forever)."""
        t = now_ms() if now is None else now
        out = {"reads": 0, "crops": 0, "alerts": 0, "audit": 0}
        day = 86_400_000
        with self._erasing() as conn:
            if crops_days > 0 or reads_days > 0:
                limits = [d for d in (crops_days, reads_days) if d > 0]
                cut = t - int(min(limits) * day)
                old = list(conn.execute(sa.select(S.crops.c.event_id).where(S.crops.c.ts_ms < cut)).scalars())
                for i in range(0, len(old), 500):
                    chunk = old[i : i + 500]
                    out["crops"] += conn.execute(
                        S.crops.delete().where(S.crops.c.event_id.in_(chunk))
                    ).rowcount
                    conn.execute(S.reads.update().where(S.reads.c.event_id.in_(chunk)).values(has_crop=False))
            if reads_days > 0:
                cut = t - int(reads_days * day)
                out["reads"] = conn.execute(S.reads.delete().where(S.reads.c.ts_ms < cut)).rowcount
            if alerts_days > 0:
                cut = t - int(alerts_days * day)
                out["alerts"] = conn.execute(S.alerts.delete().where(S.alerts.c.ts_ms < cut)).rowcount
                if out["alerts"]:
                    conn.execute(
                        S.alert_acks.delete().where(S.alert_acks.c.alert_id.not_in(sa.select(S.alerts.c.id)))
                    )
            if audit_days > 0:
                cut = t - int(audit_days * day)
                out["audit"] = conn.execute(S.audit.delete().where(S.audit.c.ts_ms < cut)).rowcount
        if any(out.values()):
            self.checkpoint()
        return out

    def rotate(self, keyring: Keyring | None = None, *, batch: int = 1000) -> int:
        """Re-encrypt every ciphertext not sealed with the active key. Returns the rows rewritten."""
        if keyring is not None:
            self.keyring = keyring
        ring = self.keyring

        def event(r: Any) -> bytes:
            return bytes(r.event_id.encode())

        specs: list[tuple[sa.Table, Any, tuple[tuple[str, Any], ...]]] = [
            (S.reads, S.reads.c.id, (("plate_ct", event),)),
            (S.crops, S.crops.c.event_id, (("data_ct", event),)),
            (
                S.alerts,
                S.alerts.c.id,
                (
                    ("plate_ct", lambda r: b"alert:" + r.event_id.encode()),
                    ("reason_ct", lambda r: b"alert.reason:" + r.event_id.encode()),
                ),
            ),
            (S.outbox, S.outbox.c.id, (("payload_ct", lambda r: b"outbox"),)),
            (S.dead_letters, S.dead_letters.c.id, (("payload_ct", lambda r: b"outbox"),)),
            (
                S.watchlist,
                S.watchlist.c.id,
                (("pattern_ct", lambda r: b"watch"), ("reason_ct", lambda r: b"watch.reason")),
            ),
            (S.audit, S.audit.c.id, (("detail_ct", lambda r: b"audit"),)),
        ]
        total = sum(self._reencrypt(ring, table, pk, cols, batch) for table, pk, cols in specs)
        total += self._rotate_correlated(ring, batch)
        self.checkpoint()
        return total
