"""Journeys (the same vehicle at camera A, then B) and the origin-destination matrix per hour.

A token limited to cameras sees the journeys whose both cameras are among them.
"""

# No `from __future__ import annotations`: FastAPI must see the real dependency types.

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from alpr.bridge.api.common import API, PLATE, StoreDep, Viewer, parse_cursor, parse_ms
from alpr.bridge.api.parking_models import Journey, JourneysPage, OdCell, OdMatrix

router = APIRouter(prefix=API)


@router.get("/journeys", response_model=JourneysPage)
def journeys(
    t: Viewer,
    store: StoreDep,
    plate: Annotated[str | None, Query(pattern=PLATE)] = None,
    since: Annotated[datetime | None, Query(description="departure at or after")] = None,
    until: Annotated[datetime | None, Query(description="departure before")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
) -> JourneysPage:
    items, nxt = store.query_journeys(
        plate=plate,
        cameras=t.cameras,
        since_ms=parse_ms(since, "since"),
        until_ms=parse_ms(until, "until"),
        limit=limit,
        before_id=parse_cursor(cursor),
    )
    if plate is not None:
        store.audit(t.id, "journeys.search", {"plate": plate}, len(items))
    return JourneysPage(items=[Journey(**j) for j in items], next=None if nxt is None else str(nxt))


@router.get("/journeys/matrix", response_model=OdMatrix)
def matrix(
    t: Viewer,
    store: StoreDep,
    since: datetime | None = None,
    until: datetime | None = None,
) -> OdMatrix:
    cells = store.od_matrix(
        cameras=t.cameras, since_ms=parse_ms(since, "since"), until_ms=parse_ms(until, "until")
    )
    return OdMatrix(items=[OdCell(**c) for c in cells])
