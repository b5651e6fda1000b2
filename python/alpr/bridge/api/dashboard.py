"""What the dashboard's views need beyond the core routes.

Camera health, chart data, a CSV export of reads and a CSV import of watchlist entries (hotlists).
"""

# No `from __future__ import annotations`: FastAPI must see the real dependency types.

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import ValidationError

from alpr.bridge.api.common import (
    API,
    NameQuery,
    Operator,
    PlateQuery,
    StoreDep,
    Viewer,
    parse_ms,
    state,
)
from alpr.bridge.api.models import WatchIn
from alpr.errors import ConfigError

router = APIRouter(prefix=API)

MAX_IMPORT_BYTES = 2 * 1024 * 1024
MAX_IMPORT_ROWS = 20_000
IMPORT_COLUMNS = ("pattern", "kind", "reason", "max_distance", "expires", "cameras")
EXPORT_COLUMNS = (
    "ts",
    "camera",
    "plate",
    "confidence",
    "region",
    "track_id",
    "first_seen",
    "last_seen",
    "has_crop",
    "event_id",
)


@router.get("/camera-health")
def camera_health(
    t: Viewer, store: StoreDep, offline_after_s: Annotated[float, Query(gt=0, le=86_400)] = 15.0
) -> dict[str, Any]:
    """Per camera: FPS, frames, dropped (from the stream heartbeats), last heartbeat, last read, online.

    Online means a heartbeat within ``offline_after_s``.
    """
    return {"items": store.camera_health(t.cameras, offline_after_ms=int(offline_after_s * 1000))}


@router.get("/stats/charts")
def charts(
    t: Viewer,
    store: StoreDep,
    hours: Annotated[int, Query(ge=1, le=24 * 31)] = 24,
    days: Annotated[int, Query(ge=1, le=366)] = 14,
) -> dict[str, Any]:
    """Reads per hour per camera, alerts per day and a confidence histogram (UTC buckets)."""
    return store.chart_data(t.cameras, hours=hours, days=days)


def _safe_cell(v: Any) -> str:
    s = "" if v is None else str(v)
    # A cell starting like a formula runs as one in a spreadsheet (CSV injection): quote it.
    return "'" + s if s[:1] in ("=", "+", "-", "@", "\t", "\r") else s


@router.get("/reads.csv", response_class=StreamingResponse, responses={200: {"content": {"text/csv": {}}}})
def export_reads(  # noqa: PLR0913 (each is a query parameter of GET /reads.csv)
    request: Request,
    t: Viewer,
    store: StoreDep,
    plate: PlateQuery = None,
    fuzzy: bool = False,
    max_distance: Annotated[float, Query(ge=0, le=4)] = 1.0,
    camera: NameQuery = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
) -> StreamingResponse:
    """The reads ``GET /reads`` would page through, newest first, as CSV (one audit row)."""
    filters: dict[str, Any] = {
        "plate": plate,
        "fuzzy": fuzzy,
        "max_distance": max_distance,
        "camera": camera,
        "cameras": t.cameras,
        "since_ms": parse_ms(since, "since"),
        "until_ms": parse_ms(until, "until"),
        "scan_limit": state(request, "scan_limit"),
    }
    first, nxt = store.query_reads(limit=min(limit, 1000), **filters)
    detail = {"plate": plate, "fuzzy": fuzzy, "camera": camera, "since": str(since), "until": str(until)}
    store.audit(t.id, "reads.export", detail, min(limit, len(first)))

    def rows() -> Iterator[bytes]:
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(EXPORT_COLUMNS)
        page, cursor, sent = first, nxt, 0
        while True:
            for d in page[: limit - sent]:
                w.writerow([_safe_cell(d.get(k)) for k in EXPORT_COLUMNS])
            sent += min(len(page), limit - sent)
            yield buf.getvalue().encode()
            buf.seek(0)
            buf.truncate()
            if cursor is None or sent >= limit:
                return
            page, cursor = store.query_reads(limit=min(limit - sent, 1000), before_id=cursor, **filters)

    return StreamingResponse(
        rows(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="reads.csv"', "Cache-Control": "no-store"},
    )


def _parse_import(raw: bytes, scope: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise HTTPException(422, "CSV: expected UTF-8 text") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:  # reading the header parses the first record, which may be malformed too
        cols = [c.strip() for c in reader.fieldnames or []]
    except csv.Error as exc:
        raise HTTPException(422, f"CSV header: {exc}") from None
    if "pattern" not in cols or any(c not in IMPORT_COLUMNS for c in cols):
        raise HTTPException(
            422, f"CSV header: expected 'pattern' and any of {', '.join(IMPORT_COLUMNS[1:])}, got {cols}"
        )
    reader.fieldnames = cols
    entries: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    try:
        for n, row in enumerate(reader, start=2):
            if len(entries) + len(errors) >= MAX_IMPORT_ROWS:
                raise HTTPException(413, f"CSV: at most {MAX_IMPORT_ROWS} rows per import")
            if None in row:
                errors.append({"line": n, "error": "more cells than header columns"})
                continue
            vals = {k: v.strip() for k, v in row.items() if v is not None and v.strip() != ""}
            cells: dict[str, Any] = dict(vals)
            if "cameras" in vals:
                cells["cameras"] = [c.strip() for c in vals["cameras"].split(";") if c.strip()]
            try:
                body = WatchIn.model_validate(cells)
            except ValidationError as exc:
                e = exc.errors()[0]
                errors.append({"line": n, "error": f"{'.'.join(map(str, e['loc']))}: {e['msg']}"})
                continue
            cams = body.cameras if body.cameras is not None else (None if scope is None else list(scope))
            if scope is not None and (cams is None or not set(cams) <= set(scope)):
                errors.append({"line": n, "error": f"cameras: this account may only watch {sorted(scope)}"})
                continue
            entries.append(
                {
                    "pattern": body.pattern,
                    "kind": body.kind,
                    "reason": body.reason,
                    "max_distance": body.max_distance,
                    "expires_ms": parse_ms(body.expires, f"line {n}: expires"),
                    "cameras": cams,
                }
            )
    except csv.Error as exc:
        raise HTTPException(422, f"CSV: {exc}") from None
    return entries, errors


@router.post(
    "/watchlists/import",
    status_code=201,
    openapi_extra={
        "requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}
    },
)
async def import_watch(request: Request, t: Operator, store: StoreDep) -> Any:
    """Import watchlist entries from CSV, all rows or none.

    The header is ``pattern,kind,reason,max_distance,expires,cameras``, cameras separated by ``;``. Any bad
    row answers 422 with every error by line.
    """
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_IMPORT_BYTES:
            raise HTTPException(413, f"CSV: at most {MAX_IMPORT_BYTES // 1024} KiB per import")
    entries, errors = _parse_import(raw, t.cameras)
    if errors:
        return JSONResponse(
            {"detail": f"{len(errors)} bad rows; nothing imported", "errors": errors[:100]}, 422
        )
    if not entries:
        raise HTTPException(422, "CSV: no rows")
    try:
        ids = await _run(store.add_watch_many, entries)
    except ConfigError as exc:
        raise HTTPException(422, str(exc)) from None
    cb = state(request, "on_watchlist_change")
    if cb is not None:
        cb()
    await _run(store.audit, t.id, "watchlists.import", {"rows": len(ids)}, len(ids))
    return {"imported": len(ids), "ids": ids[:1000]}


async def _run(fn: Any, *args: Any) -> Any:
    import anyio

    return await anyio.to_thread.run_sync(fn, *args)
