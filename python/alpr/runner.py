"""Stream runner: many sources -> batched detection and OCR -> per-camera tracking -> results."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from alpr import ops
from alpr.timing import StageTimes
from alpr.types import PlateRead

if TYPE_CHECKING:
    from alpr.pipeline import Pipeline

__all__ = ["FrameResult", "StreamRunner"]


class FrameResult:
    """What :class:`StreamRunner` yields for each processed frame.

    ``frame`` is ``None`` for the final flush of a source that ended, which carries only its last events.

    Attributes:
        frame: The frame (``alpr.sources.Frame``) or ``None``.
        camera: Camera name.
        reads: Plates read in this frame (empty on frames the detector skipped).
        events: Vehicle events that became due with this frame.
        detected: Whether the detector ran on this frame.
    """

    __slots__ = ("camera", "detected", "events", "frame", "reads")

    def __init__(
        self, frame: Any, camera: str, reads: list[PlateRead], events: list[Any], detected: bool
    ) -> None:
        self.frame = frame
        self.camera = camera
        self.reads = reads
        self.events = events
        self.detected = detected


class StreamRunner:
    """Runs a pipeline over one or more sources sharing its engines, with per-camera tracking.

    Each source decodes on its own thread; this runner takes the newest frame of each camera, runs the
    detector on every ``stride``-th frame of a camera (batched across cameras) and the OCR on all their
    plates as one batch, and feeds each camera's :class:`~alpr.tracking.Tracker`. A camera that fails
    is logged and dropped; the others keep running.

    Args:
        pipeline: The shared pipeline.
        sources: ``alpr.sources.Source`` objects.
        stride: Detect on every ``stride``-th frame (default ``pipeline.config.detect_stride``); frames
            between are decoded (for ``--save-video``) but not analysed.
        tracking: Track plates and produce vehicle events.
        overlap: Run the detector for the next frames on a worker thread while this thread reads,
            tracks and yields the current ones.
    """

    def __init__(
        self,
        pipeline: Pipeline,
        sources: Sequence[Any],
        *,
        stride: int | None = None,
        tracking: bool = True,
        overlap: bool = True,
    ) -> None:
        from alpr.tracking import Tracker

        self.pipeline = pipeline
        self.sources = list(sources)
        self.stride = int(stride or pipeline.config.detect_stride)
        self.tracking = tracking
        self.overlap = overlap
        # A folder of stills is not a video: every image is its own observation (one event per plate
        # per image, no track spanning unrelated photos, no de-duplication across them).
        still_cfg = pipeline.config.tracking.model_copy(update={"min_hits": 1, "dedup_window": 0.0})
        self.trackers = {
            s.camera: Tracker(still_cfg if getattr(s, "still", False) else pipeline.config.tracking, s.camera)
            for s in self.sources
        }
        self._count = {s.camera: 0 for s in self.sources}
        self._live = {s.camera: bool(getattr(s, "live", False)) for s in self.sources}
        self._still = {s.camera: bool(getattr(s, "still", False)) for s in self.sources}
        self.frames = 0
        self.detected_frames = 0
        self.errors: list[str] = []
        self.times = StageTimes()

    def _flush(self, camera: str) -> FrameResult:
        events = self.trackers[camera].flush() if self.tracking else []
        return FrameResult(None, camera, [], events, False)

    def _detect_safe(self, images: list[np.ndarray]) -> list[ops.Detections] | Exception:
        try:
            return self.pipeline.detect(images)
        except Exception as exc:  # reported on the consumer side, frame by frame
            return exc

    def _finish(self, got: list[Any], todo: list[Any], dets: Any) -> Iterator[FrameResult]:
        """OCR + tracking for one gathered round.

        ``dets`` are its detections: a list, an exception, or a Future of either.
        """
        import logging
        from concurrent.futures import Future

        if isinstance(dets, Future):
            dets = dets.result()
        reads_by_id: dict[int, list[PlateRead]] = {}
        if todo:
            images = [f.image for f in todo]
            try:
                if isinstance(dets, Exception):
                    raise dets
                results = self.pipeline.read(images, dets)
            except Exception as exc:  # one bad frame must not stop the other cameras
                logging.getLogger(__name__).error(
                    "pipeline failed on a batch (%s); retrying frame by frame", exc
                )
                results = []
                for f in todo:
                    try:
                        results.append(self.pipeline.batch([f.image])[0])
                    except Exception as exc2:
                        self.errors.append(f"{f.camera} frame {f.index}: {exc2}")
                        results.append([])
            for f, r in zip(todo, results, strict=True):
                reads_by_id[id(f)] = r
        for f in got:
            detected = id(f) in reads_by_id
            reads = reads_by_id.get(id(f), [])
            with self.times.stage("track"):
                events = self.trackers[f.camera].update(reads, f.ts) if (self.tracking and detected) else []
                if self.tracking and detected and self._still[f.camera]:
                    events += self.trackers[f.camera].flush()
            yield FrameResult(f, f.camera, reads, events, detected)

    def __iter__(self) -> Iterator[FrameResult]:
        import queue as _queue
        from concurrent.futures import ThreadPoolExecutor

        active = list(self.sources)
        for s in active:
            s.start()
        # One round in flight: the detector works on round N+1 on its own thread while round N is
        # read (OCR), tracked and handed to the caller (drawing, encoding, publishing) here.
        pool = ThreadPoolExecutor(1, thread_name_prefix="alpr-detect") if self.overlap else None
        pending: tuple[list[Any], list[Any], Any] | None = None
        try:
            while active:
                got: list[Any] = []
                ended: list[Any] = []
                with self.times.stage("wait"):
                    for s in active:
                        try:
                            frame = s.get(timeout=None if len(active) == 1 else 0)
                        except _queue.Empty:
                            continue
                        if frame is None:
                            ended.append(s)
                        else:
                            got.append(frame)
                    if not got and not ended:
                        time.sleep(0.002)
                if ended and pending is not None:
                    yield from self._finish(*pending)
                    pending = None
                for s in ended:
                    active.remove(s)
                    if s.error:
                        self.errors.append(f"{s.camera}: {s.error}")
                    yield self._flush(s.camera)
                if not got:
                    continue
                todo = []
                for f in got:
                    n = self._count[f.camera]
                    self._count[f.camera] = n + 1
                    # Files: by frame number (a source may deliver only every stride-th frame);
                    # live sources: by delivered count (frame numbers jump where frames were dropped).
                    if (
                        self._still[f.camera]
                        or (f.index if not self._live[f.camera] else n) % self.stride == 0
                    ):
                        todo.append(f)
                self.frames += len(got)
                self.detected_frames += len(todo)
                images = [f.image for f in todo]
                if pool is None:
                    yield from self._finish(got, todo, self._detect_safe(images) if todo else [])
                    continue
                fut: Any = pool.submit(self._detect_safe, images) if todo else []
                if pending is not None:
                    yield from self._finish(*pending)
                pending = (got, todo, fut)
            if pending is not None:
                yield from self._finish(*pending)
        finally:
            if pool is not None:
                pool.shutdown(wait=True)
