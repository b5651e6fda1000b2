"""Parking sessions, anomalies (overstay, left without entry) and payments.

A token limited to cameras sees a session when both its entry camera and (once closed) its exit
camera are among them, and the anomalies raised at its cameras. ``POST /sessions/{id}/paid`` is for a
payment system holding an operator token; it is idempotent (the first payment is kept) and emits
``session.paid``.
"""

# No `from __future__ import annotations`: FastAPI must see the real dependency types.

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query

from alpr.bridge.api.common import (
    API,
    CAMERA,
    MAX_ID,
    PLATE,
    Operator,
    StoreDep,
    Viewer,
    parse_cursor,
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
    site: Annotated[str | None, Query(pattern=CAMERA)] = None,
    state: Literal["open", "closed"] | None = None,
    plate: Annotated[str | None, Query(pattern=PLATE)] = None,
    since: Annotated[datetime | None, Query(description="entry at or after")] = None,
    until: Annotated[datetime | None, Query(description="entry before")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
) -> SessionsPage:
    items, nxt = store.query_sessions(
        site=site,
        state=state,
        plate=plate,
        cameras=t.cameras,
        since_ms=parse_ms(since, "since"),
        until_ms=parse_ms(until, "until"),
        limit=limit,
        before_id=parse_cursor(cursor),
    )
    if plate is not None:
        store.audit(t.id, "sessions.search", {"plate": plate, "site": site}, len(items))
    return SessionsPage(items=[Session(**d) for d in items], next=None if nxt is None else str(nxt))


def _visible_session(store: Store, t: TokenInfo, session_id: int) -> dict[str, Any]:
    d = store.get_session(session_id)
    if d is None or not t.sees(d["entry_camera"]) or (d["exit_camera"] and not t.sees(d["exit_camera"])):
        raise HTTPException(404, f"no session {session_id}")
    return d


@router.get("/sessions/{session_id}", response_model=Session)
def session(t: Viewer, store: StoreDep, session_id: SessionId) -> Session:
    return Session(**_visible_session(store, t, session_id))


@router.post("/sessions/{session_id}/paid", response_model=Session)
def paid(t: Operator, store: StoreDep, session_id: SessionId, body: PaidIn | None = None) -> Session:
    _visible_session(store, t, session_id)
    b = body or PaidIn()
    store.mark_paid(session_id, reference=b.reference, paid_ms=parse_ms(b.paid_at, "paid_at"))
    store.audit(t.id, "sessions.paid", {"id": session_id, "reference": b.reference}, 1)
    return Session(**_visible_session(store, t, session_id))


@router.get("/anomalies", response_model=AnomaliesPage)
def anomalies(
    t: Viewer,
    store: StoreDep,
    site: Annotated[str | None, Query(pattern=CAMERA)] = None,
    kind: Literal["overstay", "no_entry"] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
) -> AnomaliesPage:
    items, nxt = store.query_anomalies(
        site=site,
        kind=kind,
        cameras=t.cameras,
        since_ms=parse_ms(since, "since"),
        until_ms=parse_ms(until, "until"),
        limit=limit,
        before_id=parse_cursor(cursor),
    )
    return AnomaliesPage(items=[Anomaly(**a) for a in items], next=None if nxt is None else str(nxt))
