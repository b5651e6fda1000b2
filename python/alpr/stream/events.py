"""The plate event: one read of one plate, as the pipeline publishes it and the bridge stores it.

Wire format: a UTF-8 JSON object written with orjson (``PlateEvent.to_json``); the crop, when there is
one, travels as a separate JPEG message part, never inside the JSON. The JSON Schema of the document is
generated from the model (:func:`json_schema`) and kept as ``schemas/plate_event.schema.json`` at the
root of the repository (``python -m alpr.stream --schema`` writes it; a test checks that they agree).

Versioning: ``schema`` is ``"alpr.plate/<major>"``. New optional fields may be added without a version
bump (readers ignore fields they do not know); a removed, renamed or retyped field bumps the major.
"""

from __future__ import annotations

import warnings
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Annotated, Any, Literal

import orjson
import uuid6
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import ErrorDetails

from alpr.errors import DecodeError
from alpr.timestamps import format_utc, parse_utc, posix_to_iso

if TYPE_CHECKING:
    from alpr.tracking import VehicleEvent

__all__ = ["CAMERA_PATTERN", "DIRECTIONS", "SCHEMA", "TIME_PATTERN", "PlateEvent", "json_schema"]

SCHEMA = "alpr.plate/1"
"""The schema tag of the events this version writes and reads."""

DIRECTIONS = ("approaching", "leaving")
"""Directions of travel a track may carry (relative to the camera)."""

CAMERA_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
"""Camera names: safe as a ZeroMQ topic, an MQTT topic level and a file name."""

TIME_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{3}|\.[0-9]{6})?Z$"
"""Times: ISO 8601 in UTC with a ``Z``; ``PlateEvent.create`` writes milliseconds."""

SCHEMA_ID = "https://alpr.invalid/schemas/plate_event.schema.json"
"""The ``$id`` of the JSON Schema document."""

_UUID7_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
_MAX_TRACK_ID = 2**63 - 1
_MAX_CHARS = 64


def _valid_time(value: str) -> str:
    # The pattern admits month 13 or 25:61; the calendar check is Python's.
    try:
        parse_utc(value)
    except ValueError:
        raise ValueError("expected a valid date and time") from None  # the error adds "got ..."
    return value


# Numbers are strict (no "0.5" strings, no booleans); bounds reject NaN as well.
_Unit = Annotated[float, Field(strict=True, ge=0, le=1)]
_Coord = Annotated[float, Field(strict=True, allow_inf_nan=False)]
_Time = Annotated[
    str,
    Field(
        strict=True,
        pattern=TIME_PATTERN,
        description="ISO 8601 in UTC with a Z; milliseconds as written by PlateEvent.create.",
    ),
    AfterValidator(_valid_time),
]
_Printable = r"^[^\x00-\x1f\x7f]{1,%d}$"

with warnings.catch_warnings():
    # The wire name shadows BaseModel.schema, a deprecated classmethod: instances read the field.
    warnings.filterwarnings("ignore", 'Field name "schema" in "_Tagged" shadows', UserWarning)

    class _Tagged(BaseModel):
        """The version tag, the first field of every event document."""

        schema: Literal["alpr.plate/1"]  # type: ignore[assignment]


