"""The durable outbox the MQTT and webhook sinks deliver from."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from alpr.bridge import schema as S
from alpr.bridge.store.base import (
    OutboxRow,
    StoreBase,
    now_ms,
)
from alpr.bridge.store.fleet import LEASE_MS


class OutboxMixin(StoreBase):
    """Part of :class:`~alpr.bridge.store.Store`."""

    def outbox_enqueue(self, sink: str, topic: str, payload: bytes, *, retain: bool = False) -> None:
        """Queue ``payload`` for ``sink`` under ``topic`` in its own transaction (encrypted at rest)."""
        with self._begin() as conn:
            conn.execute(S.outbox.insert(), [self._outbox_row(sink, topic, payload, None, now_ms(), retain)])

    def outbox_fetch(self, sink: str, *, after_id: int = 0, limit: int = 500) -> list[OutboxRow]:
        """The next rows of ``sink`` after ``after_id``, oldest first.

        On PostgreSQL the rows are also claimed for this store (see :mod:`.fleet`), so bridges sharing the
        database never get the same row.
        """
        c = S.outbox.c
        cols = (c.id, c.topic, c.payload_ct, c.retain, c.attempts)
        if self.is_sqlite:
            q = sa.select(*cols).where(c.sink == sink, c.id > after_id).order_by(c.id).limit(limit)
            with self.engine.connect() as conn:
                rows = conn.execute(q).all()
        else:
            t = now_ms()
            free = sa.or_(c.lease_until_ms.is_(None), c.lease_until_ms < t, c.claimed_by == self.worker_id)
            ids = (
                sa.select(c.id)
                .where(c.sink == sink, c.id > after_id, free)
                .order_by(c.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            claim = (
                S.outbox.update()
                .where(c.id.in_(ids.scalar_subquery()))
                .values(claimed_by=self.worker_id, lease_until_ms=t + LEASE_MS)
                .returning(*cols)
            )
            with self._begin() as conn:
                rows = sorted(conn.execute(claim).all(), key=lambda r: r.id)
        return [
            OutboxRow(
                int(r.id),
                r.topic,
                self.keyring.decrypt(r.payload_ct, b"outbox"),
                bool(r.retain),
                int(r.attempts),
            )
            for r in rows
        ]

    def outbox_delete(self, ids: Iterable[int]) -> int:
        """Forget delivered rows.

        Not fsynced on SQLite: losing this commit to a power cut only means the rows are sent again (at least
        once), and it keeps the sinks off the disk's critical path.
        """
        ids = list(ids)
        n = 0
        with self._pragma("synchronous=NORMAL", "synchronous=FULL") as conn:
            for i in range(0, len(ids), 500):
                n += conn.execute(S.outbox.delete().where(S.outbox.c.id.in_(ids[i : i + 500]))).rowcount
            conn.commit()
        return n

    def outbox_failed(self, ids: Iterable[int]) -> None:
        """Count one more failed delivery attempt for each of ``ids``."""
        ids = list(ids)
        if ids:
            with self._begin() as conn:
                conn.execute(
                    S.outbox.update().where(S.outbox.c.id.in_(ids)).values(attempts=S.outbox.c.attempts + 1)
                )

    def outbox_pending(self) -> dict[str, int]:
        """Sink -> number of rows waiting in its outbox."""
        q = sa.select(S.outbox.c.sink, sa.func.count()).group_by(S.outbox.c.sink)
        with self.engine.connect() as conn:
            return {r[0]: int(r[1]) for r in conn.execute(q)}

    def _outbox_row(
        self, sink: str, topic: str, payload: bytes, bidx: str | None, t: int, retain: bool = False
    ) -> dict[str, Any]:
        return {
            "sink": sink,
            "topic": topic,
            "payload_ct": self.keyring.encrypt(payload, b"outbox"),
            "key_id": self.keyring.active,
            "plate_bidx": bidx,
            "retain": retain,
            "created_ms": t,
            "attempts": 0,
        }
