from __future__ import annotations

import numpy as np
import pytest

from alpr.config import TrackingConfig
from alpr.tracking import Tracker, iso, travel_direction, vote
from alpr.types import PlateRead


def read(
    text: str, box: tuple[float, float, float, float], conf: float = 0.9, confs: list[float] | None = None
) -> PlateRead:
    cc = tuple(confs) if confs is not None else (conf,) * len(text)
    return PlateRead(text, min(cc) if cc else 0.0, cc, box, detector_score=0.8)


def test_vote_weights_characters_by_confidence() -> None:
    reads = [
        read("ABC1234", (0, 0, 1, 1), confs=[0.9] * 7),
        read("A8C1234", (0, 0, 1, 1), confs=[0.9, 0.3, 0.9, 0.9, 0.9, 0.9, 0.9]),
        read("A8C1234", (0, 0, 1, 1), confs=[0.9, 0.2, 0.9, 0.9, 0.9, 0.9, 0.9]),
        read("ABC12345", (0, 0, 1, 1), conf=0.2),
    ]
    text, confs = vote(reads)
    assert text == "ABC1234"  # B: 0.9 beats 8: 0.3 + 0.2; the 8-char read loses the length vote
    assert confs[0] == pytest.approx(0.9)
    assert confs[1] == pytest.approx(0.9 / 3)
    assert vote([]) == ("", ())


def _drive(tracker: Tracker, texts: list[str], t0: float, x0: float = 100.0) -> list:
    events = []
    for i, text in enumerate(texts):
        x = x0 + 8 * i
        events += tracker.update([read(text, (x, 300 + 4 * i, x + 120, 340 + 4 * i))], t0 + i * 0.12)
    return events


def test_one_event_per_vehicle_with_voted_text() -> None:
    tr = Tracker(TrackingConfig(stable_hits=50, max_age=0.5), camera="cam1")
    texts = ["KXR4821", "KXR4B21", "KXR4821", "KXR482", "KXR4821", "KYR4821", "KXR4821"]
    events = _drive(tr, texts, 1000.0)
    assert events == []  # not stable yet, not ended
    events += tr.update([], 1000.0 + 2.0)  # the vehicle is gone
    assert len(events) == 1
    ev = events[0]
    assert ev.plate == "KXR4821" and ev.camera == "cam1" and ev.reason == "ended"
    assert ev.reads == 7 and ev.first_seen == 1000.0 and ev.last_seen == pytest.approx(1000.72)
    assert ev.to_dict()["first_seen"] == "1970-01-01T00:16:40.000Z"
    assert tr.flush() == []


def test_stable_track_emits_once_before_it_ends() -> None:
    tr = Tracker(TrackingConfig(stable_hits=3, stable_confidence=0.5))
    events = _drive(tr, ["ABC1234"] * 8, 0.0)
    assert [e.reason for e in events] == ["stable"]
    assert tr.update([], 10.0) == [] and tr.flush() == []


def test_vehicles_one_after_another_and_dedup() -> None:
    tr = Tracker(TrackingConfig(stable_hits=99, max_age=0.3, dedup_window=5.0))
    events = _drive(tr, ["AAA1111"] * 5, 0.0)
    events += _drive(tr, ["BBB2222"] * 5, 3.0, x0=600)
    events += _drive(tr, ["AAA1111"] * 5, 4.0)  # same car again within 5 s of its last sighting
    events += _drive(tr, ["AAA1111"] * 5, 30.0)  # and much later
    events += tr.flush()
    assert [e.plate for e in events] == ["AAA1111", "BBB2222", "AAA1111"]
    assert tr.suppressed == 1


def test_two_plates_side_by_side_are_two_tracks() -> None:
    tr = Tracker(TrackingConfig(stable_hits=99))
    for i in range(4):
        tr.update([read("LEFT123", (100, 300, 200, 330)), read("RIGHT45", (220, 300, 320, 330))], i * 0.1)
    events = tr.flush()
    assert sorted(e.plate for e in events) == ["LEFT123", "RIGHT45"]
    assert len({e.track_id for e in events}) == 2


def test_single_spurious_read_is_not_an_event() -> None:
    tr = Tracker(TrackingConfig(min_hits=2))
    tr.update([read("X1", (0, 0, 10, 10))], 0.0)
    assert tr.update([], 5.0) == [] and tr.flush() == []


def test_best_crop_is_kept() -> None:
    tr = Tracker(TrackingConfig(stable_hits=99))
    crops = [np.full((2, 2, 3), i, np.uint8) for i in range(3)]
    for i, conf in enumerate([0.5, 0.95, 0.7]):
        r = PlateRead("ABC123", conf, (conf,) * 6, (10 + i, 10, 60 + i, 30), crop=crops[i])
        tr.update([r], i * 0.1)
    (ev,) = tr.flush()
    assert ev.crop is not None and int(ev.crop[0, 0, 0]) == 1


def test_iso() -> None:
    assert iso(0.5) == "1970-01-01T00:00:00.500Z"


def test_a_parked_car_keeps_a_bounded_track() -> None:
    from alpr.tracking import MAX_TRACK_READS

    tracker = Tracker(TrackingConfig(max_age=5.0), "lot")
    box = (100.0, 300.0, 220.0, 340.0)
    events = []
    for i in range(2000):  # ~half an hour of a parked car at 1 detection per second
        conf = 0.95 if i % 10 == 0 else 0.6
        text = "ABC1234" if i % 7 else "A8C1234"
        events += tracker.update([read(text, box, conf=conf)], float(i))
    (track,) = tracker.tracks
    assert len(track.reads) == MAX_TRACK_READS  # was 2,000 reads, re-voted on every update
    assert min(r.confidence for r in track.reads[:-1]) == pytest.approx(0.95)  # the best are kept
    events += tracker.flush()
    assert [ev.plate for ev in events] == ["ABC1234"]  # one vehicle, one event


@pytest.mark.parametrize(
    ("first", "last", "want"),
    [
        ((100, 300, 220, 340), (90, 360, 250, 410), "approaching"),  # grows 33 %
        ((90, 360, 250, 410), (100, 300, 220, 340), "leaving"),
        ((100, 100, 220, 140), (102, 300, 224, 340), "approaching"),  # same size, moves down 5 heights
        ((102, 300, 224, 340), (100, 100, 220, 140), "leaving"),
        ((100, 300, 220, 340), (104, 310, 226, 350), None),  # barely moved: unknown
        ((0, 0, 0, 0), (0, 0, 0, 0), None),
    ],
)
def test_travel_direction(first: tuple, last: tuple, want: str | None) -> None:
    assert travel_direction(first, last) == want


def test_events_carry_the_direction_of_travel() -> None:
    cfg = TrackingConfig(stable_hits=100, min_hits=2, max_age=0.5, dedup_window=0)
    tracker = Tracker(cfg, "gate")
    events = []
    for i in range(8):  # the plate grows frame by frame: a vehicle driving towards the camera
        w = 100 + 10 * i
        events += tracker.update([read("ABC123", (200 - w / 2, 300, 200 + w / 2, 300 + w / 3))], i * 0.1)
    for i in range(8):  # another one driving away, later
        w = 170 - 10 * i
        events += tracker.update([read("XYZ789", (600 - w / 2, 100, 600 + w / 2, 100 + w / 3))], 5 + i * 0.1)
    events += tracker.flush()
    assert [(e.plate, e.direction) for e in events] == [("ABC123", "approaching"), ("XYZ789", "leaving")]
    assert events[0].to_dict()["direction"] == "approaching"
