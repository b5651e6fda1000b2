"""Plate tracking across frames and one event per vehicle.

Plates are associated frame to frame by box overlap (IoU) or centre distance (in plate widths), with
the text similarity of the reads as a tie-breaker and a veto for clearly different plates. Each track
keeps every read and votes per character, weighted by each character's confidence. A track emits one
:class:`VehicleEvent` when it stabilises (``stable_hits`` reads agreeing at ``stable_confidence``) or
when it ends (unseen for ``max_age`` seconds), whichever comes first, with the crop of its best read.
The same text is not emitted again within ``dedup_window`` seconds (a vehicle that stops, or a plate
lost and found again). Each event carries the direction of travel (:func:`travel_direction`): the plate
box growing means the vehicle approaches the camera, shrinking means it leaves.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from difflib import SequenceMatcher

import numpy as np

from alpr.config import TrackingConfig
from alpr.timestamps import posix_to_iso
from alpr.types import Box, PlateRead, box_iou

__all__ = ["DIRECTION_GROWTH", "Tracker", "VehicleEvent", "iso", "travel_direction", "vote"]

DIRECTION_GROWTH = 0.15
"""Relative change of the plate width over a track that counts as approaching / leaving."""


def iso(ts: float) -> str:
    """ISO 8601 UTC with milliseconds and ``Z`` for a POSIX timestamp (:mod:`alpr.timestamps`)."""
    return posix_to_iso(ts)


@dataclass(frozen=True, slots=True)
class VehicleEvent:
    """One vehicle's plate, voted over its track.

    Attributes:
        camera: The source's camera name.
        plate: The voted text.
        confidence: Lowest voted per-character confidence.
        char_confidences: Voted confidence per character (share of the confidence mass that agreed).
        region: Format id of the voted text (``None``: no configured format).
        box: The best read's box (frame px).
        track_id: Tracker id, unique per tracker.
        first_seen, last_seen: Capture times (POSIX seconds) of the first and last read.
        detector_score: The best read's detector score.
        reads: How many reads were voted.
        reason: ``"stable"`` or ``"ended"``.
        crop: The best read's crop (``uint8 (h, w, 3)`` BGR) when crops were requested.
        direction: ``"approaching"``, ``"leaving"`` or None (see :func:`travel_direction`).
    """

    camera: str
    plate: str
    confidence: float
    char_confidences: tuple[float, ...]
    region: str | None
    box: Box
    track_id: int
    first_seen: float
    last_seen: float
    detector_score: float
    reads: int
    reason: str
    crop: np.ndarray | None = field(default=None, compare=False, repr=False)
    direction: str | None = None

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dict (no crop)."""
        return {
            "plate": self.plate,
            "confidence": round(self.confidence, 4),
            "char_confidences": [round(c, 4) for c in self.char_confidences],
            "region": self.region,
            "camera": self.camera,
            "box": [round(v, 1) for v in self.box],
            "track_id": self.track_id,
            "first_seen": iso(self.first_seen),
            "last_seen": iso(self.last_seen),
            "detector_score": round(self.detector_score, 4),
            "reads": self.reads,
            "direction": self.direction,
        }


MAX_TRACK_READS = 64
"""Reads a track keeps for voting (the most confident; the newest is always kept)."""


def vote(reads: list[PlateRead]) -> tuple[str, tuple[float, ...]]:
    """Confidence-weighted per-character vote over reads of one plate.

    The length is chosen first (the length with the largest summed confidence), then each position takes
    the character with the largest summed confidence among reads of that length. A position's confidence
    is the winner's summed confidence divided by the number of reads of that length, so disagreement
    lowers it.
    """
    if not reads:
        return "", ()
    by_len: defaultdict[int, float] = defaultdict(float)
    for r in reads:
        by_len[len(r.text)] += r.confidence + 1e-6
    length = max(by_len, key=lambda n: by_len[n])
    same = [r for r in reads if len(r.text) == length]
    text = []
    confs = []
    for i in range(length):
        weights: defaultdict[str, float] = defaultdict(float)
        for r in same:
            weights[r.text[i]] += r.char_confidences[i] if i < len(r.char_confidences) else r.confidence
        ch = max(weights, key=lambda c: weights[c])
        text.append(ch)
        confs.append(min(1.0, weights[ch] / len(same)))
    return "".join(text), tuple(confs)


def travel_direction(first: Box, last: Box, growth: float = DIRECTION_GROWTH) -> str | None:
    """Direction of travel from a track's first and last plate box (frame px, xyxy).

    A plate whose width grew by ``growth`` (15 %) or more approaches the camera, one that shrank as
    much leaves it. When the size barely changes (a side view), the vertical trend decides: moving down
    the frame by more than a plate height is approaching, up is leaving (a camera above the lane,
    looking along it). Otherwise None.
    """
    w0, w1 = first[2] - first[0], last[2] - last[0]
    if w0 > 0 and w1 > 0:
        if w1 >= w0 * (1 + growth):
            return "approaching"
        if w1 * (1 + growth) <= w0:
            return "leaving"
    h = max(1.0, first[3] - first[1], last[3] - last[1])
    dy = (last[1] + last[3]) / 2 - (first[1] + first[3]) / 2
    if dy > h:
        return "approaching"
    if dy < -h:
        return "leaving"
    return None


def _similarity(a: str, b: str) -> float:
    return SequenceMatcher(None, a, b).ratio() if a and b else 0.0


@dataclass
class _Track:
    id: int
    reads: list[PlateRead]
    first_seen: float
    last_seen: float
    box: Box
    first_box: Box = (0.0, 0.0, 0.0, 0.0)
    velocity: tuple[float, float] = (0.0, 0.0)
    emitted: bool = False
    text: str = ""

    def predicted(self, ts: float) -> Box:
        dt = ts - self.last_seen
        dx, dy = self.velocity[0] * dt, self.velocity[1] * dt
        b = self.box
        return (b[0] + dx, b[1] + dy, b[2] + dx, b[3] + dy)


