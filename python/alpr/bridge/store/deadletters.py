"""Dead letters: outbox rows a sink gave up on (a webhook that kept refusing them).

They are moved aside so the rows behind them go out; an admin lists, retries or drops them
(``/api/v1/dead-letters``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import sqlalchemy as sa

from alpr.bridge import schema as S
from alpr.bridge.store.base import iso_ms, now_ms
from alpr.bridge.store.outbox import OutboxMixin

_COPIED = ("sink", "topic", "payload_ct", "key_id", "plate_bidx", "created_ms")


class DeadLetterMixin(OutboxMixin):
    """Part of :class:`~alpr.bridge.store.Store`."""

    def outbox_dead_letter(self, row_id: int, error: str) -> bool:
        """Move outbox row ``row_id`` to the dead letters (one transaction); False if it is gone."""
        return self._move(
            S.outbox,
            S.dead_letters,
            row_id,
            lambda r: {"failed_ms": now_ms(), "attempts": int(r.attempts) + 1, "error": error[:256]},
        )

    def _move(
        self, src: sa.Table, dst: sa.Table, row_id: int, extra: Callable[[Any], dict[str, Any]]
    ) -> bool:
        """Move row ``row_id`` of ``src`` to ``dst`` in one transaction; False if there is no such row.

        The new row gets the ``_COPIED`` columns and ``extra(row)``.
        """
        with self._begin() as conn:
            r = conn.execute(sa.select(src).where(src.c.id == row_id)).first()
            if r is None:
                return False
            conn.execute(dst.insert().values(**{k: getattr(r, k) for k in _COPIED}, **extra(r)))
            conn.execute(src.delete().where(src.c.id == row_id))
        return True

    def dead_letters(self, *, sink: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The newest dead letters (payloads decrypted), optionally of one sink."""
        d = S.dead_letters.c
        q = sa.select(S.dead_letters).order_by(d.id.desc()).limit(limit)
        if sink is not None:
            q = q.where(d.sink == sink)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        out = []
        for r in rows:
            raw = self.keyring.decrypt(r.payload_ct, b"outbox")
            try:
                payload: Any = orjson.loads(raw)
            except orjson.JSONDecodeError:
                payload = raw.decode("utf-8", "replace")
            out.append(
                {
                    "id": int(r.id),
                    "sink": r.sink,
                    "topic": r.topic,
                    "attempts": int(r.attempts),
                    "error": r.error,
                    "created": iso_ms(int(r.created_ms)),
                    "failed": iso_ms(int(r.failed_ms)),
                    "payload": payload,
                }
            )
        return out

    def dead_letter_counts(self) -> dict[str, int]:
        """Sink -> number of its dead letters."""
        q = sa.select(S.dead_letters.c.sink, sa.func.count()).group_by(S.dead_letters.c.sink)
        with self.engine.connect() as conn:
            return {r[0]: int(r[1]) for r in conn.execute(q)}

    def dead_letter_retry(self, letter_id: int) -> bool:
        """Put a dead letter back at the end of its sink's outbox (attempts reset); False if unknown."""
        return self._move(S.dead_letters, S.outbox, letter_id, lambda r: {"retain": False, "attempts": 0})

    def expire_dead_letters(self, *, days: float, now: int | None = None) -> int:
        """Drop dead letters whose event is older than ``days``; 0 keeps them.

        They name plates, so they are kept no longer than the reads (``retention.reads_days``).
        """
        if days <= 0:
            return 0
        cut = (now_ms() if now is None else now) - int(days * 86_400_000)
        with self._erasing() as conn:
            return int(
                conn.execute(S.dead_letters.delete().where(S.dead_letters.c.created_ms < cut)).rowcount
            )

    def dead_letter_delete(self, letter_id: int) -> bool:
        """Drop dead letter ``letter_id`` (its freed bytes overwritten); False if unknown."""
        with self._erasing() as conn:
            n = conn.execute(S.dead_letters.delete().where(S.dead_letters.c.id == letter_id)).rowcount
        return bool(n)
