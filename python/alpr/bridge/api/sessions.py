"""Parking sessions, anomalies (overstay, left without entry) and payments.

A token limited to cameras sees a session when both its entry camera and (once closed) its exit
camera are among them, and the anomalies raised at its cameras. ``POST /sessions/{id}/paid`` is for a
payment system holding an operator token; it is idempotent (the first payment is kept) and emits
``session.paid``.
"""

# No `from __future__ import annotations`: FastAPI must see the real dependency types.

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path

from alpr.bridge.api.common import (
    API,
    MAX_ID,
    NameQuery,
    Operator,
    PlateQuery,
    StoreDep,
    Viewer,
    next_cursor,
    paging,
    parse_ms,
)
from alpr.bridge.api.parking_models import AnomaliesPage, Anomaly, PaidIn, Session, SessionsPage
from alpr.bridge.store import Store, TokenInfo

router = APIRouter(prefix=API)

SessionId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.get("/sessions", response_model=SessionsPage)
def sessions(
    t: Viewer,
    store: StoreDep,
    page: Annotated[dict[str, Any], Depends(paging("entry"))],
    site: NameQuery = None,
    state: Literal["open", "closed"] | None = None,
    plate: PlateQuery = None,
) -> SessionsPage:
    """List parking sessions, newest first."""
    items, nxt = store.query_sessions(site=site, state=state, plate=plate, cameras=t.cameras, **page)
    if plate is not None:
        store.audit(t.id, "sessions.search", {"plate": plate, "site": site}, len(items))
    return SessionsPage(items=[Session(**d) for d in items], next=next_cursor(nxt))


def _visible_session(store: Store, t: TokenInfo, session_id: int) -> dict[str, Any]:
    d = store.get_session(session_id)
    if d is None or not t.sees(d["entry_camera"]) or (d["exit_camera"] and not t.sees(d["exit_camera"])):
        raise HTTPException(404, f"no session {session_id}")
    return d


@router.get("/sessions/{session_id}", response_model=Session)
def session(t: Viewer, store: StoreDep, session_id: SessionId) -> Session:
    """One parking session."""
    return Session(**_visible_session(store, t, session_id))


@router.post("/sessions/{session_id}/paid", response_model=Session)
def paid(t: Operator, store: StoreDep, session_id: SessionId, body: PaidIn | None = None) -> Session:
    """Record a payment for a session (idempotent)."""
    _visible_session(store, t, session_id)
    b = body or PaidIn()
    store.mark_paid(session_id, reference=b.reference, paid_ms=parse_ms(b.paid_at, "paid_at"))
    store.audit(t.id, "sessions.paid", {"id": session_id, "reference": b.reference}, 1)
    return Session(**_visible_session(store, t, session_id))


@router.get("/anomalies", response_model=AnomaliesPage)
def anomalies(
    t: Viewer,
    store: StoreDep,
    page: Annotated[dict[str, Any], Depends(paging())],
    site: NameQuery = None,
    kind: Literal["overstay", "no_entry"] | None = None,
) -> AnomaliesPage:
    """List parking anomalies, newest first."""
    items, nxt = store.query_anomalies(site=site, kind=kind, cameras=t.cameras, **page)
    return AnomaliesPage(items=[Anomaly(**a) for a in items], next=next_cursor(nxt))