class Tracker:
    """Per-camera plate tracker producing one :class:`VehicleEvent` per vehicle.

    Args:
        config: Thresholds (see :class:`~alpr.config.TrackingConfig`).
        camera: Camera name copied into events.
    """

    _ids = itertools.count(1)

    def __init__(self, config: TrackingConfig | None = None, camera: str = "default") -> None:
        self.config = config or TrackingConfig()
        self.camera = camera
        self.tracks: list[_Track] = []
        self._recent: dict[str, float] = {}
        self.suppressed = 0

    def _score(self, track: _Track, read: PlateRead, ts: float) -> float:
        cfg = self.config
        pred = track.predicted(ts)
        iou = box_iou(pred, read.box)
        w = max(1.0, pred[2] - pred[0], read.box[2] - read.box[0])
        cx = (pred[0] + pred[2]) / 2 - (read.box[0] + read.box[2]) / 2
        cy = (pred[1] + pred[3]) / 2 - (read.box[1] + read.box[3]) / 2
        dist = float(np.hypot(cx, cy)) / w
        if iou < cfg.iou_threshold and dist > cfg.max_distance:
            return -1.0
        sim = _similarity(track.text, read.text)
        if track.text and read.text and sim < cfg.text_similarity and iou < 0.5:
            return -1.0  # a different plate next to this one
        return iou + max(0.0, 1.0 - dist / cfg.max_distance) + sim

    def update(self, reads: list[PlateRead], ts: float) -> list[VehicleEvent]:
        """Feed one frame's reads (capture time ``ts`` in POSIX seconds); returns events now due."""
        pairs = sorted(
            (
                (self._score(t, r, ts), ti, ri)
                for ti, t in enumerate(self.tracks)
                for ri, r in enumerate(reads)
            ),
            reverse=True,
        )
        used_t: set[int] = set()
        used_r: set[int] = set()
        for score, ti, ri in pairs:
            if score < 0 or ti in used_t or ri in used_r:
                continue
            used_t.add(ti)
            used_r.add(ri)
            self._extend(self.tracks[ti], reads[ri], ts)
        for ri, r in enumerate(reads):
            if ri not in used_r:
                self.tracks.append(_Track(next(self._ids), [r], ts, ts, r.box, r.box, text=r.text))
        events = []
        alive = []
        for t in self.tracks:
            if ts - t.last_seen > self.config.max_age:
                ev = self._finish(t, "ended")
                if ev is not None:
                    events.append(ev)
                continue
            alive.append(t)
            if not t.emitted and self._stable(t):
                ev = self._finish(t, "stable")
                if ev is not None:
                    events.append(ev)
        self.tracks = alive
        return events

    def flush(self) -> list[VehicleEvent]:
        """End every track (end of stream); returns the events still due."""
        events = [ev for t in self.tracks if (ev := self._finish(t, "ended")) is not None]
        self.tracks = []
        return events

    def _extend(self, t: _Track, r: PlateRead, ts: float) -> None:
        dt = ts - t.last_seen
        if dt > 0:
            vx = ((r.box[0] + r.box[2]) - (t.box[0] + t.box[2])) / 2 / dt
            vy = ((r.box[1] + r.box[3]) - (t.box[1] + t.box[3])) / 2 / dt
            t.velocity = (0.5 * t.velocity[0] + 0.5 * vx, 0.5 * t.velocity[1] + 0.5 * vy)
        t.reads.append(r)
        if len(t.reads) > MAX_TRACK_READS:
            # A parked car is read for hours: keep the most confident reads (bounded memory, and each
            # update's vote stays O(MAX_TRACK_READS) instead of growing with the track).
            worst = min(range(len(t.reads) - 1), key=lambda i: t.reads[i].confidence)
            del t.reads[worst]
        t.box = r.box
        t.last_seen = ts
        t.text = vote(t.reads)[0]

    def _stable(self, t: _Track) -> bool:
        cfg = self.config
        if len(t.reads) < cfg.stable_hits:
            return False
        text, confs = vote(t.reads)
        agree = sum(1 for r in t.reads if r.text == text)
        return agree >= cfg.stable_hits and bool(confs) and min(confs) >= cfg.stable_confidence

    def _finish(self, t: _Track, reason: str) -> VehicleEvent | None:
        if t.emitted or len(t.reads) < self.config.min_hits:
            return None
        t.emitted = True
        text, confs = vote(t.reads)
        if not text:
            return None
        last = self._recent.get(text)
        if (
            last is not None
            and self.config.dedup_window > 0
            and t.first_seen - last <= self.config.dedup_window
        ):
            self._recent[text] = t.last_seen
            self.suppressed += 1
            return None
        self._recent[text] = t.last_seen
        horizon = t.last_seen - self.config.dedup_window
        self._recent = {k: v for k, v in self._recent.items() if v >= horizon}
        matching = [r for r in t.reads if r.text == text] or t.reads
        best = max(matching, key=lambda r: (r.confidence, r.detector_score))
        regions = Counter(r.region for r in matching if r.text == text)
        region = regions.most_common(1)[0][0] if regions else best.region
        return VehicleEvent(
            camera=self.camera,
            plate=text,
            confidence=min(confs) if confs else 0.0,
            char_confidences=confs,
            region=region,
            box=best.box,
            track_id=t.id,
            first_seen=t.first_seen,
            last_seen=t.last_seen,
            detector_score=best.detector_score,
            reads=len(t.reads),
            reason=reason,
            crop=best.crop,
            direction=travel_direction(t.first_box, t.box),
        )
