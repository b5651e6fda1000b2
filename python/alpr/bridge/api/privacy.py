"""Data-subject requests and the audit log (admin role)."""

# No `from __future__ import annotations`: FastAPI must see the real dependency types.

from typing import Any

from fastapi import APIRouter

from alpr.bridge.api.common import API, Admin, Limit, StoreDep
from alpr.bridge.api.models import PlateRequest

router = APIRouter(prefix=API)


@router.post("/privacy/export")
def export(t: Admin, store: StoreDep, body: PlateRequest) -> dict[str, Any]:
    """Export everything stored about a plate (subject access)."""
    out = store.export_plate(body.plate)
    store.audit(t.id, "privacy.export", {"plate": body.plate}, len(out["reads"]))
    return out


@router.post("/privacy/erase")
def erase(t: Admin, store: StoreDep, body: PlateRequest) -> dict[str, int]:
    """Erase everything stored about a plate."""
    out = store.erase_plate(body.plate)
    # Not the plate itself (that is what was erased): its keyed blind index, enough to show later
    # that a given plate's erasure was done.
    ref = store.keyring.blind_index(body.plate)[:16]
    store.audit(t.id, "privacy.erase", {"plate_ref": ref}, out["reads"])
    return out


@router.get("/audit")
def audit(_t: Admin, store: StoreDep, limit: Limit = 100) -> dict[str, Any]:
    """The newest audit log entries."""
    return {"items": store.audit_log(limit)}
