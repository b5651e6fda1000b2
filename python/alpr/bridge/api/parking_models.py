"""Bodies of the sites, sessions, permits and journeys routes (they are the OpenAPI schema)."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from alpr.bridge.api.common import CAMERA, PLATE, TEXT


class CameraIn(BaseModel):
    """A camera's place in a site."""

    site: str = Field(pattern=CAMERA, description="site the camera belongs to (an MQTT topic level)")
    role: Literal["entry", "exit", "pass"] = Field(
        description="entry reads open sessions, exit reads close them, pass reads only feed journeys"
    )
    direction: Literal["approaching", "leaving"] | None = Field(
        default=None, description="count only tracks travelling this way (null: any direction)"
    )


class CameraOut(BaseModel):
    """A camera's site configuration."""

    camera: str
    site: str
    role: str
    direction: str | None


class SiteIn(BaseModel):
    """A site's settings."""

    max_stay_s: float | None = Field(
        default=None, gt=0, le=10 * 365 * 86400, description="overstay alert after this"
    )
    capacity: int | None = Field(default=None, ge=0, le=10_000_000)
    match_window_s: float = Field(
        default=7 * 86400, gt=0, le=10 * 365 * 86400, description="longest stay an exit can match"
    )
    max_distance: float = Field(
        default=0.5, ge=0, le=4, description="exit matching distance (a confusable swap costs 0.25)"
    )


class Site(BaseModel):
    """A site, its cameras and settings."""

    site: str
    cameras: list[str]
    max_stay_s: float | None
    capacity: int | None
    match_window_s: float
    max_distance: float


class Sites(BaseModel):
    """The sites visible to the caller."""

    items: list[Site]


class Occupancy(BaseModel):
    """A site's occupancy."""

    site: str
    occupancy: int = Field(description="open sessions")
    capacity: int | None
    free: int | None
    overstays: int = Field(description="open sessions past max_stay_s")
    ts: str


class Session(BaseModel):
    """A parking session: entry, exit when closed, payment."""

    id: int
    plate: str = Field(description="the plate as read at the entry")
    site: str
    state: Literal["open", "closed"]
    entry_ts: str
    exit_ts: str | None
    dwell_s: float | None
    entry_camera: str
    exit_camera: str | None
    entry_event_id: str
    exit_event_id: str | None
    exit_plate: str | None = Field(description="the plate as read at the exit (may differ by a misread)")
    distance: float | None = Field(description="entry/exit plate distance the match was made at")
    paid: bool
    paid_ts: str | None
    payment_ref: str | None
    overstay: bool


class SessionsPage(BaseModel):
    """One page of sessions, newest first."""

    items: list[Session]
    next: str | None = Field(description="pass as `cursor` for the next (older) page; null at the end")


class PaidIn(BaseModel):
    """A payment of a session."""

    reference: str | None = Field(default=None, max_length=128, pattern=TEXT)
    paid_at: datetime | None = Field(default=None, description="default: now")


class Anomaly(BaseModel):
    """A parking anomaly (overstay, or an exit with no entry)."""

    id: int
    kind: Literal["overstay", "no_entry"]
    site: str
    camera: str
    event_id: str
    session_id: int | None
    ts: str
    plate: str


class AnomaliesPage(BaseModel):
    """One page of anomalies, newest first."""

    items: list[Anomaly]
    next: str | None


class PermitIn(BaseModel):
    """A new permit (allow-list entry)."""

    plate: str = Field(min_length=1, max_length=32, pattern=PLATE)
    name: str = Field(default="", max_length=256, pattern=TEXT, description="holder (stored encrypted)")
    site: str | None = Field(default=None, pattern=CAMERA, description="null: every site")
    valid_from: datetime | None = None
    valid_until: datetime | None = None


class Permit(BaseModel):
    """A permit."""

    id: int
    plate: str
    name: str
    site: str | None
    valid_from: str | None
    valid_until: str | None


class Permits(BaseModel):
    """Permits."""

    items: list[Permit]


class Journey(BaseModel):
    """A journey: a plate read at one camera, then at another."""

    id: int
    plate: str
    from_camera: str
    to_camera: str
    from_ts: str
    to_ts: str
    travel_s: float
    from_event_id: str
    to_event_id: str


class JourneysPage(BaseModel):
    """One page of journeys, newest first."""

    items: list[Journey]
    next: str | None


class OdCell(BaseModel):
    """Journeys of one camera pair in one hour."""

    hour: str = Field(description="start of the hour of departure (UTC)")
    from_camera: str
    to_camera: str
    journeys: int
    mean_travel_s: float


class OdMatrix(BaseModel):
    """An origin-destination matrix."""

    items: list[OdCell]
