"""What every route module shares: path prefix, field patterns, dependencies, parsing.

The dependencies are the store and auth; parsing covers time and cursors. The app's state carries the store
and the callbacks (``create_app`` sets them), so routers are plain module-level ``APIRouter`` objects.
"""

# No `from __future__ import annotations`: FastAPI must see the real dependency types.

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Annotated, Any

import anyio
from fastapi import Depends, HTTPException, Path, Query, Request, Security
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import DBAPIError
from starlette.types import ASGIApp, Receive, Scope, Send

from alpr.bridge.api.hardening import AuthGuard, client_ip, retry_after_header
from alpr.bridge.store import Role, Store, TokenInfo
from alpr.errors import StoreError

API = "/api/v1"
CAMERA = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"  # as alpr.stream.events.CAMERA_PATTERN
PLATE = r"^[^\x00-\x1f\x7f]{1,32}$"
TEXT = r"^[^\x00]*$"
MAX_ID = 2**62
_bearer = HTTPBearer(auto_error=False, description="alpr token (`alpr token create --role viewer ...`)")


def get_store(request: Request) -> Store:
    """The app's store (a FastAPI dependency)."""
    store: Store = request.app.state.store
    return store


StoreDep = Annotated[Store, Depends(get_store)]


SESSION_COOKIE = "alpr_session"
CSRF_HEADER = "x-csrf-token"
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


def authenticate(request: Request, store: Store) -> TokenInfo:
    """The caller of ``request``: a valid bearer token, or a dashboard session cookie.

    A request with an ``Authorization`` header is judged by it alone. A session's state-changing requests must
    carry its CSRF token in ``X-CSRF-Token`` (else 403). Wrong bearer tokens are counted per client address
    (:class:`~alpr.bridge.api.hardening.AuthGuard`): too many lock the address out (429) and are audited.

    Raises:
        HTTPException: 401 without a valid credential, 403 without the CSRF token, 429 while locked out.
    """
    sid = request.cookies.get(SESSION_COOKIE)
    if "authorization" not in request.headers and sid:
        return _session(request, store, sid)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    guard: AuthGuard = request.app.state.auth_guard
    ip = client_ip(request)
    wait = guard.retry_after(ip)
    if wait > 0:
        raise HTTPException(
            429, "too many failed tokens from this address; retry later", headers=retry_after_header(wait)
        )
    info = store.verify_token(token)
    if info is None:
        n, locked = guard.failed(ip)
        store.audit(None, "auth.failed", {"ip": ip, "path": request.url.path[:200], "failures": n}, 0)
        if locked:
            lockout = guard.limits.auth_lockout_s
            store.audit(None, "auth.lockout", {"ip": ip, "seconds": lockout}, 0)
            raise HTTPException(
                429,
                "too many failed tokens from this address; retry later",
                headers=retry_after_header(lockout),
            )
        raise HTTPException(401, "invalid or revoked token", headers={"WWW-Authenticate": "Bearer"})
    return info


def _session(request: Request, store: Store, sid: str) -> TokenInfo:
    import secrets

    found = store.verify_session(sid)
    if found is None:
        raise HTTPException(401, "session expired or signed out", headers={"WWW-Authenticate": "Bearer"})
    info, csrf = found
    if request.method not in _SAFE:
        sent = request.headers.get(CSRF_HEADER, "")
        if not secrets.compare_digest(sent.encode(), csrf.encode()):
            raise HTTPException(403, "missing or wrong X-CSRF-Token for this session")
    return info


class AuthenticateFirst:
    """Pure ASGI middleware: every ``/api/`` request is authenticated before anything reads its body.

    FastAPI parses and validates a request body before it runs the route's dependencies, so without this a
    caller with no credential would learn from a 400 / 422 what a route accepts. The caller found here is
    kept on ``request.state.principal`` for :func:`need`, which checks the role. Only the body limit (413,
    outside every middleware) answers before it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Authenticate an API request, then pass it on; answer 401 / 403 / 429 / 503 here otherwise."""
        if scope["type"] != "http" or not str(scope["path"]).startswith(API + "/"):
            await self.app(scope, receive, send)
            return
        request = Request(scope)  # no receive: the body stays unread
        try:
            info = await anyio.to_thread.run_sync(authenticate, request, request.app.state.store)
        except HTTPException as exc:
            refused = JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)
            await refused(scope, receive, send)
            return
        except (StoreError, DBAPIError):  # as create_app's handlers, which do not reach middleware
            await JSONResponse({"detail": "store unavailable"}, 503)(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = info
        await self.app(scope, receive, send)


def need(role: Role) -> Callable[..., TokenInfo]:
    """A dependency that admits a caller holding at least ``role`` (403 otherwise).

    The caller is the one :class:`AuthenticateFirst` found (:func:`authenticate`: a bearer token, or a session
    cookie whose state-changing requests carry ``X-CSRF-Token``).
    """

    def dep(
        request: Request,
        store: StoreDep,
        _creds: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],  # for the OpenAPI document
    ) -> TokenInfo:
        info: TokenInfo | None = getattr(request.state, "principal", None)
        if info is None:  # a route outside /api/, which the middleware does not see
            info = authenticate(request, store)
        if not info.allows(role):
            who = "user" if info.id < 0 else "token"  # accounts have negative principal ids
            raise HTTPException(403, f"this route needs the {role} role; the {who} has {info.role}")
        return info

    return dep


