"""Watchlist management (operator role).

A camera-scoped operator manages only entries limited to its own cameras; every change reloads the bridge's
matcher and is audited.
"""

# No `from __future__ import annotations`: FastAPI must see the real dependency types.

from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response

from alpr.bridge.api.common import API, Operator, StoreDep, WatchId, parse_ms, state
from alpr.bridge.api.models import WatchIn, WatchList, WatchOut
from alpr.bridge.store import Store, TokenInfo, iso_ms
from alpr.bridge.store.watch import WatchOptions
from alpr.errors import ConfigError

router = APIRouter(prefix=API)


def _watch_out(e: Any) -> WatchOut:
    return WatchOut(
        id=e.id,
        pattern=e.pattern,
        kind=e.kind,
        reason=e.reason,
        max_distance=e.max_distance,
        expires=None if e.expires_ms is None else iso_ms(e.expires_ms),
        cameras=None if e.cameras is None else list(e.cameras),
    )


def _owns(t: TokenInfo, cameras: Any) -> bool:
    return t.cameras is None or (cameras is not None and set(cameras) <= set(t.cameras))


def _scoped(t: TokenInfo, body: WatchIn) -> list[str] | None:
    cams = body.cameras if body.cameras is not None else (None if t.cameras is None else list(t.cameras))
    if not _owns(t, cams):
        raise HTTPException(403, f"this token may only watch cameras {sorted(t.cameras or [])}")
    return cams


def _fields(body: WatchIn, cams: list[str] | None) -> WatchOptions:
    """The store's keyword arguments for an entry's settings (all but the pattern)."""
    return {
        "kind": body.kind,
        "reason": body.reason,
        "max_distance": body.max_distance,
        "expires_ms": parse_ms(body.expires, "expires"),
        "cameras": cams,
    }


def _visible_watch(store: Store, t: TokenInfo, watch_id: int) -> Any:
    e = store.get_watch(watch_id)
    if e is None or not _owns(t, e.cameras):
        raise HTTPException(404, f"no watchlist entry {watch_id}")
    return e


def _changed(request: Request) -> None:
    cb = state(request, "on_watchlist_change")
    if cb is not None:
        cb()


@router.get("/watchlists", response_model=WatchList)
def list_watch(t: Operator, store: StoreDep) -> WatchList:
    """List the watchlist entries the caller manages."""
    return WatchList(items=[_watch_out(e) for e in store.list_watch() if _owns(t, e.cameras)])


@router.post("/watchlists", response_model=WatchOut, status_code=201)
def add_watch(request: Request, t: Operator, store: StoreDep, body: WatchIn) -> WatchOut:
    """Add a watchlist entry."""
    cams = _scoped(t, body)
    try:
        wid = store.add_watch(body.pattern, **_fields(body, cams))
    except ConfigError as exc:
        raise HTTPException(422, str(exc)) from None
    _changed(request)
    store.audit(t.id, "watchlists.add", {"id": wid, "kind": body.kind}, 1)
    return _watch_out(_visible_watch(store, t, wid))


@router.get("/watchlists/{watch_id}", response_model=WatchOut)
def get_watch(t: Operator, store: StoreDep, watch_id: WatchId) -> WatchOut:
    """One watchlist entry."""
    return _watch_out(_visible_watch(store, t, watch_id))


@router.put("/watchlists/{watch_id}", response_model=WatchOut)
def put_watch(request: Request, t: Operator, store: StoreDep, watch_id: WatchId, body: WatchIn) -> WatchOut:
    """Replace a watchlist entry."""
    _visible_watch(store, t, watch_id)
    cams = _scoped(t, body)
    try:
        ok = store.update_watch(watch_id, body.pattern, **_fields(body, cams))
    except ConfigError as exc:
        raise HTTPException(422, str(exc)) from None
    if not ok:
        raise HTTPException(404, f"no watchlist entry {watch_id}")
    _changed(request)
    store.audit(t.id, "watchlists.update", {"id": watch_id}, 1)
    return _watch_out(_visible_watch(store, t, watch_id))


@router.delete("/watchlists/{watch_id}", status_code=204, response_class=Response)
def delete_watch(request: Request, t: Operator, store: StoreDep, watch_id: WatchId) -> Response:
    """Delete a watchlist entry."""
    _visible_watch(store, t, watch_id)
    if not store.delete_watch(watch_id):
        raise HTTPException(404, f"no watchlist entry {watch_id}")
    _changed(request)
    store.audit(t.id, "watchlists.delete", {"id": watch_id}, 1)
    return Response(status_code=204)
