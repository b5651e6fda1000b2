"""Retention policies: reads, crops, alerts and the audit log each kept for their own period.

The bridge runs :func:`enforce` once at start and then every ``retention.interval_s`` seconds
(:meth:`alpr.bridge.service.Bridge.start`). Periods count from the capture time; 0 keeps forever.
SQLite deletes run with ``secure_delete`` and are followed by a WAL checkpoint, so removed
ciphertext does not linger in the file or its ``-wal``.
"""

from __future__ import annotations

from alpr.bridge.config import Retention
from alpr.bridge.store import Store

__all__ = ["enforce"]


def enforce(store: Store, policy: Retention, *, now_ms: int | None = None) -> dict[str, int]:
    """Delete everything older than ``policy`` allows; returns the rows removed per kind.

    Closed parking sessions, anomalies, journeys and webhook dead letters are kept as long as reads
    (``reads_days``).
    """
    store.prune_sessions()  # expired dashboard sessions
    store.ensure_read_partitions(now_ms=now_ms)  # PostgreSQL: the coming months' partitions
    out = store.enforce_retention(
        reads_days=policy.reads_days,
        crops_days=policy.crops_days,
        alerts_days=policy.alerts_days,
        audit_days=policy.audit_days,
        now=now_ms,
    )
    out["dead_letters"] = store.expire_dead_letters(days=policy.reads_days, now=now_ms)
    return out | store.enforce_correlated_retention(days=policy.reads_days, now=now_ms)
