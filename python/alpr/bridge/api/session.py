"""Dashboard sign-in: ``POST /auth/login``, ``POST /auth/logout``, ``GET /auth/me``.

The session id travels only in an ``HttpOnly; SameSite=Strict`` cookie (``Secure`` when served over
TLS); the page learns the CSRF token from ``/auth/login`` or ``/auth/me`` (same-origin reads only)
and sends it as ``X-CSRF-Token`` on every state-changing API call (:func:`.common.authenticate` checks it).
Login takes a JSON body, which a cross-site HTML form cannot send. Failed sign-ins are audited and
limited per user name and client address (:class:`LoginLimiter`): after
:data:`MAX_FAILURES` in :data:`WINDOW_S` seconds the pair gets 429 until the window has passed. The three
routes are in the OpenAPI document beside the token-authenticated ones.
"""

# No `from __future__ import annotations`: FastAPI must see the real dependency types.

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, Field

from alpr.bridge.api.common import CSRF_HEADER, SESSION_COOKIE, StoreDep
from alpr.bridge.store import Store
from alpr.bridge.store.base import now_ms
from alpr.bridge.store.settings import failure_key
from alpr.bridge.store.users import SESSION_MAX_MS

router = APIRouter(prefix="/auth")

MAX_FAILURES = 5
WINDOW_S = 900.0


class LoginLimiter:
    """Failed sign-ins per (user, address) in a sliding window.

    Counted in the store's ``auth_failures`` table, so every bridge sharing one store (several ``alpr serve``
    workers on one PostgreSQL or SQLite file) enforces one limit. Keys are hashes; nothing clear is stored.
    """

    scope = "login"

    def __init__(self, store: Store, max_failures: int = MAX_FAILURES, window_s: float = WINDOW_S) -> None:
        self.store = store
        self.max_failures = max_failures
        self.window_s = window_s

    def retry_after(self, user: str, ip: str) -> float:
        """Seconds until this pair may try again; 0 when it may now."""
        now = now_ms()
        window = int(self.window_s * 1000)
        times = self.store.failures_since(self.scope, failure_key(user, ip), now - window)
        if len(times) < self.max_failures:
            return 0.0
        return max(0.0, (times[-self.max_failures] + window - now) / 1000)

    def failed(self, user: str, ip: str) -> None:
        """Count a failed sign-in of ``user`` from ``ip``."""
        self.store.add_failure(self.scope, failure_key(user, ip))

    def succeeded(self, user: str, ip: str) -> None:
        """Forget the failed sign-ins of ``user`` from ``ip``."""
        self.store.clear_failures(self.scope, failure_key(user, ip))


def limiter(request: Request) -> LoginLimiter:
    """The app's sign-in limiter (created on first use)."""
    lim: LoginLimiter | None = getattr(request.app.state, "login_limiter", None)
    if lim is None:
        lim = request.app.state.login_limiter = LoginLimiter(request.app.state.store)
    return lim


class Login(BaseModel):
    """Sign-in credentials."""

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class Me(BaseModel):
    """The signed-in user."""

    user: str
    role: str
    cameras: list[str] | None
    csrf: str


def _ip(request: Request) -> str:
    return request.client.host if request.client is not None else "?"


@router.post(
    "/login",
    response_model=Me,
    responses={
        401: {"description": "wrong user name or password, or the account is disabled"},
        429: {"description": "too many failed sign-ins for this user name and address (`Retry-After`)"},
    },
)
def login(request: Request, response: Response, store: StoreDep, body: Login) -> Me:
    """Sign in: sets the ``alpr_session`` cookie and returns the session's CSRF token.

    Send the token as ``X-CSRF-Token`` on every state-changing call made with the cookie. Failed attempts are
    audited and rate-limited per user name and address.
    """
    lim, ip = limiter(request), _ip(request)
    wait = lim.retry_after(body.username, ip)
    if wait > 0:
        store.audit(None, "auth.login_limited", {"user": body.username, "ip": ip}, 0)
        raise HTTPException(
            429,
            f"too many failed sign-ins; try again in {int(wait) + 1} s",
            {"Retry-After": str(int(wait) + 1)},
        )
    who = store.check_password(body.username, body.password)
    if who is None:
        lim.failed(body.username, ip)
        store.audit(None, "auth.login_failed", {"user": body.username, "ip": ip}, 0)
        raise HTTPException(401, "wrong user name or password (or the account is disabled)")
    lim.succeeded(body.username, ip)
    sid, csrf = store.create_session(who)
    store.audit(who.id, "auth.login", {"ip": ip}, 1)
    response.set_cookie(
        SESSION_COOKIE,
        sid,
        max_age=SESSION_MAX_MS // 1000,
        path="/",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    response.headers["Cache-Control"] = "no-store"
    return Me(
        user=who.name, role=who.role, cameras=None if who.cameras is None else list(who.cameras), csrf=csrf
    )


@router.post(
    "/logout",
    status_code=204,
    response_class=Response,
    responses={403: {"description": "a live session cookie without its `X-CSRF-Token`"}},
)
def logout(request: Request, store: StoreDep) -> Response:
    """Sign out: ends the session (which needs its ``X-CSRF-Token``) and clears its cookie."""
    sid = request.cookies.get(SESSION_COOKIE)
    out = Response(status_code=204)
    if sid:
        found = store.verify_session(sid)
        if found is not None:
            who, csrf = found
            if request.headers.get(CSRF_HEADER) != csrf:
                raise HTTPException(403, "missing or wrong X-CSRF-Token for this session")
            store.end_session(sid)
            store.audit(who.id, "auth.logout", {}, 1)
    out.delete_cookie(
        SESSION_COOKIE, path="/", secure=request.url.scheme == "https", httponly=True, samesite="strict"
    )
    return out


@router.get("/me", response_model=Me, responses={401: {"description": "no live session cookie"}})
def me(request: Request, response: Response, store: StoreDep) -> Me:
    """The signed-in user of this session cookie."""
    sid = request.cookies.get(SESSION_COOKIE)
    found = store.verify_session(sid) if sid else None
    if found is None:
        raise HTTPException(401, "not signed in")
    who, csrf = found
    response.headers["Cache-Control"] = "no-store"
    return Me(
        user=who.name, role=who.role, cameras=None if who.cameras is None else list(who.cameras), csrf=csrf
    )
