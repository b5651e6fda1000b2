"""PlateEvent: construction, JSON round trip, validation, and agreement with the JSON Schema file."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from alpr.errors import DecodeError
from alpr.stream import SCHEMA, PlateEvent
from alpr.stream.events import json_schema

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schemas" / "plate_event.schema.json"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_create_fills_id_time_and_schema() -> None:
    ts = datetime(2026, 3, 4, 5, 6, 7, 891_234, tzinfo=timezone(timedelta(hours=2)))
    e = PlateEvent.create(camera="gate-1", plate="B AB 123", confidence=0.9, box=(1, 2, 3, 4), ts=ts)
    assert e.schema == SCHEMA == "alpr.plate/1"
    assert e.ts == "2026-03-04T03:06:07.891Z"  # converted to UTC, truncated to ms
    assert e.capture_time() == datetime(2026, 3, 4, 3, 6, 7, 891_000, tzinfo=timezone.utc)
    assert e.event_id[14] == "7" and len(e.event_id) == 36
    assert e.box == (1.0, 2.0, 3.0, 4.0) and isinstance(e.box[0], float)
    assert e.char_confidences == () and e.region is None and e.track_id is None


def test_event_ids_are_unique_and_time_ordered() -> None:
    ids = [
        PlateEvent.create(camera="c", plate="X1", confidence=1, box=(0, 0, 1, 1)).event_id for _ in range(500)
    ]
    assert len(set(ids)) == 500
    assert ids == sorted(ids)  # UUIDv7: lexical order is generation order


def test_default_ts_is_now_utc() -> None:
    before = datetime.now(timezone.utc) - timedelta(milliseconds=1)
    e = PlateEvent.create(camera="c", plate="X1", confidence=1, box=(0, 0, 1, 1))
    assert before <= e.capture_time() <= datetime.now(timezone.utc)
    assert e.ts.endswith("Z")


def test_json_round_trip_is_exact(event_factory: Callable[..., PlateEvent]) -> None:
    e = PlateEvent.create(
        camera="cam.north_2",
        plate="ÄÖÜ 42",
        confidence=0.875,
        char_confidences=[0.5, 1, 0.25],
        region="de",
        box=[10.5, 20, 30, 40.25],
        track_id=17,
        ts="2026-01-01T00:00:00.000Z",
        first_seen=datetime(2025, 12, 31, 23, 59, 59, tzinfo=timezone.utc),
        last_seen="2026-01-01T00:00:01.500Z",
        detector_score=0.5,
    )
    data = e.to_json()
    assert isinstance(data, bytes)
    back = PlateEvent.from_json(data)
    assert back == e
    assert back.first_seen == "2025-12-31T23:59:59.000Z"
    assert orjson.loads(data) == e.to_dict()
    assert list(orjson.loads(data)) == [
        "schema", "event_id", "camera", "ts", "plate", "confidence", "char_confidences", "region", "box",
        "track_id", "first_seen", "last_seen", "detector_score", "direction",
    ]  # fmt: skip
    assert PlateEvent.from_dict(e.to_dict()) == e
    assert PlateEvent.from_json(data.decode()) == e


def test_unknown_fields_are_ignored(event_factory: Callable[..., PlateEvent]) -> None:
    e = event_factory(1)
    doc = e.to_dict() | {"vehicle_colour": "red"}
    assert PlateEvent.from_json(orjson.dumps(doc)) == e


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"camera": "a/b"}, "camera"),
        ({"camera": ""}, "camera"),
        ({"plate": ""}, "plate"),
        ({"plate": "A\nB"}, "plate"),
        ({"confidence": 1.5}, "confidence"),
        ({"confidence": math.nan}, "confidence"),
        ({"confidence": True}, "confidence"),
        ({"char_confidences": (0.5, -0.1)}, "char_confidences"),
        ({"box": (10, 0, 5, 5)}, "box"),
        ({"box": (0, 0, 1)}, "box"),
        ({"box": (0, 0, math.inf, 1)}, "box"),
        ({"track_id": -1}, "track_id"),
        ({"track_id": 2**63}, "track_id"),
        ({"ts": datetime(2026, 1, 1)}, "timezone-aware"),
        ({"ts": "2026-01-01 00:00:00"}, "ts"),
        ({"ts": "2026-13-01T00:00:00Z"}, "valid date"),
        ({"detector_score": 2}, "detector_score"),
    ],
)
def test_create_rejects_bad_fields_with_a_clear_error(kwargs: dict[str, Any], match: str) -> None:
    args: dict[str, Any] = {"camera": "c", "plate": "X1", "confidence": 0.5, "box": (0, 0, 1, 1)} | kwargs
    with pytest.raises(ValueError, match=match):
        PlateEvent.create(**args)


def _doc(**changes: Any) -> dict[str, Any]:
    doc = PlateEvent.create(camera="c", plate="X1", confidence=0.5, box=(0, 0, 1, 1), track_id=1).to_dict()
    for k, v in changes.items():
        if v is _DROP:
            del doc[k]
        else:
            doc[k] = v
    return doc


_DROP = object()

MALFORMED: list[tuple[str, Any]] = [
    ("not an object", [1, 2]),
    ("other schema", _doc(schema="alpr.plate/2")),
    ("missing plate", _doc(plate=_DROP)),
    ("missing region", _doc(region=_DROP)),
    ("id not uuid7", _doc(event_id="0b7e6a5c-1234-4abc-8def-0123456789ab")),
    ("camera with space", _doc(camera="gate 1")),
    ("plate number", _doc(plate=123)),
    ("confidence string", _doc(confidence="0.5")),
    ("confidence > 1", _doc(confidence=1.01)),
    ("chars not list", _doc(char_confidences=0.5)),
    ("box of 5", _doc(box=[0, 0, 1, 1, 1])),
    ("box strings", _doc(box=["0", 0, 1, 1])),
    ("track_id float", _doc(track_id=1.5)),
    ("track_id bool", _doc(track_id=True)),
    ("ts no zone", _doc(ts="2026-01-01T00:00:00.000")),
    ("ts offset", _doc(ts="2026-01-01T00:00:00.000+01:00")),
    ("region empty", _doc(region="")),
    ("last_seen number", _doc(last_seen=5)),
    ("detector_score < 0", _doc(detector_score=-0.5)),
    ("direction unknown word", _doc(direction="sideways")),
    ("direction number", _doc(direction=1)),
]


@pytest.mark.parametrize(("why", "doc"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_documents_fail_both_validators(
    why: str, doc: Any, validator: jsonschema.Draft202012Validator
) -> None:
    with pytest.raises(DecodeError):
        PlateEvent.from_json(orjson.dumps(doc))
    assert not validator.is_valid(doc), why


@pytest.mark.parametrize(
    "data", [b"", b"{", b"null", b"\xff\xfe", b'{"schema": "alpr.plate/1"}', b"[]", "ünïcode", b"1e999"]
)
def test_from_json_rejects_garbage_with_decode_error(data: bytes | str) -> None:
    with pytest.raises(DecodeError):
        PlateEvent.from_json(data)


def test_decode_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="missing required field 'plate'"):
        PlateEvent.from_json(orjson.dumps(_doc(plate=_DROP)))


unit = st.floats(0, 1)
valid_events = st.builds(
    PlateEvent.create,
    camera=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True),
    plate=st.text(
        st.characters(min_codepoint=32, max_codepoint=0x2FF, exclude_characters="\x7f"),
        min_size=1,
        max_size=32,
    ),
    confidence=unit,
    char_confidences=st.lists(unit, max_size=12),
    region=st.none() | st.sampled_from(["eu", "us-ca", "br"]),
    box=st.tuples(st.floats(0, 1e4), st.floats(0, 1e4), st.floats(0, 1e4), st.floats(0, 1e4)).map(
        lambda b: (min(b[0], b[2]), min(b[1], b[3]), max(b[0], b[2]), max(b[1], b[3]))
    ),
    track_id=st.none() | st.integers(0, 2**63 - 1),
    ts=st.datetimes(timezones=st.just(timezone.utc)),
    detector_score=st.none() | unit,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(e=valid_events)
def test_generated_events_round_trip_and_match_the_schema(
    e: PlateEvent, validator: jsonschema.Draft202012Validator
) -> None:
    data = e.to_json()
    assert PlateEvent.from_json(data) == e
    validator.validate(orjson.loads(data))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=20,
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    doc=st.dictionaries(st.sampled_from(list(_doc())), json_values, max_size=13).map(
        lambda overrides: _doc() | overrides
    )
)
def test_from_json_on_mutated_events_is_never_looser_than_the_schema(
    doc: dict[str, Any], validator: jsonschema.Draft202012Validator
) -> None:
    try:
        data = orjson.dumps(doc)
    except TypeError:
        return  # integers beyond 64 bits are not JSON that orjson writes
    try:
        PlateEvent.from_json(data)
    except DecodeError:
        return
    validator.validate(orjson.loads(data))


def _dumps_or_empty(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:
        return b""  # integers beyond 64 bits


def _corrupt(data: bytes, pos: int, byte: int) -> bytes:
    return data[: pos % (len(data) + 1)] + bytes([byte]) + data[pos % (len(data) + 1) + 1 :]


raw_inputs = (
    st.binary(max_size=300)
    | st.text(max_size=300).map(str.encode)
    | json_values.map(_dumps_or_empty)
    | st.builds(_corrupt, st.just(orjson.dumps(_doc())), st.integers(0, 400), st.integers(0, 255))
)


def _decodes_or_rejects(data: bytes) -> None:
    try:
        e = PlateEvent.from_json(data)
    except DecodeError:
        return
    assert PlateEvent.from_json(e.to_json()) == e


@settings(max_examples=500, deadline=None)
@given(raw_inputs)
def test_from_json_never_crashes(data: bytes) -> None:
    """Any input either decodes to a valid event or raises DecodeError; nothing else escapes."""
    _decodes_or_rejects(data)


@pytest.mark.slow
@settings(max_examples=100_000, deadline=None, database=None)
@given(raw_inputs)
def test_from_json_never_crashes_long(data: bytes) -> None:
    """The same as the 500-example run above, for 100,000 inputs (``pytest -m slow``)."""
    _decodes_or_rejects(data)


def test_direction_is_optional_and_validated(validator: jsonschema.Draft202012Validator) -> None:
    old = _doc(direction=_DROP)  # what a publisher from before the field sends
    assert "direction" not in old and validator.is_valid(old)
    assert PlateEvent.from_dict(old).direction is None
    e = PlateEvent.create(camera="c", plate="X1", confidence=0.5, box=(0, 0, 1, 1), direction="leaving")
    back = PlateEvent.from_json(e.to_json())
    assert back.direction == "leaving" and back == e
    assert validator.is_valid(e.to_dict())
    with pytest.raises(ValueError, match="direction"):
        PlateEvent.create(camera="c", plate="X1", confidence=0.5, box=(0, 0, 1, 1), direction="up")


def test_schema_file_is_the_one_generated_from_the_model() -> None:
    from alpr.stream.__main__ import schema_text

    stale = f"{SCHEMA_FILE.name} is stale: python -m alpr.stream --schema > schemas/{SCHEMA_FILE.name}"
    assert SCHEMA_FILE.read_text() == schema_text(), stale
    assert json_schema()["required"] == [f for f in PlateEvent.model_fields if f != "direction"]


def test_frozen() -> None:
    e = PlateEvent.create(camera="c", plate="X1", confidence=0.5, box=(0, 0, 1, 1))
    with pytest.raises(ValidationError):
        e.plate = "X2"  # type: ignore[misc]
    assert hash(e) == hash(PlateEvent.from_json(e.to_json()))


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (_doc(plate=_DROP), "plate event: missing required field 'plate'"),
        (_doc(schema="alpr.plate/2"), "schema: expected 'alpr.plate/1', got 'alpr.plate/2'"),
        (_doc(confidence="0.5"), "confidence: input should be a valid number, got '0.5'"),
        (_doc(box=[2, 0, 1, 1]), "box: expected x1 <= x2 and y1 <= y2, got [2, 0, 1, 1]"),
        (
            _doc(char_confidences=[0.5, 2]),
            "char_confidences[1]: input should be less than or equal to 1, got 2",
        ),
        (
            _doc(ts="2026-02-30T00:00:00.000Z"),
            "ts: expected a valid date and time, got '2026-02-30T00:00:00.000Z'",
        ),
        ([1], "plate event: expected a JSON object, got list"),
    ],
)
def test_decode_errors_say_field_expected_and_got(doc: Any, message: str) -> None:
    with pytest.raises(DecodeError) as info:
        PlateEvent.from_json(orjson.dumps(doc))
    assert str(info.value) == message
    with pytest.raises(DecodeError) as info:
        PlateEvent.from_dict(doc)
    assert str(info.value) == message


def test_schema_command_prints_the_schema_file(capsys: pytest.CaptureFixture[str]) -> None:
    from alpr.stream.__main__ import main

    assert main(["--schema"]) == 0
    assert capsys.readouterr().out == SCHEMA_FILE.read_text()
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 2 and "expected at least one endpoint" in capsys.readouterr().err


def test_from_vehicle_keeps_the_tracker_fields_and_is_captured_at_the_last_read() -> None:
    from alpr.tracking import VehicleEvent

    v = VehicleEvent(
        camera="gate",
        plate="AB123",
        confidence=0.8,
        char_confidences=(0.9, 0.8, 0.95, 0.9, 0.85),
        region="eu",
        box=(1.0, 2.0, 30.0, 12.0),
        track_id=7,
        first_seen=1_700_000_000.25,
        last_seen=1_700_000_002.5,
        detector_score=0.7,
        reads=4,
        reason="stable",
        direction="approaching",
    )
    e = PlateEvent.from_vehicle(v)
    assert (e.camera, e.plate, e.confidence, e.char_confidences) == ("gate", "AB123", 0.8, v.char_confidences)
    assert (e.region, e.box, e.track_id, e.detector_score) == ("eu", v.box, 7, 0.7)
    assert e.direction == "approaching"
    assert e.first_seen == "2023-11-14T22:13:20.250Z" and e.ts == e.last_seen == "2023-11-14T22:13:22.500Z"
