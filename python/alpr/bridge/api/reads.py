"""Reads, crops, cameras, alerts and stats: what a viewer may see (scoped to the token's cameras)."""

# No `from __future__ import annotations`: FastAPI must see the real dependency types.

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response

from alpr.bridge.api.common import (
    API,
    EventId,
    PlateQuery,
    StoreDep,
    Viewer,
    WindowDep,
    next_cursor,
    state,
)
from alpr.bridge.api.models import Alert, AlertsPage, Camera, Cameras, Read, ReadsPage
from alpr.bridge.store import Store, TokenInfo

router = APIRouter(prefix=API)


@router.get("/reads", response_model=ReadsPage)
def reads(
    request: Request,
    t: Viewer,
    store: StoreDep,
    window: WindowDep,
    plate: PlateQuery = None,
    fuzzy: bool = False,
    max_distance: Annotated[float, Query(ge=0, le=4, allow_inf_nan=False)] = 1.0,
) -> ReadsPage:
    """Search reads, newest first: by plate (exact, or fuzzy within ``max_distance``), camera and time."""
    query: dict[str, Any] = {
        "plate": plate,
        "fuzzy": fuzzy,
        "max_distance": max_distance,
        "cameras": t.cameras,
        "scan_limit": state(request, "scan_limit"),
        **window.store_args(),
    }
    if fuzzy and plate is not None:  # decrypts up to scan_limit rows: bounded per token and in all
        with state(request, "fuzzy_gate").slot(t.id):
            items, nxt = store.query_reads(**query)
    else:
        items, nxt = store.query_reads(**query)
    w = window
    detail = {"plate": plate, "fuzzy": fuzzy, "camera": w.camera}
    detail |= {"since": str(w.since), "until": str(w.until)}
    store.audit(t.id, "reads.search", detail, len(items))
    return ReadsPage(items=[Read(**d) for d in items], next=next_cursor(nxt))


def _visible_read(store: Store, t: TokenInfo, event_id: str) -> dict[str, Any]:
    d = store.get_read(event_id)
    if d is None or not t.sees(d["camera"]):
        raise HTTPException(404, f"no read {event_id!r}")
    return d


@router.get("/reads/{event_id}", response_model=Read)
def read(t: Viewer, store: StoreDep, event_id: EventId) -> Read:
    """One read."""
    d = _visible_read(store, t, event_id)
    store.audit(t.id, "reads.get", {"event_id": event_id}, 1)
    return Read(**d)


@router.get(
    "/reads/{event_id}/crop",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}, "description": "the plate crop (JPEG)"}},
)
def crop(t: Viewer, store: StoreDep, event_id: EventId) -> Response:
    """The JPEG crop of a read."""
    _visible_read(store, t, event_id)
    data = store.get_crop(event_id)
    if data is None:
        raise HTTPException(404, f"read {event_id!r} has no crop (none sent, or removed by retention)")
    store.audit(t.id, "reads.crop", {"event_id": event_id}, 1)
    return Response(content=data, media_type="image/jpeg")


@router.get("/cameras", response_model=Cameras)
def cameras(
    t: Viewer, store: StoreDep, offline_after_s: Annotated[float, Query(gt=0, le=86_400)] = 15.0
) -> Cameras:
    """The cameras visible to the caller: read counts, site role, and health from the stream heartbeats.

    Online means a heartbeat within ``offline_after_s``.
    """
    health = {
        h["camera"]: h for h in store.camera_health(t.cameras, offline_after_ms=int(offline_after_s * 1000))
    }
    keys = ("online", "last_heartbeat", "fps", "frames", "dropped")
    items = []
    for c in store.cameras(t.cameras):
        h = health.pop(c["camera"], {})
        items.append(Camera(**c, **{k: h[k] for k in keys if k in h}))
    for cam, h in sorted(health.items()):  # heard from, but no read yet
        items.append(Camera(camera=cam, reads=0, last_ts=None, **{k: h[k] for k in keys}))
    return Cameras(items=items)


@router.get("/alerts", response_model=AlertsPage)
def alerts(
    t: Viewer,
    store: StoreDep,
    window: WindowDep,
    state: Literal["open", "acknowledged"] | None = None,
) -> AlertsPage:
    """Watchlist alerts, newest first."""
    items, nxt = store.query_alerts(state=state, cameras=t.cameras, **window.store_args())
    return AlertsPage(items=[Alert(**a) for a in items], next=next_cursor(nxt))


@router.get("/stats")
def stats(t: Viewer, store: StoreDep) -> dict[str, Any]:
    """Store totals visible to the caller."""
    return store.stats(t.cameras)
