"""Retention policies: reads, crops, alerts and the audit log each kept for their own period.

The bridge runs :func:`enforce` once at start and then every ``retention.interval_s`` seconds
(:meth:`alpr.bridge.service.Bridge.start`). Periods count from the capture time; 0 keeps forever.
SQLite deletes run with ``secure_delete`` and are followed by a WAL checkpoint, so removed
ciphertext does not linger in the file or its ``-wal``.

Precedence: days an admin stored from the dashboard (``PUT /api/v1/settings/retention``, the
``settings`` table) override the TOML ``[retention]`` values field by field; a field never stored keeps
the config's value, and the config's defaults apply when neither sets it. ``interval_s`` comes only
from the config. Every pass reads the stored value, so a change takes effect at the next pass.
"""

from __future__ import annotations

from alpr.bridge.config import Retention
from alpr.bridge.store import Store
from alpr.bridge.store.base import now_ms as clock_ms
from alpr.bridge.store.settings import RETENTION

__all__ = ["DAYS_FIELDS", "effective", "enforce"]

# Failed sign-ins / token guesses older than a day no longer count against anyone (windows are shorter).
FAILURES_KEPT_MS = 86_400_000
DAYS_FIELDS = ("reads_days", "crops_days", "alerts_days", "audit_days")


def effective(store: Store, policy: Retention) -> Retention:
    """``policy`` (from the config) with the days stored in the ``settings`` table laid over it."""
    stored = store.get_setting(RETENTION)
    if stored is None:
        return policy
    over = {k: float(v) for k, v in stored["value"].items() if k in DAYS_FIELDS and v is not None}
    return policy.model_copy(update=over)


def enforce(store: Store, policy: Retention, *, now_ms: int | None = None) -> dict[str, int]:
    """Delete everything older than ``policy`` allows; returns the rows removed per kind.

    Closed parking sessions, anomalies, journeys and webhook dead letters are kept as long as reads
    (``reads_days``). Days stored from the dashboard override ``policy`` (:func:`effective`).
    """
    policy = effective(store, policy)
    store.prune_sessions()  # expired dashboard sessions
    store.prune_failures((clock_ms() if now_ms is None else now_ms) - FAILURES_KEPT_MS)
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
