"""Settings kept in the store (edited from the dashboard) and failed sign-ins counted in it.

Retention: ``settings`` row ``retention`` holds the days an admin set (``PUT
/api/v1/settings/retention``); each stored field overrides the TOML ``[retention]`` value, fields never
set keep the config's. Failed sign-ins and wrong tokens are rows in ``auth_failures`` (key: a SHA-256
of user name and address, never the clear values), so every bridge sharing one store counts the same
attempts and enforces one limit.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
import sqlalchemy as sa

from alpr.bridge import schema as S
from alpr.bridge.store.base import StoreBase, iso_ms, now_ms

RETENTION = "retention"


def failure_key(*parts: str) -> str:
    """The stored key of an attempt's origin (user name, address): a hash, so no clear values."""
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


class SettingsMixin(StoreBase):
    """Part of :class:`~alpr.bridge.store.Store`."""

    def get_setting(self, name: str) -> dict[str, Any] | None:
        """Setting ``name`` (its stored JSON object, plus ``updated`` and ``updated_by``), or None."""
        with self.engine.connect() as conn:
            r = conn.execute(sa.select(S.settings).where(S.settings.c.name == name)).first()
        if r is None:
            return None
        return {"value": orjson.loads(r.value), "updated": iso_ms(r.updated_ms), "updated_by": r.updated_by}

    def put_setting(self, name: str, value: dict[str, Any], by: str) -> None:
        """Store setting ``name`` (a JSON object), replacing the previous value."""
        c = S.settings.c
        row = {"value": orjson.dumps(value).decode(), "updated_ms": now_ms(), "updated_by": by[:128]}
        with self._begin() as conn:
            n = conn.execute(S.settings.update().where(c.name == name).values(**row)).rowcount
            if not n:
                conn.execute(S.settings.insert().values(name=name, **row))

    # -- failed attempts (login limiter, token lockout) --------------------------------------------
    def add_failure(self, scope: str, key: str, *, now: int | None = None) -> int:
        """Record one failed attempt; returns how many ``key`` has in the store (any age)."""
        t = now_ms() if now is None else now
        c = S.auth_failures.c
        with self._begin() as conn:
            conn.execute(S.auth_failures.insert().values(scope=scope, key=key, ts_ms=t))
            q = sa.select(sa.func.count()).where(c.scope == scope, c.key == key)
            return int(conn.execute(q).scalar() or 0)

    def failures_since(self, scope: str, key: str, since_ms: int) -> list[int]:
        """Times (ms, oldest first) of ``key``'s failed attempts at or after ``since_ms``."""
        c = S.auth_failures.c
        q = sa.select(c.ts_ms).where(c.scope == scope, c.key == key, c.ts_ms >= since_ms).order_by(c.ts_ms)
        with self.engine.connect() as conn:
            return [int(v) for v in conn.execute(q).scalars()]

    def clear_failures(self, scope: str, key: str) -> None:
        """Forget ``key``'s failed attempts (after a successful sign-in)."""
        c = S.auth_failures.c
        with self._begin() as conn:
            conn.execute(S.auth_failures.delete().where(c.scope == scope, c.key == key))

    def prune_failures(self, before_ms: int) -> int:
        """Drop failed attempts older than ``before_ms``; returns how many."""
        with self._begin() as conn:
            return int(
                conn.execute(S.auth_failures.delete().where(S.auth_failures.c.ts_ms < before_ms)).rowcount
            )
