"""Detector stage: frame -> letterbox tensor (Rust) -> engine -> decode + NMS (Rust) -> plate boxes."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from alpr import ops
from alpr._models import bundled
from alpr.config import DetectorConfig, EngineConfig
from alpr.engines import Engine, create_engine
from alpr.errors import EngineError, ModelLoadError
from alpr.timing import StageTimes

__all__ = [
    "Detector",
    "calibration_batches",
    "concat_detections",
    "drop_covered",
    "is_closeup",
    "map_back",
    "merge_fragments",
    "zoom_out",
]


def calibration_batches(cfg: EngineConfig | None, to_tensor: Any) -> Iterator[np.ndarray] | None:
    """TensorRT INT8 calibration batches from ``cfg.calibration_images``.

    ``None`` unless the config asks for TensorRT INT8 with images; else ``to_tensor(list of BGR frames)`` for
    every 8 images, at most ``cfg.calibration_batches`` batches.
    """
    if cfg is None or cfg.backend != "tensorrt" or cfg.precision != "int8" or cfg.calibration_images is None:
        return None
    from alpr.sources import expand_images, read_image

    paths = expand_images([cfg.calibration_images])[: 8 * cfg.calibration_batches]
    if not paths:
        raise ModelLoadError(f"no calibration images in {cfg.calibration_images}")

    def batches() -> Iterator[np.ndarray]:
        for i in range(0, len(paths), 8):
            yield np.ascontiguousarray(to_tensor([read_image(p) for p in paths[i : i + 8]]))

    return batches()


class Detector:
    """Plate detector: letterbox (Rust) -> engine -> decode + NMS (Rust), boxes in frame pixels.

    Args:
        engine: The detector engine; input float32 (N, 3, H, W) RGB in [0, 1]; output (N, 4+nc+K*D, A).
        input_size: ``(width, height)`` of the model input.
        num_keypoints: Keypoints per box (4 corners for the bundled model, 0 for a YOLO export).
        plate_classes: Class ids kept as plates (``None``: all).
        conf_threshold, iou_threshold, max_det: Decoding thresholds.
        min_size: Boxes narrower or lower than this (frame px) are dropped.
        pad_value: Letterbox padding value.
    """

    def __init__(  # noqa: PLR0913 (keyword-only decoding options of DetectorConfig)
        self,
        engine: Engine,
        *,
        input_size: tuple[int, int],
        num_keypoints: int = 4,
        plate_classes: Sequence[int] | None = None,
        conf_threshold: float = 0.35,
        iou_threshold: float = 0.5,
        max_det: int = 50,
        min_size: float = 4.0,
        pad_value: int = 114,
    ) -> None:
        self.engine = engine
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.num_keypoints = int(num_keypoints)
        self.plate_classes = (
            None if plate_classes is None else np.asarray(list(plate_classes), dtype=np.int64)
        )
        self.conf_threshold = float(conf_threshold)
        self.iou_threshold = float(iou_threshold)
        self.max_det = int(max_det)
        self.min_size = float(min_size)
        self.pad_value = int(pad_value)
        spec = engine.inputs[0]
        self._input_name = spec.name
        self._fixed_batch = spec.fixed(0)
        self._input_dtype = np.float16 if spec.dtype == "float16" else np.float32
        out = engine.outputs[0]
        channels = out.fixed(-2) if len(out.shape) >= 2 else None
        if channels is not None and channels < 5 + 2 * self.num_keypoints - self.num_keypoints:
            raise ModelLoadError(
                f"detector output has {channels} channels: "
                f"expected at least 4 + classes + {self.num_keypoints}*2"
            )
        self._channels = channels
        self._local = threading.local()
        self.times = StageTimes()

    @classmethod
    def from_config(cls, cfg: DetectorConfig, engine_cfg: EngineConfig | None = None) -> Detector:
        """Build from config: the bundled model unless ``cfg.model`` is set."""
        inp: dict[str, Any] = {}
        output: dict[str, Any] = {}
        if cfg.model is None:
            path, entry = bundled("detector", cfg.variant, engine=engine_cfg, auto=True)
            inp, output = entry.input, entry.output
        else:
            path = Path(cfg.model)
        size = int(cfg.input_size or inp.get("width", 640))
        engine = create_engine(
            path,
            engine_cfg,
            calibration=calibration_batches(engine_cfg, lambda fs: ops.letterbox_batch(fs, size)[0]),
        )
        spec = engine.inputs[0]
        h, w = spec.fixed(2), spec.fixed(3)
        if h is None or w is None:  # dynamic input: config, then manifest, then 640
            w = size
            h = int(cfg.input_size or inp.get("height", size))
        fmt_kp = 4 if cfg.format == "alpr" else 0
        kp = cfg.num_keypoints if cfg.num_keypoints is not None else int(output.get("num_keypoints", fmt_kp))
        return cls(
            engine,
            input_size=(w, h),
            num_keypoints=kp,
            plate_classes=cfg.plate_classes,
            conf_threshold=cfg.conf_threshold,
            iou_threshold=cfg.iou_threshold,
            max_det=cfg.max_det,
            min_size=cfg.min_size,
            pad_value=int(inp.get("pad_value", 114)),
        )

    def _num_classes(self, channels: int) -> int:
        nc = channels - 4 - 2 * self.num_keypoints
        if nc < 1:
            raise EngineError(
                f"detector output has {channels} channels: expected 4 + classes + {self.num_keypoints}*2"
            )
        return nc

    def detect(self, frames: Sequence[np.ndarray]) -> list[ops.Detections]:
        """Detect plates in BGR frames; returns one ``Detections`` per frame, in frame pixels."""
        if not frames:
            return []
        with self.times.stage("det_pre"):
            # Letterbox into a reused per-thread buffer: allocating (and page-faulting) a fresh
            # multi-MB tensor per call costs more than the letterbox itself.
            bufs: dict[int, np.ndarray] = self._local.__dict__.setdefault("bufs", {})
            n = len(frames)
            buf = bufs.get(n)
            if buf is None:
                w, h = self.input_size
                buf = bufs[n] = np.empty((n, 3, h, w), dtype=self._input_dtype)
            tensor, infos = ops.letterbox_batch(
                list(frames), self.input_size, pad_value=self.pad_value, dtype=self._input_dtype, out=buf
            )
        outputs: list[np.ndarray] = []
        with self.times.stage("det_infer"):
            if self._fixed_batch == 1 and len(frames) > 1:
                for i in range(len(frames)):
                    outputs.append(self.engine.infer({self._input_name: tensor[i : i + 1]})[0])
                raw = np.concatenate(outputs, axis=0)
            else:
                raw = self.engine.infer({self._input_name: tensor})[0]
        out: list[ops.Detections] = []
        with self.times.stage("det_post"):
            if raw.ndim != 3 or raw.shape[0] != len(frames):
                raise EngineError(f"detector output: expected (N={len(frames)}, C, A), got {raw.shape}")
            nc = self._num_classes(int(raw.shape[1]))
            for i, info in enumerate(infos):
                det = ops.postprocess_yolo(
                    np.ascontiguousarray(raw[i]),
                    info,
                    num_classes=nc,
                    conf_threshold=self.conf_threshold,
                    iou_threshold=self.iou_threshold,
                    max_det=self.max_det,
                    num_keypoints=self.num_keypoints,
                    keypoint_dim=2,
                    agnostic=True,
                )
                keep = np.ones(len(det.scores), dtype=bool)
                if self.plate_classes is not None:
                    keep &= np.isin(det.class_ids, self.plate_classes)
                if self.min_size > 0 and len(keep):
                    wh = det.boxes[:, 2:] - det.boxes[:, :2]
                    keep &= (wh[:, 0] >= self.min_size) & (wh[:, 1] >= self.min_size)
                if not keep.all():
                    det = _subset(det, keep)
                out.append(det)
        return out

    def close(self) -> None:
        """Close the engine."""
        self.engine.close()


def _subset(det: ops.Detections, keep: np.ndarray) -> ops.Detections:
    return ops.Detections(
        boxes=np.ascontiguousarray(det.boxes[keep], np.float32),
        scores=np.ascontiguousarray(det.scores[keep], np.float32),
        class_ids=np.ascontiguousarray(det.class_ids[keep], np.int64),
        keypoints=np.ascontiguousarray(det.keypoints[keep], np.float32),
    )


def concat_detections(parts: Sequence[ops.Detections]) -> ops.Detections:
    """One :class:`~alpr.ops.Detections` from several (same keypoint layout), sorted by score."""
    det = ops.Detections(
        boxes=np.concatenate([p.boxes for p in parts]).astype(np.float32).reshape(-1, 4),
        scores=np.concatenate([p.scores for p in parts]).astype(np.float32),
        class_ids=np.concatenate([p.class_ids for p in parts]).astype(np.int64),
        keypoints=np.concatenate([p.keypoints for p in parts]).astype(np.float32),
    )
    return _subset(det, np.argsort(-det.scores, kind="stable"))


def merge_fragments(det: ops.Detections, contain: float = 0.6, same_line: float = 0.6) -> ops.Detections:
    """Merge detections that are pieces of one plate.

    A plate that fills the frame tends to come out as a whole box plus fragments, or as two halves.

    * A box whose area lies ``contain`` or more inside a larger box is dropped; the larger box takes the
      higher of the two scores.
    * Two boxes on the same line (vertical IoU >= ``same_line``) that overlap horizontally are joined
      into their union (axis-aligned corners), with the higher score.

    NMS (IoU) keeps such pieces because a fragment's IoU with the whole plate is small.
    """
    n = len(det)
    if n < 2:
        return det
    boxes = det.boxes.astype(np.float64).copy()
    scores = det.scores.astype(np.float32).copy()
    kps = det.keypoints.copy()
    alive = np.ones(n, dtype=bool)
    changed = True
    while changed:
        changed = False
        for i in range(n):
            for j in range(n):
                if i == j or not (alive[i] and alive[j]):
                    continue
                a, b = boxes[i], boxes[j]
                ix = min(a[2], b[2]) - max(a[0], b[0])
                iy = min(a[3], b[3]) - max(a[1], b[1])
                if ix <= 0 or iy <= 0:
                    continue
                area_a = (a[2] - a[0]) * (a[3] - a[1])
                area_b = (b[2] - b[0]) * (b[3] - b[1])
                if area_a <= area_b and ix * iy >= contain * area_a:  # i inside j
                    alive[i] = False
                    scores[j] = max(scores[i], scores[j])
                    changed = True
                    continue
                union_h = max(a[3], b[3]) - min(a[1], b[1])
                if i < j and iy / union_h >= same_line:  # two pieces of one line
                    boxes[i] = [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])]
                    scores[i] = max(scores[i], scores[j])
                    if kps.shape[1] == 4:
                        x0, y0, x1, y1 = boxes[i]
                        kps[i] = [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]
                    alive[j] = False
                    changed = True
    if alive.all():
        return det
    out = ops.Detections(
        boxes=boxes.astype(np.float32),
        scores=scores,
        class_ids=det.class_ids,
        keypoints=kps.astype(np.float32),
    )
    keep = np.flatnonzero(alive)
    return _subset(out, keep[np.argsort(-scores[keep], kind="stable")])


def drop_covered(det: ops.Detections, by: ops.Detections, cover: float = 0.5) -> ops.Detections:
    """``det`` without the boxes whose area lies at least ``cover`` inside a box of ``by``.

    On a close-up the full-frame pass sees the plate out of its training scale and returns pieces of it
    (a box missing the last characters, two overlapping halves); the zoomed-out pass (``by``) sees the
    whole plate. The pieces it covers go, so the read comes from the whole plate; boxes elsewhere in the
    frame (another plate at scene scale) stay.
    """
    if len(det) == 0 or len(by) == 0:
        return det
    a = det.boxes.astype(np.float64)[:, None, :]
    b = by.boxes.astype(np.float64)[None, :, :]
    iw = (np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0])).clip(0)
    ih = (np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1])).clip(0)
    area = ((a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])).clip(1e-9)
    covered = (iw * ih / area >= cover).any(axis=1)
    return _subset(det, np.flatnonzero(~covered))


def is_closeup(frame: np.ndarray, det: ops.Detections, share: float = 0.4, small_frame: int = 640) -> bool:
    """Whether ``frame`` looks like a close-up, where the detector is out of its training scale.

    A close-up: a box wider or taller than ``share`` of the frame, or no plate at all in a frame no larger
    than ``small_frame`` px (a user-cropped photo).
    """
    h, w = frame.shape[:2]
    if len(det) == 0:
        return bool(max(h, w) <= small_frame)
    wh = det.boxes[:, 2:] - det.boxes[:, :2]
    return bool(((wh[:, 0] > share * w) | (wh[:, 1] > share * h)).any())


def zoom_out(
    frame: np.ndarray, factor: float, pad_value: int = 114
) -> tuple[np.ndarray, tuple[float, float]]:
    """Shrink ``frame`` by ``factor`` onto a ``pad_value`` canvas of the frame's own size, centred.

    A close-up plate then appears at the scale the detector was trained on. Returns the canvas and the offset
    ``(x, y)`` of the shrunk frame; canvas px ``p`` maps back to ``(p - offset) * factor``.
    """
    import cv2

    h, w = frame.shape[:2]
    sw, sh = max(1, round(w / factor)), max(1, round(h / factor))
    small = cv2.resize(frame, (sw, sh), interpolation=cv2.INTER_AREA)
    canvas = np.full_like(frame, pad_value)
    x0, y0 = (w - sw) // 2, (h - sh) // 2
    canvas[y0 : y0 + sh, x0 : x0 + sw] = small
    return canvas, (float(x0), float(y0))


def map_back(
    det: ops.Detections, offset: tuple[float, float], factor: float, shape: tuple[int, ...]
) -> ops.Detections:
    """Detections found on a :func:`zoom_out` canvas, in the original frame's pixels (clipped)."""
    h, w = shape[:2]
    off = np.asarray(offset * 2, dtype=np.float32)
    boxes = (det.boxes - off) * factor
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)
    kps = det.keypoints.astype(np.float32)
    if kps.shape[1] and kps.shape[2] == 2:
        kps = (kps - off[:2]) * factor
    out = ops.Detections(
        boxes=boxes.astype(np.float32), scores=det.scores, class_ids=det.class_ids, keypoints=kps
    )
    wh = out.boxes[:, 2:] - out.boxes[:, :2]
    return _subset(out, np.flatnonzero((wh[:, 0] > 1) & (wh[:, 1] > 1)))
