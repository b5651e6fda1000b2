"""Webhook dead letters (admin role): rows a sink gave up on, to inspect, retry or drop.

Listing shows the payloads (they name plates), so it is audited like a search.
"""

# No `from __future__ import annotations`: FastAPI must see the real dependency types.

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Response

from alpr.bridge.api.common import API, MAX_ID, Admin, Limit, StoreDep
from alpr.bridge.store import Store, TokenInfo

router = APIRouter(prefix=API)
LetterId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.get("/dead-letters")
def dead_letters(
    t: Admin,
    store: StoreDep,
    sink: Annotated[str | None, Query(max_length=64, pattern=r"^[\w:.-]+$")] = None,
    limit: Limit = 100,
) -> dict[str, Any]:
    """List dead letters (of ``sink`` when given), newest first."""
    items = store.dead_letters(sink=sink, limit=limit)
    store.audit(t.id, "dead_letters.list", {"sink": sink}, len(items))
    return {"items": items, "counts": store.dead_letter_counts()}


@router.post("/dead-letters/{letter_id}/retry", status_code=204)
def retry(t: Admin, store: StoreDep, letter_id: LetterId) -> Response:
    """Put a dead letter back in its sink's outbox."""
    return _done(t, store, "retry", letter_id, store.dead_letter_retry(letter_id))


@router.delete("/dead-letters/{letter_id}", status_code=204)
def drop(t: Admin, store: StoreDep, letter_id: LetterId) -> Response:
    """Drop a dead letter."""
    return _done(t, store, "delete", letter_id, store.dead_letter_delete(letter_id))


def _done(t: TokenInfo, store: Store, action: str, letter_id: int, found: bool) -> Response:
    """404 unless ``found``; else audit ``dead_letters.ACTION`` and answer 204."""
    if not found:
        raise HTTPException(404, f"no dead letter {letter_id}")
    store.audit(t.id, f"dead_letters.{action}", {"id": letter_id}, 1)
    return Response(status_code=204)
