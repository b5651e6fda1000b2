"""Alert acknowledgement (operator role): who and when, audited; scoped like the alert list."""

# No `from __future__ import annotations`: FastAPI must see the real dependency types.

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path
from pydantic import BaseModel

from alpr.bridge.api.common import API, MAX_ID, Operator, StoreDep
from alpr.bridge.store import TokenInfo

router = APIRouter(prefix=API)
AlertId = Annotated[int, Path(ge=1, le=MAX_ID)]


class Ack(BaseModel):
    """An alert's acknowledgement: who acknowledged it, when, and whether this request did."""

    id: int
    acknowledged: bool
    acknowledged_by: str
    acknowledged_at: str


def actor(t: TokenInfo) -> str:
    """How a principal is named in acknowledgements: the user name, or ``token:NAME#ID``."""
    return t.name if t.id < 0 else f"token:{t.name}#{t.id}"


@router.post("/alerts/{alert_id}/ack", response_model=Ack)
def ack(t: Operator, store: StoreDep, alert_id: AlertId) -> Ack:
    """Acknowledge an alert (idempotent: the first acknowledgement stays)."""
    cam = store.alert_camera(alert_id)
    if cam is None or not t.sees(cam):
        raise HTTPException(404, f"no alert {alert_id}")
    got = store.ack_alert(alert_id, actor(t))
    if got is None:
        raise HTTPException(404, f"no alert {alert_id}")
    if got["new"]:
        store.audit(t.id, "alerts.ack", {"id": alert_id}, 1)
    return Ack(
        id=alert_id,
        acknowledged=True,
        acknowledged_by=got["acknowledged_by"],
        acknowledged_at=got["acknowledged_at"],
    )
