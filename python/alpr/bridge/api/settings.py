"""Settings an admin edits from the dashboard: ``GET/PUT /api/v1/settings/retention``.

Stored days override the bridge's TOML ``[retention]`` values field by field (precedence in
:mod:`alpr.bridge.retention`); the retention pass reads them each time it runs. Every change is audited.
"""

# No `from __future__ import annotations`: FastAPI must see the real dependency types.

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from alpr.bridge.api.common import API, Admin, StoreDep
from alpr.bridge.config import Retention
from alpr.bridge.retention import DAYS_FIELDS, effective
from alpr.bridge.store.settings import RETENTION

router = APIRouter(prefix=f"{API}/settings")
MAX_DAYS = 36_500.0  # a hundred years; beyond that 0 (keep forever) says it better

Days = Field(default=None, ge=0, le=MAX_DAYS, allow_inf_nan=False)


class RetentionIn(BaseModel):
    """Days each kind is kept (0 keeps forever).

    A field left out stays as it is; null returns it to the config's value.
    """

    model_config = ConfigDict(extra="forbid")
    reads_days: float | None = Days
    crops_days: float | None = Days
    alerts_days: float | None = Days
    audit_days: float | None = Days


def _config(request: Request) -> Retention:
    policy = getattr(request.app.state, "retention", None)
    return policy if isinstance(policy, Retention) else Retention()


def _view(request: Request, store: StoreDep) -> dict[str, Any]:
    config = _config(request)
    stored = store.get_setting(RETENTION)
    policy = effective(store, config)
    values = stored["value"] if stored else {}
    return {
        **{k: getattr(policy, k) for k in DAYS_FIELDS},
        "source": {k: "stored" if values.get(k) is not None else "config" for k in DAYS_FIELDS},
        "config": {k: getattr(config, k) for k in DAYS_FIELDS},
        "interval_s": policy.interval_s,
        "updated": stored["updated"] if stored else None,
        "updated_by": stored["updated_by"] if stored else None,
    }


@router.get("/retention")
def get_retention(request: Request, _t: Admin, store: StoreDep) -> dict[str, Any]:
    """The retention days in force (0 keeps forever), where each comes from, and the config's."""
    return _view(request, store)


@router.put("/retention")
def put_retention(request: Request, t: Admin, store: StoreDep, body: RetentionIn) -> dict[str, Any]:
    """Store retention days; they override the config from the next retention pass on."""
    stored = store.get_setting(RETENTION)
    value = dict(stored["value"]) if stored else {}
    value |= body.model_dump(exclude_unset=True)
    store.put_setting(RETENTION, value, t.name or f"token {t.id}")
    store.audit(t.id, "settings.retention", {k: v for k, v in value.items() if v is not None}, 1)
    return _view(request, store)
