"""REST API (FastAPI). Every API route, the OpenAPI document included, needs a bearer token; only
the static operator page (``/``, ``/dashboard.js``, ``/dashboard.css``, which hold no data) does not.

Roles: ``viewer`` reads (reads, crops, cameras, alerts, stats, health), ``operator`` also manages
watchlists, ``admin`` also exports / erases a plate's data and reads the audit log. A token may be
limited to some cameras: it then sees only their reads and alerts, and (as an operator) manages only
watchlist entries limited to those cameras. Every reads search is written to
the audit log (filters encrypted, like everything else that names a plate).
"""

# No `from __future__ import annotations`: FastAPI must see the real (local) dependency types.

from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path as PathlibPath
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request, Response, Security
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from sqlalchemy.exc import DataError, DBAPIError

from alpr.bridge.store import Role, Store, TokenInfo
from alpr.errors import ConfigError, StoreError

__all__ = ["create_app"]

API = "/api/v1"
CAMERA = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"  # as alpr.stream.events.CAMERA_PATTERN
PLATE = r"^[^\x00-\x1f\x7f]{1,32}$"
TEXT = r"^[^\x00]*$"
MAX_ID = 2**62
_bearer = HTTPBearer(auto_error=False, description="alpr token (`alpr token create --role viewer ...`)")


class Read(BaseModel):
    event_id: str
    camera: str
    ts: str
    plate: str
    confidence: float
    char_confidences: list[float] = []
    region: str | None = None
    box: list[float] = []
    track_id: int | None = None
    first_seen: str | None = None
    last_seen: str | None = None
    detector_score: float | None = None
    has_crop: bool = False
    distance: float | None = None


class ReadsPage(BaseModel):
    items: list[Read]
    next: str | None = Field(description="pass as `cursor` for the next (older) page; null at the end")


class Alert(BaseModel):
    id: int
    event_id: str
    watchlist_id: int
    camera: str
    ts: str
    plate: str
    match: str
    reason: str
    distance: float


class AlertsPage(BaseModel):
    items: list[Alert]
    next: str | None


class Camera(BaseModel):
    camera: str
    reads: int
    last_ts: str


class Cameras(BaseModel):
    items: list[Camera]


class WatchIn(BaseModel):
    pattern: str = Field(
        min_length=1, max_length=32, pattern=PLATE, description="plate, or wildcard with * and ?"
    )
    kind: Literal["exact", "wildcard", "fuzzy"] = "exact"
    reason: str = Field(default="", max_length=256, pattern=TEXT)
    max_distance: float = Field(default=1.0, ge=0, le=4)
    expires: datetime | None = None
    cameras: list[Annotated[str, Field(min_length=1, max_length=128)]] | None = Field(
        default=None, max_length=256
    )


class WatchOut(BaseModel):
    id: int
    pattern: str
    kind: str
    reason: str
    max_distance: float
    expires: str | None
    cameras: list[str] | None


class WatchList(BaseModel):
    items: list[WatchOut]


class PlateRequest(BaseModel):
    plate: str = Field(min_length=1, max_length=32, pattern=PLATE)


class Health(BaseModel):
    status: str
    version: str
    mqtt_connected: bool | None
    outbox_pending: dict[str, int]


def _ms(dt: datetime | None, name: str) -> int | None:
    if dt is None:
        return None
    try:
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
        return int(dt.timestamp() * 1000)
    except (OverflowError, ValueError, OSError):
        raise HTTPException(422, f"{name}: expected a representable time, got {dt!r}") from None


def _cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    if not cursor.isdigit() or len(cursor) > 18:
        raise HTTPException(422, f"cursor: expected a value from a previous `next`, got {cursor[:40]!r}")
    return int(cursor)


def _watch_out(e: Any) -> WatchOut:
    from alpr.bridge.store import iso_ms

    return WatchOut(
        id=e.id,
        pattern=e.pattern,
        kind=e.kind,
        reason=e.reason,
        max_distance=e.max_distance,
        expires=None if e.expires_ms is None else iso_ms(e.expires_ms),
        cameras=None if e.cameras is None else list(e.cameras),
    )


