"""REST API (FastAPI): every API route, the OpenAPI document included, needs a bearer token.

Only the static operator page (``/``, ``/dashboard.js``, ``/dashboard.css``, which hold no data) does not.

Browsers sign in at ``/auth/login`` (:mod:`.session`) and then call the same routes with a session
cookie (state-changing calls also send ``X-CSRF-Token``); every other client uses a bearer token.

Roles: ``viewer`` reads (reads, crops, cameras, alerts, stats, health), ``operator`` also manages
watchlists, ``admin`` also exports / erases a plate's data and reads the audit log. A token may be
limited to some cameras: it then sees only their reads and alerts, and (as an operator) manages only
watchlist entries limited to those cameras. Every reads search is written to
the audit log (filters encrypted, like everything else that names a plate).

One module per area, each a module-level ``APIRouter``: :mod:`.reads` (reads, crops, cameras, alerts,
stats), :mod:`.watchlists`, :mod:`.privacy` (export, erase, audit); :mod:`.common` holds the shared
dependencies (store, auth) and :mod:`.models` the bodies. ``create_app`` puts the store and the callbacks
on ``app.state`` and includes the routers.
"""

# No `from __future__ import annotations`: FastAPI must see the real (local) dependency types.

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError

from alpr.bridge.api import (
    admin,
    alerts,
    dashboard,
    deadletters,
    journeys,
    live,
    privacy,
    reads,
    session,
    sessions,
    settings,
    sites,
    watchlists,
)
from alpr.bridge.api.common import API, AuthenticateFirst, StoreDep, Viewer
from alpr.bridge.api.hardening import (
    ApiLimits,
    AuthGuard,
    FuzzyGate,
    SecurityHeaders,
    validation_error_handler,
)
from alpr.bridge.api.models import Health
from alpr.bridge.store import Store
from alpr.errors import StoreError

__all__ = ["ApiLimits", "create_app"]

ROUTERS = (
    reads.router,
    watchlists.router,
    privacy.router,
    alerts.router,
    live.router,
    dashboard.router,
    admin.router,
    session.router,
    sites.router,
    sessions.router,
    journeys.router,
    deadletters.router,
    settings.router,
)


def create_app(
    store: Store,
    *,
    on_watchlist_change: Callable[[], None] | None = None,
    mqtt_connected: Callable[[], bool] | None = None,
    stream_stats: Callable[[], dict[str, int] | None] | None = None,
    scan_limit: int = 50_000,
    limits: ApiLimits | None = None,
) -> FastAPI:
    """The REST application over ``store``; ``on_watchlist_change`` lets the bridge reload its matcher.

    ``limits`` (:class:`~alpr.bridge.api.hardening.ApiLimits`): body size, token guessing, fuzzy searches.
    ``stream_stats``: the stream consumer's counters (delivered, lost, foreign ACKs...) for ``/health``.
    """
    from alpr import __version__

    limits = limits if limits is not None else ApiLimits()
    app = FastAPI(
        max_body_size=limits.max_body_bytes,
        title="alpr bridge",
        version=__version__,
        description="Plate reads, alerts and watchlists. Authenticate with `Authorization: Bearer <token>`.",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.store = store
    app.state.on_watchlist_change = on_watchlist_change
    app.state.mqtt_connected = mqtt_connected
    app.state.scan_limit = scan_limit
    app.state.limits = limits
    app.state.auth_guard = AuthGuard(limits, store)
    app.state.fuzzy_gate = FuzzyGate(limits)
    app.add_middleware(AuthenticateFirst)
    app.add_middleware(SecurityHeaders)  # added last: the outer one, so refusals carry the headers too
    app.add_exception_handler(RequestValidationError, validation_error_handler)

    @app.exception_handler(StoreError)
    async def _store_error(_r: Request, exc: StoreError) -> Response:
        return JSONResponse({"detail": "store unavailable"}, status_code=503)

    @app.exception_handler(DBAPIError)
    async def _db_error(_r: Request, exc: DBAPIError) -> Response:
        if isinstance(exc, DataError):  # a value the database cannot hold (e.g. out of range)
            return JSONResponse({"detail": "invalid value for the store"}, status_code=422)
        return JSONResponse({"detail": "store unavailable"}, status_code=503)

    _static_assets(app)

    @app.get(f"{API}/openapi.json", include_in_schema=False)
    def openapi(_t: Viewer) -> dict[str, Any]:
        return _document_errors(app.openapi())

    @app.get(f"{API}/health", response_model=Health)
    def health(_t: Viewer, store: StoreDep) -> Health:
        return Health(
            status="ok",
            version=__version__,
            mqtt_connected=None if mqtt_connected is None else mqtt_connected(),
            outbox_pending=store.outbox_pending(),
            dead_letters=store.dead_letter_counts(),
            stream=None if stream_stats is None else stream_stats(),
        )

    for router in ROUTERS:
        app.include_router(router)
    return app


def _document_errors(spec: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document with the 422 reply as it is sent.

    FastAPI documents ``detail`` as the list of field errors; a route's own check (a cursor, a time, a CSV
    import) sends one message instead.
    """
    schemas = spec.get("components", {}).get("schemas", {})
    props = schemas.get("HTTPValidationError", {}).get("properties", {})
    if "detail" in props and "anyOf" not in props["detail"]:  # FastAPI caches the document: patch it once
        listed = props["detail"]
        props["detail"] = {
            "anyOf": [listed, {"type": "string"}],
            "title": "Detail",
            "description": "the invalid fields (location, message, type), or one message",
        }
    return spec


def _static_assets(app: FastAPI) -> None:
    """The operator dashboard (:mod:`alpr.bridge.web`): static files that hold no data.

    These are the only routes served without credentials besides ``/auth/login``.
    """
    from alpr.bridge.web import mount

    mount(app)
