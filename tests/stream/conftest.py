"""Shared helpers of the stream tests: synthetic events and loopback endpoints."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from alpr.stream import PlateEvent

# A valid JPEG start of image + end of image: the stream checks the magic bytes, not the content.
TINY_JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) + b"\xff\xd9"


def make_event(i: int, camera: str = "cam1") -> PlateEvent:
    return PlateEvent.create(
        camera=camera,
        plate=f"AB{i:05d}",
        confidence=0.5 + (i % 50) / 100,
        char_confidences=(0.9, 0.8, 0.99),
        region="eu",
        box=(float(i % 100), 20.0, 140.0 + i % 100, 60.0),
        track_id=i,
        detector_score=0.75,
    )


@pytest.fixture
def event_factory() -> Callable[..., PlateEvent]:
    return make_event


@pytest.fixture
def tiny_jpeg() -> bytes:
    return TINY_JPEG


@pytest.fixture(params=["tcp", "ipc"])
def endpoint(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A PUB endpoint on loopback: TCP with an ephemeral port, or an ipc socket in a temp dir."""
    if request.param == "tcp":
        return "tcp://127.0.0.1:*"
    return f"ipc://{tmp_path}/events"
