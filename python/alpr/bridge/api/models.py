"""Request and reply bodies of the REST API (they are the OpenAPI schema)."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from alpr.bridge.api.common import PLATE, TEXT


class Read(BaseModel):
    """A stored plate read."""

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
    direction: str | None = None
    has_crop: bool = False
    distance: float | None = None


class ReadsPage(BaseModel):
    """One page of reads, newest first."""

    items: list[Read]
    next: str | None = Field(description="pass as `cursor` for the next (older) page; null at the end")


class Alert(BaseModel):
    """A watchlist hit and its acknowledgement state."""

    id: int
    event_id: str
    watchlist_id: int
    camera: str
    ts: str
    plate: str
    match: str
    reason: str
    distance: float
    acknowledged: bool = False
    acknowledged_by: str | None = None
    acknowledged_at: str | None = None


class AlertsPage(BaseModel):
    """One page of alerts, newest first."""

    items: list[Alert]
    next: str | None


class Camera(BaseModel):
    """A camera that has sent reads or heartbeats: its reads, site role and health."""

    camera: str
    reads: int
    last_ts: str | None = Field(description="time of the newest read; null before the first")
    site: str | None = Field(default=None, description="set with PUT /cameras/{camera}")
    role: Literal["entry", "exit", "pass"] | None = None
    direction: Literal["approaching", "leaving"] | None = None
    online: bool = Field(default=False, description="a stream heartbeat within offline_after_s")
    last_heartbeat: str | None = None
    fps: float | None = Field(default=None, description="from the edge's heartbeats; null before one")
    frames: int | None = None
    dropped: int | None = None


class Cameras(BaseModel):
    """The cameras that have sent reads."""

    items: list[Camera]


class Body(BaseModel):
    """A request body: NaN and infinities are rejected (422), as JSON itself does not have them."""

    model_config = ConfigDict(allow_inf_nan=False)


class WatchIn(Body):
    """A new or replaced watchlist entry."""

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
    """A watchlist entry."""

    id: int
    pattern: str
    kind: str
    reason: str
    max_distance: float
    expires: str | None
    cameras: list[str] | None


class WatchList(BaseModel):
    """Watchlist entries."""

    items: list[WatchOut]


class PlateRequest(Body):
    """A plate to export or erase."""

    plate: str = Field(min_length=1, max_length=32, pattern=PLATE)


class Health(BaseModel):
    """The bridge's health."""

    status: str
    version: str
    mqtt_connected: bool | None
    outbox_pending: dict[str, int]
    dead_letters: dict[str, int] = {}
    stream: dict[str, int] | None = None
    """The stream consumer's counters since start: delivered, replayed, gaps, lost, foreign_acks,
    malformed (None when this process consumes no stream)."""