class PlateEvent(_Tagged):
    """One plate read.

    Attributes:
        schema: ``"alpr.plate/1"``.
        event_id: UUIDv7 (time-ordered), unique per event; use it as the idempotency key when storing.
        camera: camera name, also the ZeroMQ topic (see ``CAMERA_PATTERN``).
        ts: capture time, ISO 8601 UTC with milliseconds, e.g. ``"2026-11-25T16:31:34.123Z"``.
        plate: the plate text as read (1-32 characters).
        confidence: plate confidence in [0, 1].
        char_confidences: per-character confidences in [0, 1] (may be empty).
        region: region / format name the plate matched, or None.
        box: ``(x1, y1, x2, y2)`` of the plate in frame pixels, ``x1 <= x2``, ``y1 <= y2``.
        track_id: tracker id of the vehicle / plate across frames, or None for single images.
        first_seen: ISO 8601 time the track was first seen, or None.
        last_seen: ISO 8601 time the track was last seen, or None.
        detector_score: detector score of the plate box in [0, 1], or None.
        direction: direction of travel of the track, ``"approaching"`` or ``"leaving"`` (the camera), or
            None when unknown (optional: older publishers do not send it).
    """

    model_config = ConfigDict(
        frozen=True,
        extra="ignore",  # readers ignore fields they do not know
        title="alpr plate event",
        json_schema_extra={
            "description": "One plate read, as published by `alpr run --publish` (alpr.stream.PlateEvent). "
            "The JPEG crop travels as a separate ZeroMQ message part, never in this document. Readers "
            "ignore properties they do not know; a removed, renamed or retyped property bumps the major "
            "in `schema`."
        },
    )

    event_id: str = Field(
        strict=True,
        pattern=_UUID7_PATTERN,
        description="UUIDv7 (time-ordered), lowercase; the idempotency key of the event.",
    )
    camera: str = Field(
        strict=True,
        pattern=CAMERA_PATTERN,
        description="Camera name; also the ZeroMQ topic and an MQTT topic level.",
    )
    ts: _Time = Field(description="Capture time.")
    plate: str = Field(strict=True, pattern=_Printable % 32, description="Plate text as read.")
    confidence: _Unit
    char_confidences: tuple[_Unit, ...] = Field(
        max_length=_MAX_CHARS, description="Per-character confidences."
    )
    region: Annotated[str, Field(strict=True, pattern=_Printable % 64)] | None = Field(
        description="Region / plate format matched, or null."
    )
    box: tuple[_Coord, _Coord, _Coord, _Coord] = Field(
        description="[x1, y1, x2, y2] of the plate in frame pixels, x1 <= x2 and y1 <= y2 (the order "
        "is checked by PlateEvent.from_json, not expressible here)."
    )
    track_id: Annotated[int, Field(strict=True, ge=0, le=_MAX_TRACK_ID)] | None = Field(
        description="Tracker id across frames, or null."
    )
    first_seen: _Time | None
    last_seen: _Time | None
    detector_score: _Unit | None
    direction: Literal["approaching", "leaving"] | None = Field(
        default=None,
        description="Optional (absent from older publishers): direction of travel of the track relative "
        "to the camera, from the trend of the plate box (growing = approaching), or null when unknown.",
    )

    @field_validator("box")
    @classmethod
    def _ordered(cls, box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        if box[2] < box[0] or box[3] < box[1]:
            raise ValueError("expected x1 <= x2 and y1 <= y2")
        return box

    @classmethod
    def create(  # noqa: PLR0913 (keyword-only event fields, documented under Args)
        cls,
        *,
        camera: str,
        plate: str,
        confidence: float,
        char_confidences: tuple[float, ...] | list[float] = (),
        region: str | None = None,
        box: tuple[float, float, float, float] | list[float],
        track_id: int | None = None,
        ts: datetime | str | None = None,
        first_seen: datetime | str | None = None,
        last_seen: datetime | str | None = None,
        detector_score: float | None = None,
        direction: str | None = None,
    ) -> PlateEvent:
        """Build a validated event with a fresh UUIDv7 ``event_id``.

        Args:
            camera: camera name (see ``CAMERA_PATTERN``).
            plate: the plate text as read.
            confidence: plate confidence in [0, 1].
            char_confidences: per-character confidences in [0, 1].
            region: region / format name the plate matched, or None.
            box: ``(x1, y1, x2, y2)`` in frame pixels.
            track_id: tracker id, or None for single images.
            ts: capture time; a timezone-aware ``datetime`` or an ISO 8601 string; default now (UTC).
            first_seen: when the track was first seen; same types as ``ts``, or None.
            last_seen: when the track was last seen; same types as ``ts``, or None.
            detector_score: the detector's score of the box in [0, 1], or None.
            direction: ``"approaching"`` / ``"leaving"`` (the camera), or None.

        Raises:
            ValueError: a field is out of range or of the wrong type (the message says expected vs got).
        """
        doc: dict[str, Any] = {
            "schema": SCHEMA,
            "event_id": str(uuid6.uuid7()),
            "camera": camera,
            "ts": _format_time("ts", datetime.now(timezone.utc) if ts is None else ts),
            "plate": plate,
            "confidence": confidence,
            "char_confidences": char_confidences,
            "region": region,
            "box": box,
            "track_id": track_id,
            "first_seen": None if first_seen is None else _format_time("first_seen", first_seen),
            "last_seen": None if last_seen is None else _format_time("last_seen", last_seen),
            "detector_score": detector_score,
            "direction": direction,
        }
        try:
            return cls.from_dict(doc)
        except DecodeError as exc:
            raise ValueError(str(exc)) from None

    @classmethod
    def from_vehicle(cls, vehicle: VehicleEvent) -> PlateEvent:
        """The event of a tracker's :class:`~alpr.tracking.VehicleEvent`, captured at its last read.

        Raises:
            ValueError: a field is out of range (as :meth:`create`).
        """
        first, last = posix_to_iso(vehicle.first_seen), posix_to_iso(vehicle.last_seen)
        return cls.create(
            camera=vehicle.camera,
            plate=vehicle.plate,
            confidence=vehicle.confidence,
            char_confidences=vehicle.char_confidences,
            region=vehicle.region,
            box=vehicle.box,
            track_id=vehicle.track_id,
            ts=last,
            first_seen=first,
            last_seen=last,
            detector_score=vehicle.detector_score,
            direction=vehicle.direction,
        )

    def to_dict(self) -> dict[str, Any]:
        """The event as a JSON-ready dict (tuples become lists), fields in declaration order."""
        d = dict(self.__dict__)
        d["char_confidences"] = list(self.char_confidences)
        d["box"] = list(self.box)
        return d

    def to_json(self) -> bytes:
        """The event as compact UTF-8 JSON (orjson), fields in declaration order."""
        return orjson.dumps(self.__dict__)

    @classmethod
    def from_json(cls, data: bytes | bytearray | memoryview | str) -> PlateEvent:
        """Parse and validate one event document.

        Raises:
            DecodeError: the input is not JSON, not an object, has another schema major, or a field is
                missing or invalid. Nothing else escapes for any input.
        """
        try:
            if isinstance(data, memoryview):
                data = bytes(data)
            return cls.model_validate_json(data)
        except ValidationError as exc:
            raise _decode_error(exc) from None

    @classmethod
    def from_dict(cls, doc: Any) -> PlateEvent:
        """Validate a decoded JSON object (as from ``to_dict``). Raises ``DecodeError`` when invalid."""
        try:
            return cls.model_validate(doc)
        except ValidationError as exc:
            raise _decode_error(exc) from None

    def capture_time(self) -> datetime:
        """``ts`` as a timezone-aware ``datetime``."""
        return parse_utc(self.ts)


class _NoFieldTitles(GenerateJsonSchema):
    def field_title_should_be_set(self, schema: object) -> bool:
        return False  # "Event Id" under "event_id" says nothing


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the event document, as ``schemas/plate_event.schema.json``."""
    doc = PlateEvent.model_json_schema(schema_generator=_NoFieldTitles)
    head = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID}
    for key in ("title", "description", "type", "required"):
        head[key] = doc.pop(key)
    return head | doc


def _format_time(name: str, value: datetime | str) -> str:
    if isinstance(value, str):
        return value  # validated with the other fields
    if not isinstance(value, datetime):
        raise ValueError(f"{name}: expected a datetime or ISO 8601 string, got {type(value).__name__}")
    try:
        return format_utc(value)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None


def _decode_error(exc: ValidationError) -> DecodeError:
    """The first error of a validation, as ``field: expected ..., got ...``."""
    err = exc.errors(include_url=False, include_context=False)[0]
    return DecodeError(_describe(err))


def _describe(err: ErrorDetails) -> str:
    loc = err["loc"]
    kind = err["type"]
    if kind == "missing" and len(loc) == 1:
        return f"plate event: missing required field {loc[0]!r}"
    if kind == "json_invalid":
        return f"plate event: expected a JSON document, got invalid JSON ({err['msg']})"
    if kind in ("model_type", "model_attributes_type"):
        return f"plate event: expected a JSON object, got {type(err['input']).__name__}"
    # ("char_confidences", 3) -> char_confidences[3]; union branch tags after the field are dropped.
    name = str(loc[0]) + "".join(f"[{p}]" for p in loc[1:] if isinstance(p, int)) if loc else ""
    if kind == "literal_error" and loc == ("schema",):
        return f"schema: expected {SCHEMA!r}, got {err['input']!r:.60}"
    msg = err["msg"].removeprefix("Value error, ")
    return f"{name or 'plate event'}: {msg[:1].lower()}{msg[1:]}, got {err['input']!r:.60}"
