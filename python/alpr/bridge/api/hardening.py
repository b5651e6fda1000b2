"""What holds hostile clients off.

Security headers, a bearer-token guessing limit, a cap on concurrent fuzzy searches, and validation errors
that do not echo what was sent.

The request body limit itself is FastAPI's own (``FastAPI(max_body_size=...)``, Starlette's
``RequestBodyLimitMiddleware``): it answers 413 from the ``Content-Length`` header before the body is
read and before the token check, and counts the bytes of a chunked body as the route reads them. Every
``/api/`` request is authenticated before its body is read (:class:`.common.AuthenticateFirst`), so a
request without a valid credential gets 401 (or 429) whatever its body, and its body is never read.

Limits (defaults; ``[http_limits]`` in the bridge config):

* request bodies: 1 MiB -> ``413``;
* failed bearer tokens: ``auth_max_failures`` (10) from one client address within ``auth_window_s``
  (60 s) lock that address out for ``auth_lockout_s`` (300 s): every request with a token then gets
  ``429`` with ``Retry-After``, the right token included (so guessing cannot go on). Each counted failure
  and each lockout is written to the audit log (at most ``auth_max_failures + 1`` rows per address
  and window). Behind a reverse proxy the address is the proxy's unless uvicorn trusts its
  ``X-Forwarded-For`` (``forwarded_allow_ips``). Failures are counted in the store, so bridges
  sharing one store lock an address out together;
* fuzzy searches (they decrypt up to ``fuzzy_scan_limit`` rows each): ``fuzzy_per_token`` (2) at a
  time per token and ``fuzzy_total`` (4) in all; beyond that ``429`` with ``Retry-After: 1``, so a
  burst from one viewer cannot starve ``/health`` or the other users.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from alpr.bridge.store import Store
from alpr.bridge.store.base import now_ms
from alpr.bridge.store.settings import failure_key

__all__ = [
    "ApiLimits",
    "AuthGuard",
    "FuzzyGate",
    "SecurityHeaders",
    "client_ip",
    "validation_error_handler",
]

_MAX_ECHO = 64  # characters of a rejected value shown back in a 422


@dataclass(frozen=True, slots=True)
class ApiLimits:
    """The REST API's limits (see the module docstring)."""

    max_body_bytes: int = 1 << 20
    auth_max_failures: int = 10
    auth_window_s: float = 60.0
    auth_lockout_s: float = 300.0
    fuzzy_per_token: int = 2
    fuzzy_total: int = 4


API_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"cache-control", b"no-store"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)
HSTS = (b"strict-transport-security", b"max-age=31536000")


class SecurityHeaders:
    """Pure ASGI middleware: the headers above on every reply, and HSTS over TLS.

    A route's own value wins, e.g. the operator page's CSP.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, adding the security headers to its reply."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = (*API_HEADERS, HSTS) if scope.get("scheme") == "https" else API_HEADERS

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                have = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in extra if k not in have]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def client_ip(request: Request) -> str:
    """The client's address, or ``"unknown"``."""
    return request.client.host if request.client is not None else "unknown"


class AuthGuard:
    """Failed bearer tokens per client address; a lockout after too many.

    Counted in the store's ``auth_failures`` table (scope ``token``; a lockout is a ``token_lock`` row stamped
    with its end), so bridges sharing one store lock an address out together. Keys are hashes of the address.
    """

    def __init__(self, limits: ApiLimits, store: Store) -> None:
        self.limits = limits
        self.store = store

    def retry_after(self, ip: str, now: float | None = None) -> float:
        """Seconds left of ``ip``'s lockout (0 when it may try); ``now`` in epoch seconds."""
        t = now_ms() if now is None else int(now * 1000)
        until = self.store.failures_since("token_lock", failure_key(ip), t)
        return (until[-1] - t) / 1000 if until else 0.0

    def failed(self, ip: str, now: float | None = None) -> tuple[int, bool]:
        """Count a failure of ``ip``: ``(failures in the window, whether this one locked it out)``."""
        t = now_ms() if now is None else int(now * 1000)
        lim, key = self.limits, failure_key(ip)
        self.store.add_failure("token", key, now=t)
        n = len(self.store.failures_since("token", key, t - int(lim.auth_window_s * 1000) + 1))
        if n >= lim.auth_max_failures:
            self.store.add_failure("token_lock", key, now=t + int(lim.auth_lockout_s * 1000))
            self.store.clear_failures("token", key)
            return lim.auth_max_failures, True
        return n, False


class FuzzyGate:
    """At most ``fuzzy_per_token`` fuzzy searches at a time per token and ``fuzzy_total`` in all."""

    def __init__(self, limits: ApiLimits) -> None:
        self.limits = limits
        self._lock = threading.Lock()
        self._per: dict[int, int] = {}
        self._total = 0

    @contextmanager
    def slot(self, token_id: int) -> Iterator[None]:
        """Hold a slot for one search; ``HTTPException(429)`` when none is free."""
        with self._lock:
            mine = self._per.get(token_id, 0)
            if mine >= self.limits.fuzzy_per_token or self._total >= self.limits.fuzzy_total:
                busy = "this token's" if mine >= self.limits.fuzzy_per_token else "the server's"
                raise HTTPException(
                    429,
                    f"too many fuzzy searches at once ({busy} limit); retry shortly",
                    headers={"Retry-After": "1"},
                )
            self._per[token_id] = mine + 1
            self._total += 1
        try:
            yield
        finally:
            with self._lock:
                self._total -= 1
                left = self._per[token_id] - 1
                if left:
                    self._per[token_id] = left
                else:
                    del self._per[token_id]


def retry_after_header(seconds: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(seconds)))}


def _short(value: Any) -> Any:
    """A rejected value as it may be echoed: scalars as they are, long text cut, containers summarised."""
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (str, bytes)):
        text = value if isinstance(value, str) else value.decode("utf-8", "replace")
        return text if len(text) <= _MAX_ECHO else text[:_MAX_ECHO] + f"... ({len(text)} characters)"
    if isinstance(value, BaseException):
        return _short(str(value))
    if isinstance(value, (list, tuple, dict)):
        return f"<{type(value).__name__} of {len(value)} items>"
    return f"<{type(value).__name__}>"


async def validation_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    """422 like FastAPI's, but with each ``input`` (and ``ctx`` value) cut short.

    A 50 MB body that fails validation must not come back as a 50 MB reply.
    """
    if not isinstance(exc, RequestValidationError):  # pragma: no cover - registered for that type only
        raise exc
    out = []
    for err in exc.errors():
        e = {k: err[k] for k in ("type", "loc", "msg") if k in err}
        e["msg"] = str(e.get("msg", ""))[:200]
        e["loc"] = [_short(p) for p in err.get("loc", ())]
        if "input" in err:
            e["input"] = _short(err["input"])
        if isinstance(err.get("ctx"), dict):
            e["ctx"] = {str(k)[:32]: _short(v) for k, v in list(err["ctx"].items())[:8]}
        out.append(e)
        if len(out) >= 20:
            break
    return JSONResponse({"detail": jsonable_encoder(out)}, status_code=422)