def create_app(
    store: Store,
    *,
    on_watchlist_change: Callable[[], None] | None = None,
    mqtt_connected: Callable[[], bool] | None = None,
    scan_limit: int = 50_000,
) -> FastAPI:
    """The REST application over ``store``; ``on_watchlist_change`` lets the bridge reload its matcher."""
    from alpr import __version__

    app = FastAPI(
        title="alpr bridge",
        version=__version__,
        description="Plate reads, alerts and watchlists. Authenticate with `Authorization: Bearer <token>`.",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    changed = on_watchlist_change or (lambda: None)

    def need(role: Role) -> Callable[..., TokenInfo]:
        def dep(creds: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)]) -> TokenInfo:
            if creds is None or not creds.credentials:
                raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
            info = store.verify_token(creds.credentials)
            if info is None:
                raise HTTPException(401, "invalid or revoked token", headers={"WWW-Authenticate": "Bearer"})
            if not info.allows(role):
                raise HTTPException(403, f"this route needs the {role} role; the token has {info.role}")
            return info

        return dep

    Viewer = Annotated[TokenInfo, Depends(need("viewer"))]
    Operator = Annotated[TokenInfo, Depends(need("operator"))]
    Admin = Annotated[TokenInfo, Depends(need("admin"))]
    EventId = Annotated[str, Path(pattern=r"^[0-9A-Za-z-]{1,64}$")]
    WatchId = Annotated[int, Path(ge=1, le=MAX_ID)]

    @app.exception_handler(StoreError)
    async def _store_error(_r: Request, exc: StoreError) -> Response:
        return JSONResponse({"detail": "store unavailable"}, status_code=503)

    @app.exception_handler(DBAPIError)
    async def _db_error(_r: Request, exc: DBAPIError) -> Response:
        if isinstance(exc, DataError):  # a value the database cannot hold (e.g. out of range)
            return JSONResponse({"detail": "invalid value for the store"}, status_code=422)
        return JSONResponse({"detail": "store unavailable"}, status_code=503)

    # The operator page: static files that hold no data (everything shown is fetched from the API with
    # the token the operator types in), so they are the only routes served without a token.
    static = PathlibPath(__file__).with_name("static")
    headers = {
        "Content-Security-Policy": "default-src 'self'; img-src 'self' blob:; frame-ancestors 'none'",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    }
    assets = {
        "/": ("dashboard.html", "text/html"),
        "/dashboard.js": ("dashboard.js", "text/javascript"),
        "/dashboard.css": ("dashboard.css", "text/css"),
    }

    def asset(name: str, media: str) -> Callable[[], Response]:
        body = (static / name).read_bytes()

        def serve() -> Response:
            return Response(body, media_type=media, headers=headers)

        return serve

    for route, (name, media) in assets.items():
        app.add_api_route(route, asset(name, media), methods=["GET"], include_in_schema=False)

    @app.get(f"{API}/openapi.json", include_in_schema=False)
    def openapi(_t: Viewer) -> dict[str, Any]:
        return app.openapi()

    @app.get(f"{API}/health", response_model=Health)
    def health(_t: Viewer) -> Health:
        return Health(
            status="ok",
            version=__version__,
            mqtt_connected=None if mqtt_connected is None else mqtt_connected(),
            outbox_pending=store.outbox_pending(),
        )

    @app.get(f"{API}/reads", response_model=ReadsPage)
    def reads(
        t: Viewer,
        plate: Annotated[str | None, Query(pattern=PLATE)] = None,
        fuzzy: bool = False,
        max_distance: Annotated[float, Query(ge=0, le=4)] = 1.0,
        camera: Annotated[str | None, Query(pattern=CAMERA)] = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        cursor: Annotated[str | None, Query(max_length=40)] = None,
    ) -> ReadsPage:
        items, nxt = store.query_reads(
            plate=plate,
            fuzzy=fuzzy,
            max_distance=max_distance,
            camera=camera,
            cameras=t.cameras,
            since_ms=_ms(since, "since"),
            until_ms=_ms(until, "until"),
            limit=limit,
            before_id=_cursor(cursor),
            scan_limit=scan_limit,
        )
        detail = {"plate": plate, "fuzzy": fuzzy, "camera": camera, "since": str(since), "until": str(until)}
        store.audit(t.id, "reads.search", detail, len(items))
        return ReadsPage(items=[Read(**d) for d in items], next=None if nxt is None else str(nxt))

    def _visible_read(t: TokenInfo, event_id: str) -> dict[str, Any]:
        d = store.get_read(event_id)
        if d is None or not t.sees(d["camera"]):
            raise HTTPException(404, f"no read {event_id!r}")
        return d

    @app.get(f"{API}/reads/{{event_id}}", response_model=Read)
    def read(t: Viewer, event_id: EventId) -> Read:
        d = _visible_read(t, event_id)
        store.audit(t.id, "reads.get", {"event_id": event_id}, 1)
        return Read(**d)

    @app.get(
        f"{API}/reads/{{event_id}}/crop",
        response_class=Response,
        responses={200: {"content": {"image/jpeg": {}}, "description": "the plate crop (JPEG)"}},
    )
    def crop(t: Viewer, event_id: EventId) -> Response:
        _visible_read(t, event_id)
        data = store.get_crop(event_id)
        if data is None:
            raise HTTPException(404, f"read {event_id!r} has no crop (none sent, or removed by retention)")
        store.audit(t.id, "reads.crop", {"event_id": event_id}, 1)
        return Response(content=data, media_type="image/jpeg")

    @app.get(f"{API}/cameras", response_model=Cameras)
    def cameras(t: Viewer) -> Cameras:
        return Cameras(items=[Camera(**c) for c in store.cameras(t.cameras)])

    @app.get(f"{API}/alerts", response_model=AlertsPage)
    def alerts(
        t: Viewer,
        camera: Annotated[str | None, Query(pattern=CAMERA)] = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        cursor: Annotated[str | None, Query(max_length=40)] = None,
    ) -> AlertsPage:
        items, nxt = store.query_alerts(
            camera=camera,
            cameras=t.cameras,
            since_ms=_ms(since, "since"),
            until_ms=_ms(until, "until"),
            limit=limit,
            before_id=_cursor(cursor),
        )
        return AlertsPage(items=[Alert(**a) for a in items], next=None if nxt is None else str(nxt))

    @app.get(f"{API}/stats")
    def stats(t: Viewer) -> dict[str, Any]:
        return store.stats(t.cameras)

    # A camera-scoped operator manages only entries limited to its own cameras.
    def _owns(t: TokenInfo, cameras: Any) -> bool:
        return t.cameras is None or (cameras is not None and set(cameras) <= set(t.cameras))

    def _scoped(t: TokenInfo, body: WatchIn) -> list[str] | None:
        cams = body.cameras if body.cameras is not None else (None if t.cameras is None else list(t.cameras))
        if not _owns(t, cams):
            raise HTTPException(403, f"this token may only watch cameras {sorted(t.cameras or [])}")
        return cams

    def _visible_watch(t: TokenInfo, watch_id: int) -> Any:
        e = store.get_watch(watch_id)
        if e is None or not _owns(t, e.cameras):
            raise HTTPException(404, f"no watchlist entry {watch_id}")
        return e

    @app.get(f"{API}/watchlists", response_model=WatchList)
    def list_watch(t: Operator) -> WatchList:
        return WatchList(items=[_watch_out(e) for e in store.list_watch() if _owns(t, e.cameras)])

    @app.post(f"{API}/watchlists", response_model=WatchOut, status_code=201)
    def add_watch(t: Operator, body: WatchIn) -> WatchOut:
        cams = _scoped(t, body)
        try:
            wid = store.add_watch(
                body.pattern,
                kind=body.kind,
                reason=body.reason,
                max_distance=body.max_distance,
                expires_ms=_ms(body.expires, "expires"),
                cameras=cams,
            )
        except ConfigError as exc:
            raise HTTPException(422, str(exc)) from None
        changed()
        store.audit(t.id, "watchlists.add", {"id": wid, "kind": body.kind}, 1)
        e = store.get_watch(wid)
        assert e is not None
        return _watch_out(e)

    @app.get(f"{API}/watchlists/{{watch_id}}", response_model=WatchOut)
    def get_watch(t: Operator, watch_id: WatchId) -> WatchOut:
        return _watch_out(_visible_watch(t, watch_id))

    @app.put(f"{API}/watchlists/{{watch_id}}", response_model=WatchOut)
    def put_watch(t: Operator, watch_id: WatchId, body: WatchIn) -> WatchOut:
        _visible_watch(t, watch_id)
        cams = _scoped(t, body)
        try:
            ok = store.update_watch(
                watch_id,
                body.pattern,
                kind=body.kind,
                reason=body.reason,
                max_distance=body.max_distance,
                expires_ms=_ms(body.expires, "expires"),
                cameras=cams,
            )
        except ConfigError as exc:
            raise HTTPException(422, str(exc)) from None
        if not ok:
            raise HTTPException(404, f"no watchlist entry {watch_id}")
        changed()
        store.audit(t.id, "watchlists.update", {"id": watch_id}, 1)
        e = store.get_watch(watch_id)
        assert e is not None
        return _watch_out(e)

    @app.delete(f"{API}/watchlists/{{watch_id}}", status_code=204, response_class=Response)
    def delete_watch(t: Operator, watch_id: WatchId) -> Response:
        _visible_watch(t, watch_id)
        if not store.delete_watch(watch_id):
            raise HTTPException(404, f"no watchlist entry {watch_id}")
        changed()
        store.audit(t.id, "watchlists.delete", {"id": watch_id}, 1)
        return Response(status_code=204)

    @app.post(f"{API}/privacy/export")
    def export(t: Admin, body: PlateRequest) -> dict[str, Any]:
        out = store.export_plate(body.plate)
        store.audit(t.id, "privacy.export", {"plate": body.plate}, len(out["reads"]))
        return out

    @app.post(f"{API}/privacy/erase")
    def erase(t: Admin, body: PlateRequest) -> dict[str, int]:
        out = store.erase_plate(body.plate)
        store.audit(t.id, "privacy.erase", {"plate": body.plate}, out["reads"])
        return out

    @app.get(f"{API}/audit")
    def audit(_t: Admin, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
        return {"items": store.audit_log(limit)}

    return app
