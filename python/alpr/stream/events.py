"""The plate event: one read of one plate, as the pipeline publishes it and the bridge stores it.

Wire format: a UTF-8 JSON object written with orjson (``PlateEvent.to_json``); the crop, when there is
one, travels as a separate JPEG message part, never inside the JSON. The JSON Schema of the document is
``schemas/plate_event.schema.json`` at the root of the repository.

Versioning: ``schema`` is ``"alpr.plate/<major>"``. New optional fields may be added without a version
bump (readers ignore fields they do not know); a removed, renamed or retyped field bumps the major.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from math import isfinite as _isfinite
from typing import Any

import orjson
import uuid6

from alpr.errors import DecodeError
from alpr.timestamps import format_utc, parse_utc

__all__ = ["CAMERA_PATTERN", "DIRECTIONS", "SCHEMA", "TIME_PATTERN", "PlateEvent"]

SCHEMA = "alpr.plate/1"
"""The schema tag of the events this version writes and reads."""

DIRECTIONS = ("approaching", "leaving")
"""Directions of travel a track may carry (relative to the camera)."""

CAMERA_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
"""Camera names: safe as a ZeroMQ topic, an MQTT topic level and a file name."""

_CAMERA_RE = re.compile(CAMERA_PATTERN)
_UUID7_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
_MAX_TRACK_ID = 2**63 - 1
TIME_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{3}|\.[0-9]{6})?Z$"
"""Times: ISO 8601 in UTC with a ``Z``; ``PlateEvent.create`` writes milliseconds."""

_TS_RE = re.compile(TIME_PATTERN)
_PLATE_RE = re.compile(r"^[^\x00-\x1f\x7f]{1,32}$")
_REGION_RE = re.compile(r"^[^\x00-\x1f\x7f]{1,64}$")
_MAX_CHARS = 64


@dataclass(frozen=True, slots=True)
class PlateEvent:
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

    schema: str
    event_id: str
    camera: str
    ts: str
    plate: str
    confidence: float
    char_confidences: tuple[float, ...]
    region: str | None
    box: tuple[float, float, float, float]
    track_id: int | None
    first_seen: str | None
    last_seen: str | None
    detector_score: float | None
    direction: str | None = None

    @classmethod
    def create(
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
            ts: capture time; a timezone-aware ``datetime`` or an ISO 8601 string; default now (UTC).
            first_seen, last_seen: same types as ``ts``, or None.
            box: ``(x1, y1, x2, y2)`` in frame pixels.

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
            "char_confidences": list(char_confidences),
            "region": region,
            "box": list(box),
            "track_id": track_id,
            "first_seen": None if first_seen is None else _format_time("first_seen", first_seen),
            "last_seen": None if last_seen is None else _format_time("last_seen", last_seen),
            "detector_score": detector_score,
            "direction": direction,
        }
        try:
            return _from_dict(doc)
        except DecodeError as exc:
            raise ValueError(str(exc)) from None

    def to_dict(self) -> dict[str, Any]:
        """The event as a JSON-ready dict (tuples become lists)."""
        return {
            "schema": self.schema,
            "event_id": self.event_id,
            "camera": self.camera,
            "ts": self.ts,
            "plate": self.plate,
            "confidence": self.confidence,
            "char_confidences": list(self.char_confidences),
            "region": self.region,
            "box": list(self.box),
            "track_id": self.track_id,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "detector_score": self.detector_score,
            "direction": self.direction,
        }

    def to_json(self) -> bytes:
        """The event as compact UTF-8 JSON (orjson), fields in declaration order."""
        return orjson.dumps(self)

    @classmethod
    def from_json(cls, data: bytes | bytearray | memoryview | str) -> PlateEvent:
        """Parse and validate one event document.

        Raises:
            DecodeError: the input is not JSON, not an object, has another schema major, or a field is
                missing or invalid. Nothing else escapes for any input.
        """
        try:
            doc = orjson.loads(data)
        except (orjson.JSONDecodeError, TypeError) as exc:
            raise DecodeError(f"plate event: expected a JSON document, got invalid JSON ({exc})") from None
        return _from_dict(doc)

    @classmethod
    def from_dict(cls, doc: Any) -> PlateEvent:
        """Validate a decoded JSON object (as from ``to_dict``). Raises ``DecodeError`` when invalid."""
        return _from_dict(doc)

    def capture_time(self) -> datetime:
        """``ts`` as a timezone-aware ``datetime``."""
        return _parse_time(self.ts)


def _format_time(name: str, value: datetime | str) -> str:
    if isinstance(value, str):
        _check_time(name, value)
        return value
    if not isinstance(value, datetime):
        raise ValueError(f"{name}: expected a datetime or ISO 8601 string, got {type(value).__name__}")
    try:
        return format_utc(value)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None


def _parse_time(value: str) -> datetime:
    return parse_utc(value)


def _check_time(name: str, value: object) -> str:
    if not isinstance(value, str) or not _TS_RE.fullmatch(value):
        raise DecodeError(
            f"{name}: expected an ISO 8601 UTC time like 2026-01-31T12:00:00.000Z, got {value!r:.60}"
        )
    try:
        _parse_time(value)
    except ValueError:
        raise DecodeError(f"{name}: expected a valid date and time, got {value!r:.60}") from None
    return value


def _check_unit(name: str, value: object) -> float:
    # bool is an int in Python but not a number in JSON Schema.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DecodeError(f"{name}: expected a number in [0, 1], got {type(value).__name__}")
    v = float(value)
    if not 0.0 <= v <= 1.0:
        raise DecodeError(f"{name}: expected a number in [0, 1], got {v!r}")
    return v


def _check_str(name: str, value: object, pattern: re.Pattern[str], what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise DecodeError(f"{name}: expected {what}, got {value!r:.60}")
    return value


_CAMERA_WHAT = f"a camera name matching {CAMERA_PATTERN}"
_known_cameras: set[str] = set()  # cameras already validated: most streams have a handful


def _from_dict(doc: Any) -> PlateEvent:
    if not isinstance(doc, dict):
        raise DecodeError(f"plate event: expected a JSON object, got {type(doc).__name__}")
    try:
        schema = doc["schema"]
        if schema != SCHEMA:
            raise DecodeError(f"schema: expected {SCHEMA!r}, got {schema!r:.60}")
        event_id = doc["event_id"]
        if type(event_id) is not str or not _UUID7_RE.fullmatch(event_id):
            raise DecodeError(f"event_id: expected a lowercase UUIDv7 string, got {event_id!r:.60}")
        camera = doc["camera"]
        if type(camera) is not str or camera not in _known_cameras:
            _check_str("camera", camera, _CAMERA_RE, _CAMERA_WHAT)
            if len(_known_cameras) < 4096:
                _known_cameras.add(camera)
        ts = _check_time("ts", doc["ts"])
        plate = doc["plate"]
        if type(plate) is not str or not _PLATE_RE.fullmatch(plate):
            raise DecodeError(f"plate: expected 1-32 printable characters, got {plate!r:.60}")
        confidence = doc["confidence"]
        if type(confidence) is not float or not 0.0 <= confidence <= 1.0:
            confidence = _check_unit("confidence", confidence)
        chars = doc["char_confidences"]
        if type(chars) is not list or len(chars) > _MAX_CHARS:
            raise DecodeError(
                f"char_confidences: expected a list of at most {_MAX_CHARS} numbers, got {chars!r:.60}"
            )
        # Fast paths: orjson gives floats for "0.9"; ints, bools and out-of-range values take the checks.
        for c in chars:
            if type(c) is not float or not 0.0 <= c <= 1.0:
                char_confidences = tuple(_check_unit("char_confidences[]", c) for c in chars)
                break
        else:
            char_confidences = tuple(chars)
        region = doc["region"]
        if region is not None:
            _check_str("region", region, _REGION_RE, "null or 1-64 printable characters")
        box = doc["box"]
        if type(box) is not list or len(box) != 4:
            raise DecodeError(f"box: expected [x1, y1, x2, y2], got {box!r:.60}")
        for b in box:
            if type(b) is not float and (type(b) is not int):
                raise DecodeError(f"box: expected 4 finite numbers, got {box!r:.80}")
        x1, y1, x2, y2 = float(box[0]), float(box[1]), float(box[2]), float(box[3])
        if not (_isfinite(x1) and _isfinite(y1) and _isfinite(x2) and _isfinite(y2)):
            raise DecodeError(f"box: expected 4 finite numbers, got {box!r:.80}")
        if x2 < x1 or y2 < y1:
            raise DecodeError(f"box: expected x1 <= x2 and y1 <= y2, got {box!r:.80}")
        track_id = doc["track_id"]
        if track_id is not None and (type(track_id) is not int or not 0 <= track_id <= _MAX_TRACK_ID):
            raise DecodeError(f"track_id: expected null or an integer in [0, 2**63), got {track_id!r:.40}")
        first_seen = doc["first_seen"]
        if first_seen is not None:
            _check_time("first_seen", first_seen)
        last_seen = doc["last_seen"]
        if last_seen is not None:
            _check_time("last_seen", last_seen)
        score = doc["detector_score"]
        detector_score = None if score is None else _check_unit("detector_score", score)
        direction = doc.get("direction")  # optional since alpr.plate/1 was published
        if direction is not None and direction not in DIRECTIONS:
            raise DecodeError(f"direction: expected null, 'approaching' or 'leaving', got {direction!r:.40}")
    except KeyError as exc:
        raise DecodeError(f"plate event: missing required field {exc.args[0]!r}") from None
    except OverflowError as exc:  # a Python int beyond float range (from_dict; JSON never gets here)
        raise DecodeError(f"plate event: number out of range ({exc})") from None
    return PlateEvent(
        SCHEMA,
        event_id,
        camera,
        ts,
        plate,
        confidence,
        char_confidences,
        region,
        (x1, y1, x2, y2),
        track_id,
        first_seen,
        last_seen,
        detector_score,
        direction,
    )
