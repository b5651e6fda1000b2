"""The operator dashboard: static files (HTML, CSS, vanilla JS) that hold no data.

Everything the page shows comes from the REST API after sign-in (session cookie + CSRF token, see
:mod:`alpr.bridge.api.session`), so these are the only routes served without credentials. Served
with a strict Content-Security-Policy: scripts and styles only from this origin, no inline script,
no inline style attributes, images from this origin or ``blob:`` (crops), no framing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["CSP", "assets", "mount"]

STATIC = Path(__file__).parent / "static"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
_MEDIA = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript",
    ".css": "text/css",
    ".txt": "text/plain",
}


def assets() -> dict[str, Path]:
    """Route -> file: ``/`` is ``index.html``, every other file under ``static/`` by its name."""
    out = {"/": STATIC / "index.html"}
    for p in sorted(STATIC.rglob("*")):
        if p.is_file() and p.suffix in _MEDIA and p.name != "index.html":
            out["/" + p.relative_to(STATIC).as_posix()] = p
    return out


def mount(app: Any) -> None:
    """Add a GET route per static file to a FastAPI app (bodies read once, at start)."""
    from fastapi import Response

    def asset(path: Path) -> Callable[[], Response]:
        body, media = path.read_bytes(), _MEDIA[path.suffix]

        def serve() -> Response:
            return Response(body, media_type=media, headers=HEADERS)

        return serve

    for route, path in assets().items():
        app.add_api_route(route, asset(path), methods=["GET"], include_in_schema=False)
