"""Journeys (the same vehicle at camera A, then B) and the origin-destination matrix per hour.

A token limited to cameras sees the journeys whose both cameras are among them.
"""

# No `from __future__ import annotations`: FastAPI must see the real dependency types.

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from alpr.bridge.api.common import API, PlateQuery, StoreDep, Viewer, next_cursor, paging, parse_ms
from alpr.bridge.api.parking_models import Journey, JourneysPage, OdCell, OdMatrix

router = APIRouter(prefix=API)


@router.get("/journeys", response_model=JourneysPage)
def journeys(
    t: Viewer,
    store: StoreDep,
    page: Annotated[dict[str, Any], Depends(paging("departure"))],
    plate: PlateQuery = None,
) -> JourneysPage:
    """List journeys (a plate read at one camera, then at another), newest first."""
    items, nxt = store.query_journeys(plate=plate, cameras=t.cameras, **page)
    if plate is not None:
        store.audit(t.id, "journeys.search", {"plate": plate}, len(items))
    return JourneysPage(items=[Journey(**j) for j in items], next=next_cursor(nxt))


@router.get("/journeys/matrix", response_model=OdMatrix)
def matrix(
    t: Viewer,
    store: StoreDep,
    since: datetime | None = None,
    until: datetime | None = None,
) -> OdMatrix:
    """Origin-destination matrix: journeys per hour of departure and camera pair."""
    cells = store.od_matrix(
        cameras=t.cameras, since_ms=parse_ms(since, "since"), until_ms=parse_ms(until, "until")
    )
    return OdMatrix(items=[OdCell(**c) for c in cells])