Viewer = Annotated[TokenInfo, Depends(need("viewer"))]
Operator = Annotated[TokenInfo, Depends(need("operator"))]
Admin = Annotated[TokenInfo, Depends(need("admin"))]
EventId = Annotated[str, Path(pattern=r"^[0-9A-Za-z-]{1,64}$")]
WatchId = Annotated[int, Path(ge=1, le=MAX_ID)]
PlateQuery = Annotated[str | None, Query(pattern=PLATE)]
"""An optional ``?plate=`` filter."""
NameQuery = Annotated[str | None, Query(pattern=CAMERA)]
"""An optional ``?camera=`` or ``?site=`` filter (camera and site names follow one pattern)."""


def state(request: Request, name: str) -> Any:
    """One of the values ``create_app`` put on the app's state (callbacks, limits)."""
    return getattr(request.app.state, name)


def parse_ms(dt: datetime | None, name: str) -> int | None:
    """Unix milliseconds of query parameter ``name`` (None stays None); a naive time is UTC."""
    if dt is None:
        return None
    try:
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
        return int(dt.timestamp() * 1000)
    except (OverflowError, ValueError, OSError):
        raise HTTPException(422, f"{name}: expected a representable time, got {dt!r}") from None


def parse_cursor(cursor: str | None) -> int | None:
    """The ``before_id`` of a ``cursor`` query parameter (None stays None); 422 when malformed."""
    if cursor is None:
        return None
    if not (cursor.isascii() and cursor.isdigit()) or len(cursor) > 18:
        raise HTTPException(422, f"cursor: expected a value from a previous `next`, got {cursor[:40]!r}")
    return int(cursor)


Limit = Annotated[int, Query(ge=1, le=1000)]
Cursor = Annotated[str | None, Query(max_length=40)]


def page_args(
    since: datetime | None, until: datetime | None, limit: int, cursor: str | None
) -> dict[str, Any]:
    """A listing's time window and paging as store arguments.

    That is ``since_ms``, ``until_ms``, ``limit`` and ``before_id``.
    """
    return {
        "since_ms": parse_ms(since, "since"),
        "until_ms": parse_ms(until, "until"),
        "limit": limit,
        "before_id": parse_cursor(cursor),
    }


def next_cursor(nxt: int | None) -> str | None:
    """The ``next`` of a page: the cursor a client sends back for the page after it."""
    return None if nxt is None else str(nxt)


def paging(what: str | None = None) -> Callable[..., dict[str, Any]]:
    """A dependency for ``?since=&until=&limit=&cursor=``, giving :func:`page_args`.

    ``what`` (say "entry") says in the API docs which time ``since`` and ``until`` bound. Use it as ``page:
    Annotated[dict[str, Any], Depends(paging("entry"))]``.
    """

    def dep(
        since: Annotated[
            datetime | None, Query(description=None if what is None else f"{what} at or after")
        ] = None,
        until: Annotated[
            datetime | None, Query(description=None if what is None else f"{what} before")
        ] = None,
        limit: Limit = 100,
        cursor: Cursor = None,
    ) -> dict[str, Any]:
        return page_args(since, until, limit, cursor)

    return dep


class Window:
    """The query parameters every listing shares, parsed to store arguments.

    Camera, time window and paging: ``?camera=&since=&until=&limit=&cursor=``.
    """

    def __init__(
        self,
        camera: NameQuery = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: Limit = 100,
        cursor: Cursor = None,
    ) -> None:
        self.camera = camera
        self.since = since
        self.until = until
        self._page = page_args(since, until, limit, cursor)

    def store_args(self) -> dict[str, Any]:
        """The store's keyword arguments: ``camera`` and the window and paging."""
        return {"camera": self.camera, **self._page}


WindowDep = Annotated[Window, Depends()]
