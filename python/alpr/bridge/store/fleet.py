"""Several bridges on one PostgreSQL: outbox claims with leases and an advisory-lock leader.

Outbox: on PostgreSQL :meth:`~alpr.bridge.store.Store.outbox_fetch` *claims* the rows it returns
(``UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING``): each row is stamped with
this store's ``worker_id`` and a lease of :data:`LEASE_MS`. Another bridge's fetch skips rows that
are locked or under someone else's lease, so one row goes to one bridge; a bridge that dies leaves
its rows to the others once the lease runs out (delivery stays at least once, and a lease expiring
while a row is still in flight is the only way a row is sent twice). SQLite keeps the plain read:
one bridge process writes a SQLite store.

Leader: background duties that must run once per fleet (retention, overstay checks) run on the
bridge that holds a session-level ``pg_try_advisory_lock`` on a dedicated connection; when that
bridge stops or its connection dies, PostgreSQL releases the lock and the next bridge to ask leads.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import sqlalchemy as sa

from alpr.bridge.store.base import StoreBase, lock_key

__all__ = ["LEASE_MS", "FleetMixin", "lock_key"]

LEASE_MS = 60_000
"""How long a claimed outbox row stays with the bridge that claimed it (renewed by each fetch)."""


class FleetMixin(StoreBase):
    """Part of :class:`~alpr.bridge.store.Store`."""

    def is_leader(self, duty: str) -> bool:
        """True while this store holds the fleet-wide lock for ``duty`` (always True on SQLite)."""
        if self.is_sqlite:
            return True
        held: dict[str, Any] = self.__dict__.setdefault("_leader_conns", {})
        lock: threading.Lock = self.__dict__.setdefault("_leader_lock", threading.Lock())
        with lock:
            conn = held.get(duty)
            if conn is not None:
                try:
                    conn.exec_driver_sql("SELECT 1")
                    return True
                except sa.exc.SQLAlchemyError:  # connection lost: so is the lock
                    held.pop(duty, None)
                    conn.invalidate()
            try:
                conn = self.engine.connect()
                got = bool(
                    conn.execute(
                        sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": lock_key("leader:" + duty)}
                    ).scalar()
                )
                conn.commit()
            except sa.exc.SQLAlchemyError:
                return False
            if got:
                held[duty] = conn
            else:
                conn.close()
            return got

    def resign(self) -> None:
        """Give up every leadership (unlock, then close the lock connections)."""
        held: dict[str, Any] = self.__dict__.get("_leader_conns", {})
        for conn in list(held.values()):
            try:
                conn.exec_driver_sql("SELECT pg_advisory_unlock_all()")
                conn.commit()
                conn.close()
            except sa.exc.SQLAlchemyError:
                with contextlib.suppress(sa.exc.SQLAlchemyError):
                    conn.invalidate()  # the session (and its locks) ends with the connection
        held.clear()

    def close(self) -> None:
        """Give up every leadership (:meth:`resign`), then close the pool."""
        self.resign()
        super().close()
