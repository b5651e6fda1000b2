"""Live push: ``GET /api/v1/live``, a Server-Sent Events stream of new reads and alerts.

Events: ``read`` (the read, as ``GET /reads/{id}``) and ``alert`` (as ``GET /alerts`` items), each with
an ``id`` of ``READ_ROW:ALERT_ROW`` so a reconnecting ``EventSource`` resumes after the last one it
saw (``Last-Event-ID``); a new stream starts at the newest rows. The stream polls the store every
:data:`POLL_S` seconds (two primary-key range queries; works for any number of bridge processes),
sends a comment every :data:`KEEPALIVE_S` s so proxies keep it open, and ends after :data:`MAX_S` s
(the browser reconnects). Opening a stream is audited once; the events it carries are not (the
dashboard must not write an audit row per update).
"""

# No `from __future__ import annotations`: FastAPI must see the real dependency types.

import time
from collections.abc import AsyncIterator
from typing import Annotated

import anyio
import orjson
from fastapi import APIRouter, Header, Request
from fastapi.responses import StreamingResponse

from alpr.bridge.api.common import API, StoreDep, Viewer
from alpr.bridge.store import Store, TokenInfo

router = APIRouter(prefix=API)

POLL_S = 0.4
KEEPALIVE_S = 15.0
MAX_S = 600.0
LAST_EVENT_ID_DOC = (
    "the `id` of the last event seen (`READ_ROW:ALERT_ROW`); anything else starts at the newest rows"
)


def _marks(last_event_id: str | None) -> tuple[int, int] | None:
    if not last_event_id:
        return None
    a, sep, b = last_event_id.partition(":")
    if not sep or not a.isdigit() or not b.isdigit() or len(a) > 18 or len(b) > 18:
        return None
    return int(a), int(b)


async def _events(
    request: Request, store: Store, t: TokenInfo, marks: tuple[int, int]
) -> AsyncIterator[bytes]:
    rid, aid = marks
    start = last_sent = time.monotonic()
    yield b"retry: 1000\n\n"
    while time.monotonic() - start < MAX_S:
        if await request.is_disconnected():
            return
        reads, alerts, rid, aid = await anyio.to_thread.run_sync(store.live_since, rid, aid, t.cameras)
        chunks = [
            b"id: %d:%d\nevent: %s\ndata: %s\n\n" % (rid, aid, kind, orjson.dumps(item))
            for kind, items in ((b"read", reads), (b"alert", alerts))
            for item in items
        ]
        if chunks:
            last_sent = time.monotonic()
            yield b"".join(chunks)
        elif time.monotonic() - last_sent > KEEPALIVE_S:
            last_sent = time.monotonic()
            yield b": keepalive\n\n"
        await anyio.sleep(POLL_S)


@router.get(
    "/live",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"}},
)
def live(
    request: Request,
    t: Viewer,
    store: StoreDep,
    last_event_id: Annotated[str | None, Header(description=LAST_EVENT_ID_DOC)] = None,
) -> StreamingResponse:
    """Server-sent events of new reads and alerts; ``Last-Event-ID`` resumes after a reconnect.

    Each event is ``id: READ_ROW:ALERT_ROW``, ``event: read`` (the read, as ``GET /reads/{event_id}``) or
    ``event: alert`` (as an item of ``GET /alerts``), ``data:`` its JSON; a comment every 15 s keeps the
    stream open, and it ends after 10 minutes (an ``EventSource`` reconnects by itself).
    """
    marks = _marks(last_event_id) or store.live_marks()
    store.audit(t.id, "live.open", {}, 0)
    return StreamingResponse(
        _events(request, store, t, marks),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
