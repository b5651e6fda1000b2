"""The ALPR pipeline: detector + recognizer + plate formats, pure per frame.

The stages live in their own modules (:mod:`alpr.detector`, :mod:`alpr.recognizers`; the stream
runner in :mod:`alpr.runner`); their classes are re-exported here for compatibility.

``Pipeline()`` loads the bundled models on ONNX Runtime (CPU). ``pipe(frame)`` returns the plates in
one BGR frame; ``pipe.batch(frames)`` runs the detector on the frames as one batch and the OCR on all
their plates as one batch. The caller's frames are never modified.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from alpr import ops
from alpr._models import load_manifest
from alpr.config import PipelineConfig, load_config
from alpr.detector import (
    Detector,
    concat_detections,
    drop_covered,
    is_closeup,
    map_back,
    merge_fragments,
    zoom_out,
)
from alpr.errors import DecodeError, ModelLoadError
from alpr.recognizers import (
    CtcRecognizer,
    PpOcrRecognizer,
    Recognizer,
    SlotRecognizer,
    build_recognizer,
    charset_of,
)
from alpr.regions import RegionSet, confusable_variant
from alpr.runner import FrameResult, StreamRunner
from alpr.timing import StageTimes
from alpr.types import Corners, PlateRead
from alpr.verify import ReadVerifier

__all__ = [
    "CtcRecognizer",
    "Detector",
    "FrameResult",
    "Pipeline",
    "PpOcrRecognizer",
    "Recognizer",
    "SlotRecognizer",
    "StageTimes",
    "StreamRunner",
    "check_frame",
]


def check_frame(frame: Any, what: str = "frame") -> np.ndarray:
    """Validate a frame and return it as BGR ``uint8 (H, W, 3)`` (a gray frame is converted, as a copy).

    Raises:
        DecodeError: not a uint8 (H, W, 3) / (H, W) array, or empty.
    """
    if not isinstance(frame, np.ndarray):
        raise DecodeError(f"{what}: expected a numpy uint8 (H, W, 3) BGR array, got {type(frame).__name__}")
    if (
        frame.dtype != np.uint8
        or frame.ndim not in (2, 3)
        or (frame.ndim == 3 and frame.shape[2] not in (1, 3))
    ):
        raise DecodeError(
            f"{what}: expected uint8 (H, W, 3) BGR or (H, W) gray, got {frame.dtype} {frame.shape}"
        )
    if frame.shape[0] < 1 or frame.shape[1] < 1:
        raise DecodeError(f"{what}: expected a non-empty image, got shape {frame.shape}")
    if frame.ndim == 2 or frame.shape[2] == 1:
        import cv2

        frame = np.asarray(cv2.cvtColor(frame.reshape(frame.shape[0], frame.shape[1]), cv2.COLOR_GRAY2BGR))
    out: np.ndarray = frame if frame.flags.c_contiguous else np.ascontiguousarray(frame)
    return out


def _verifier_model(cfg: PipelineConfig) -> dict[str, Any] | None:
    """The logistic verifier of the bundled models (manifest ``verifier`` entry), or None.

    Used only with the bundled OCR (its weights are fitted to that model's confidences) and when
    ``verify.model`` is on.
    """
    if not cfg.verify.use_model or cfg.ocr.model is not None or cfg.ocr.format != "ctc":
        return None
    try:
        entry = load_manifest()[1].get("verifier")
    except ModelLoadError:
        return None
    return entry if isinstance(entry, dict) else None


_UNSURE = 0.8
"""A character read with less confidence than this may be swapped for its confusable twin by a format."""


def _settle_confusables(regions: RegionSet, text: str, confs: np.ndarray) -> tuple[str, str | None]:
    """Format-aware re-ranking for recognizers without constrained decoding (and the CTC's fallback).

    Swaps at most two confusable characters so that the read fits a format, and only where the model itself
    was unsure of them; otherwise the read is returned unchanged (never forced into a format).
    """
    fixed, fmt = regions.resolve(text)
    if fmt is None or len(fixed) != len(text) or len(confs) != len(text):
        return text, None
    swapped = [i for i, (a, b) in enumerate(zip(text, fixed, strict=True)) if a != b]
    if not confusable_variant(text, fixed) or any(float(confs[i]) >= _UNSURE for i in swapped):
        return text, None
    return fixed, fmt


class Pipeline:
    """Detector + recognizer + plate formats.

    Args:
        detector: A :class:`Detector` (default: the bundled detector on the configured engine).
        recognizer: A recognizer (default: the bundled CTC OCR).
        config: The configuration (default: the defaults with ``ALPR__SECTION__KEY`` environment
            overrides, see :mod:`alpr.config`).

    Example:
        >>> pipe = alpr.Pipeline()                      # doctest: +SKIP
        >>> [r.text for r in pipe(cv2.imread("car.jpg"))]  # doctest: +SKIP
    """

    def __init__(
        self,
        detector: Detector | None = None,
        recognizer: Recognizer | None = None,
        config: PipelineConfig | None = None,
    ) -> None:
        self.config = config if config is not None else load_config()  # defaults + ALPR__* env overrides
        cfg = self.config
        self.detector = detector or Detector.from_config(cfg.detector, cfg.engine)
        self.recognizer = recognizer or build_recognizer(cfg)
        charset = charset_of(self.recognizer)
        self.regions: RegionSet | None = RegionSet.from_names(
            cfg.regions.enabled, cfg.regions.extra_files, charset=charset
        )
        if not len(self.regions):
            self.regions = None
        # Constrained decoding only when the user picked formats; otherwise formats only label reads.
        self._constrain = bool(cfg.regions.enabled) and cfg.regions.constrain
        self._min_conf = cfg.ocr.min_confidence
        self.verifier = ReadVerifier(cfg.verify, _verifier_model(cfg))

    @classmethod
    def from_config(cls, path: str | Path | None = None, **overrides: Any) -> Pipeline:
        """Build from a TOML file (see :mod:`alpr.config`); env ``ALPR__...`` and ``overrides`` win."""
        return cls(config=load_config(path, **overrides))

    def with_regions(self, enabled: Sequence[str], *, constrain: bool = True) -> Pipeline:
        """A pipeline sharing this one's engines, with other plate formats (e.g. ``["br"]``)."""
        regions = self.config.regions.model_copy(update={"enabled": list(enabled), "constrain": constrain})
        cfg = self.config.model_copy(update={"regions": regions})
        return Pipeline(self.detector, self.recognizer, cfg)

    @property
    def times(self) -> dict[str, tuple[float, int]]:
        """Accumulated per-stage wall time ``{stage: (seconds, calls)}`` (det_*/ocr_* pre/infer/post)."""
        return {**self.detector.times.snapshot(), **self.recognizer.times.snapshot()}

    def reset_times(self) -> None:
        """Zero the per-stage timers."""
        self.detector.times.reset()
        self.recognizer.times.reset()

    def __call__(self, frame: np.ndarray) -> list[PlateRead]:
        """Plates in one BGR ``uint8 (H, W, 3)`` frame, highest detector score first."""
        return self.batch([frame])[0]

    def batch(self, frames: Sequence[np.ndarray]) -> list[list[PlateRead]]:
        """Plates in each frame: one detector batch, then one OCR batch over all plates."""
        checked = [check_frame(f, f"frames[{i}]") for i, f in enumerate(frames)]
        return self.read(checked, self.detect(checked))

    def detect(self, frames: Sequence[np.ndarray]) -> list[ops.Detections]:
        """Detector stage only (frames must already be valid BGR uint8).

        Close-ups (see :func:`alpr.detector.is_closeup`) are detected once more on the zoomed-out frame
        and pieces of one plate are merged (``detector.closeup_zoom``, ``detector.merge_fragments``):
        what the zoomed-out pass finds replaces the full-frame boxes it covers.
        """
        dets = self.detector.detect(frames)
        cfg = self.config.detector
        if cfg.closeup_zoom > 1:
            todo = [
                i
                for i, (f, d) in enumerate(zip(frames, dets, strict=True))
                if is_closeup(f, d, small_frame=cfg.closeup_empty_max)
            ]
            if todo:
                zoomed = [zoom_out(frames[i], cfg.closeup_zoom, self.detector.pad_value) for i in todo]
                again = self.detector.detect([z for z, _ in zoomed])
                for i, (_, off), d2 in zip(todo, zoomed, again, strict=True):
                    found = map_back(d2, off, cfg.closeup_zoom, frames[i].shape)
                    if len(found):
                        dets[i] = concat_detections([found, drop_covered(dets[i], found)])
        if cfg.merge_fragments:
            dets = [merge_fragments(d) for d in dets]
        return dets

    def read(
        self, frames: Sequence[np.ndarray], detections: Sequence[ops.Detections]
    ) -> list[list[PlateRead]]:
        """OCR stage: read the plates ``detections`` found in ``frames``."""
        corners = [d.keypoints if d.keypoints.shape[1] == 4 else None for d in detections]
        regions = self.regions
        texts = self.recognizer.recognize(
            frames, [d.boxes for d in detections], corners, regions if self._constrain else None
        )
        out: list[list[PlateRead]] = []
        want_crop = self.config.return_crops
        require = self.config.regions.require_match
        for frame, det, reads, kps in zip(frames, detections, texts, corners, strict=True):
            plates = []
            for j, (text, confs, fmt) in enumerate(reads):
                if fmt is None and regions is not None:
                    fmt = regions.match(text)
                    if fmt is None and self._constrain:
                        text, fmt = _settle_confusables(regions, text, confs)
                if not text or (require and fmt is None):
                    continue
                cc = tuple(float(c) for c in np.asarray(confs, dtype=np.float32))
                conf = min(cc) if cc else 0.0
                if conf < self._min_conf:
                    continue
                x1, y1, x2, y2 = (float(v) for v in det.boxes[j])
                if not self.verifier.accept(text, cc, fmt, float(det.scores[j]), (x1, y1, x2, y2)):
                    continue
                crn: Corners | None = None
                if kps is not None:
                    k = kps[j]
                    crn = tuple((float(k[i, 0]), float(k[i, 1])) for i in range(4))  # type: ignore[assignment]
                crop = None
                if want_crop:
                    crop = frame[
                        int(y1) : max(int(y1) + 1, int(np.ceil(y2))),
                        int(x1) : max(int(x1) + 1, int(np.ceil(x2))),
                    ].copy()
                plates.append(
                    PlateRead(
                        text=text,
                        confidence=conf,
                        char_confidences=cc,
                        box=(x1, y1, x2, y2),
                        corners=crn,
                        region=fmt,
                        detector_score=float(det.scores[j]),
                        crop=crop,
                    )
                )
            out.append(plates)
        return out

    def close(self) -> None:
        """Close both engines."""
        self.detector.close()
        self.recognizer.close()

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
