"""The ALPR pipeline: detector + recognizer + plate formats, pure per frame.

``Pipeline()`` loads the bundled models on ONNX Runtime (CPU). ``pipe(frame)`` returns the plates in
one BGR frame; ``pipe.batch(frames)`` runs the detector on the frames as one batch and the OCR on all
their plates as one batch. The caller's frames are never modified.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from alpr import ops
from alpr._models import load_manifest
from alpr.config import DetectorConfig, EngineConfig, OcrConfig, PipelineConfig, load_config
from alpr.engines.base import Engine, create_engine, file_sha256
from alpr.errors import DecodeError, EngineError, ModelLoadError
from alpr.regions import RegionSet
from alpr.types import Corners, PlateRead

__all__ = [
    "CtcRecognizer",
    "Detector",
    "Pipeline",
    "PpOcrRecognizer",
    "Recognizer",
    "SlotRecognizer",
    "StageTimes",
    "check_frame",
]

_MAX_PATTERNS = 64
_DEFAULT_BOX_PAD = 0.05
_ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


class StageTimes:
    """Thread-safe accumulated wall time and call counts per named stage."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the ``with`` body under ``name``."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            dt = time.perf_counter() - t0
            with self._lock:
                self.seconds[name] = self.seconds.get(name, 0.0) + dt
                self.calls[name] = self.calls.get(name, 0) + 1

    def add(self, name: str, seconds: float) -> None:
        """Add ``seconds`` to ``name`` (one call)."""
        with self._lock:
            self.seconds[name] = self.seconds.get(name, 0.0) + seconds
            self.calls[name] = self.calls.get(name, 0) + 1

    def reset(self) -> None:
        """Forget everything."""
        with self._lock:
            self.seconds.clear()
            self.calls.clear()

    def snapshot(self) -> dict[str, tuple[float, int]]:
        """``{stage: (total seconds, calls)}``."""
        with self._lock:
            return {k: (v, self.calls[k]) for k, v in self.seconds.items()}


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


def _calibration(cfg: EngineConfig | None, to_tensor: Any) -> Iterator[np.ndarray] | None:
    """INT8 calibration batches (8 images each) from ``cfg.calibration_images``, for TensorRT."""
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


def _verify_sha(path: Path, expected: str | None) -> None:
    if expected and file_sha256(path) != expected:
        raise ModelLoadError(f"{path}: sha256 does not match models/manifest.json (corrupt or replaced file)")


def _bundled(kind: str, variant: str | None) -> tuple[Path, dict[str, Any]]:
    folder, manifest = load_manifest()
    entry = manifest["models"].get(kind)
    if not isinstance(entry, dict) or "file" not in entry:
        raise ModelLoadError(f"{folder}/manifest.json has no '{kind}' model")
    name = entry["file"]
    if variant:
        variants = entry.get("variants") or {}
        if variant not in variants:
            raise ModelLoadError(f"{kind} model has no variant {variant!r}; available: {sorted(variants)}")
        name = variants[variant]
    path = folder / name
    if not path.is_file():
        raise ModelLoadError(f"bundled {kind} model missing: {path}")
    if not variant:
        _verify_sha(path, entry.get("sha256"))
    return path, entry


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

    def __init__(
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
        entry: dict[str, Any] = {}
        if cfg.model is None:
            path, entry = _bundled("detector", cfg.variant)
        else:
            path = Path(cfg.model)
        inp = entry.get("input", {})
        size = int(cfg.input_size or inp.get("width", 640))
        engine = create_engine(
            path,
            engine_cfg,
            calibration=_calibration(engine_cfg, lambda fs: ops.letterbox_batch(fs, size)[0]),
        )
        spec = engine.inputs[0]
        h, w = spec.fixed(2), spec.fixed(3)
        if h is None or w is None:  # dynamic input: config, then manifest, then 640
            w = size
            h = int(cfg.input_size or inp.get("height", size))
        output = entry.get("output", {})
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
                    det = ops.Detections(
                        boxes=det.boxes[keep],
                        scores=det.scores[keep],
                        class_ids=det.class_ids[keep],
                        keypoints=det.keypoints[keep],
                    )
                out.append(det)
        return out

    def close(self) -> None:
        """Close the engine."""
        self.engine.close()


class Recognizer(Protocol):
    """Reads the plates of a batch of frames: one ``(text, char confidences)`` per box."""

    times: StageTimes

    def recognize(
        self,
        frames: Sequence[np.ndarray],
        boxes: Sequence[np.ndarray],
        corners: Sequence[np.ndarray | None],
        regions: RegionSet | None,
    ) -> list[list[tuple[str, np.ndarray, str | None]]]: ...

    def close(self) -> None: ...


def _check_classes(engine: Engine, expected: int, what: str) -> None:
    """Compare the model's class count with the charset; a dynamic axis is probed with one dummy run."""
    classes = engine.outputs[0].fixed(-1)
    if classes is None:
        spec = engine.inputs[0]
        shape = [
            d if isinstance(d, int) and d > 0 else (1 if i == 0 else 32) for i, d in enumerate(spec.shape)
        ]
        if len(shape) == 4 and not (isinstance(spec.shape[3], int) and spec.shape[3] > 0) and shape[3] == 32:
            shape[3] = max(32, 4 * shape[2]) if shape[1] in (1, 3) else shape[3]
        dummy = np.zeros(shape, dtype=np.uint8 if spec.dtype == "uint8" else np.dtype(spec.dtype))
        try:
            classes = int(engine.infer({spec.name: dummy})[0].shape[-1])
        except Exception as exc:
            raise ModelLoadError(f"OCR model cannot run a {tuple(shape)} probe input: {exc}") from exc
    if classes != expected:
        raise ModelLoadError(f"OCR model outputs {classes} classes but the {what} implies {expected}")


class _CropRecognizer:
    """Shared crop -> engine -> decode plumbing (OCR batched over every plate of every frame)."""

    max_batch = 64

    def __init__(
        self,
        engine: Engine,
        *,
        height: int,
        width: int,
        gray: bool,
        keep_aspect: bool,
        mean: float,
        std: float,
        pad: float,
        layout: str,
        dtype: type,
        use_corners: bool,
        box_pad: float,
        bgr: bool = False,
    ) -> None:
        self.engine = engine
        self.height, self.width = int(height), int(width)
        self.gray, self.keep_aspect = bool(gray), bool(keep_aspect)
        self.mean, self.std, self.pad = float(mean), float(std), float(pad)
        self.layout, self.dtype = layout, dtype
        self.use_corners = use_corners
        self.box_pad = float(box_pad)
        self.bgr = bgr
        self._input_name = engine.inputs[0].name
        self._fixed_batch = engine.inputs[0].fixed(0)
        self.times = StageTimes()

    def _crops(self, frame: np.ndarray, boxes: np.ndarray, corners: np.ndarray | None) -> np.ndarray:
        kw: dict[str, Any] = {
            "height": self.height,
            "width": self.width,
            "gray": self.gray,
            "keep_aspect": self.keep_aspect,
            "pad": self.pad,
            "mean": self.mean,
            "std": self.std,
            "layout": self.layout,
            "dtype": self.dtype,
        }
        if self.use_corners and corners is not None and corners.shape[0] == boxes.shape[0]:
            return np.asarray(ops.crop_plates(frame, corners=np.ascontiguousarray(corners, np.float32), **kw))
        b = np.asarray(boxes, dtype=np.float32)
        if self.box_pad > 0 and len(b):
            wh = b[:, 2:] - b[:, :2]
            b = np.concatenate([b[:, :2] - wh * self.box_pad, b[:, 2:] + wh * self.box_pad], axis=1)
            h, w = frame.shape[:2]
            b[:, [0, 2]] = b[:, [0, 2]].clip(0, w)
            b[:, [1, 3]] = b[:, [1, 3]].clip(0, h)
        return np.asarray(ops.crop_plates(frame, np.ascontiguousarray(b), **kw))

    def _infer(self, batch: np.ndarray) -> np.ndarray:
        if self.bgr:
            axis = 1 if self.layout == "nchw" else 3
            batch = np.ascontiguousarray(np.flip(batch, axis=axis))
        outs = []
        step = 1 if self._fixed_batch == 1 else self.max_batch
        for i in range(0, len(batch), step):
            outs.append(self.engine.infer({self._input_name: batch[i : i + step]})[0])
        return np.concatenate(outs, axis=0) if len(outs) > 1 else outs[0]

    def _decode(
        self, probs: np.ndarray, regions: RegionSet | None
    ) -> list[tuple[str, np.ndarray, str | None]]:  # pragma: no cover - overridden
        raise NotImplementedError

    def recognize(
        self,
        frames: Sequence[np.ndarray],
        boxes: Sequence[np.ndarray],
        corners: Sequence[np.ndarray | None],
        regions: RegionSet | None,
    ) -> list[list[tuple[str, np.ndarray, str | None]]]:
        """OCR every box of every frame in one batch; returns per frame, per box ``(text, confs, format)``."""
        counts = [len(b) for b in boxes]
        if sum(counts) == 0:
            return [[] for _ in frames]
        with self.times.stage("ocr_pre"):
            parts = [
                self._crops(f, b, c) for f, b, c in zip(frames, boxes, corners, strict=True) if len(b) > 0
            ]
            batch = np.concatenate(parts, axis=0) if len(parts) > 1 else parts[0]
        with self.times.stage("ocr_infer"):
            probs = self._infer(batch)
        with self.times.stage("ocr_post"):
            flat = self._decode(np.ascontiguousarray(probs, dtype=np.float32), regions)
        out: list[list[tuple[str, np.ndarray, str | None]]] = []
        k = 0
        for n in counts:
            out.append(flat[k : k + n])
            k += n
        return out

    def close(self) -> None:
        """Close the engine."""
        self.engine.close()


def _clean(text: str, confs: np.ndarray) -> tuple[str, np.ndarray]:
    """Upper-case, keep letters/digits only (separators and spaces dropped) with their confidences."""
    keep = [i for i, ch in enumerate(text.upper()) if ch in _ALNUM or (not ch.isascii() and ch.isalnum())]
    up = text.upper()
    return "".join(up[i] for i in keep), np.asarray([float(confs[i]) for i in keep], dtype=np.float32)


class CtcRecognizer(_CropRecognizer):
    """CTC plate OCR (the bundled model): output float32 (N, T, len(charset)+1) softmax, blank 0.

    With plate formats configured, decoding is constrained to them (beam search in Rust), which also
    settles the confusable characters where a format decides.
    """

    def __init__(
        self,
        engine: Engine,
        charset: str,
        *,
        blank: int = 0,
        constrain: bool = True,
        beam_width: int = 10,
        logits: bool = False,
        min_format_ratio: float = 0.0,
        **crop: Any,
    ) -> None:
        super().__init__(engine, **crop)
        self.min_format_ratio = float(min_format_ratio)
        self.charset = charset
        self.blank = int(blank)
        self.constrain = constrain
        self.beam_width = int(beam_width)
        self.logits = logits
        _check_classes(engine, len(charset) + 1, f"charset ({len(charset)} characters + blank)")

    @classmethod
    def from_config(
        cls, cfg: OcrConfig, engine_cfg: EngineConfig | None, constrain: bool, min_format_ratio: float = 0.0
    ) -> CtcRecognizer:
        """The bundled OCR (or ``cfg.model`` with ``cfg.charset``)."""
        entry: dict[str, Any] = {}
        if cfg.model is None:
            path, entry = _bundled("ocr", cfg.variant)
        else:
            path = Path(cfg.model)
        inp = entry.get("input", {})
        charset = cfg.charset or entry.get("charset")
        if not charset:
            raise ModelLoadError(f"OCR model {path}: no charset (set ocr.charset)")
        engine = create_engine(path, engine_cfg)
        spec = engine.inputs[0]
        channels = cfg.channels or spec.fixed(1) or int(inp.get("channels", 3))
        return cls(
            engine,
            charset,
            blank=int(entry.get("output", {}).get("blank", 0)),
            constrain=constrain,
            beam_width=cfg.beam_width,
            min_format_ratio=min_format_ratio,
            height=cfg.height or spec.fixed(2) or int(inp.get("height", 32)),
            width=cfg.width or spec.fixed(3) or int(inp.get("width", 128)),
            gray=channels == 1,
            keep_aspect=cfg.keep_aspect
            if cfg.keep_aspect is not None
            else bool(inp.get("keep_aspect", False)),
            mean=cfg.mean if cfg.mean is not None else float(inp.get("mean", 0.5)),
            std=cfg.std if cfg.std is not None else float(inp.get("std", 0.5)),
            pad=0.0,
            layout="nchw",
            dtype=np.float32,
            use_corners=(cfg.crop or str(inp.get("crop", "box"))) == "corners",
            # The OCR's training crops carry a margin around the plate (0-8 % by source); a detector box
            # is tight, so grow it a little unless the manifest or the config says otherwise.
            box_pad=cfg.box_pad if cfg.box_pad is not None else float(inp.get("box_pad", _DEFAULT_BOX_PAD)),
        )

    def _decode(
        self, probs: np.ndarray, regions: RegionSet | None
    ) -> list[tuple[str, np.ndarray, str | None]]:
        if regions is not None and self.constrain and len(regions):
            pats = list(regions.patterns)
            best: list[tuple[str, np.ndarray, str | None, float]] = []
            # The native decoder takes at most 64 patterns: decode per group, keep the likeliest match.
            for start in range(0, len(pats), _MAX_PATTERNS):
                res = ops.ctc_decode_constrained(
                    probs,
                    self.charset,
                    pats[start : start + _MAX_PATTERNS],
                    self.blank,
                    beam_width=self.beam_width,
                    logits=self.logits,
                )
                for row, (t, c, idx) in enumerate(res):
                    owner = regions.owner(start + idx) if idx >= 0 else None
                    score = float(np.log(np.clip(c, 1e-9, 1.0)).sum()) if owner is not None else -np.inf
                    if row == len(best):
                        best.append((t, c, owner, score))
                    elif score > best[row][3]:
                        best[row] = (t, c, owner, score)
            if self.min_format_ratio <= 0:
                return [(t, c, o) for t, c, o, _ in best]
            # Soft constraint: keep the format's read only when it is not much less likely than the
            # free read (a plate of a format not in the list must not be forced into one).
            free = ops.ctc_decode(probs, self.charset, self.blank, logits=self.logits)
            floor = float(np.log(self.min_format_ratio))
            out: list[tuple[str, np.ndarray, str | None]] = []
            for (t, c, o, score), (ft, fc) in zip(best, free, strict=True):
                free_score = float(np.log(np.clip(fc, 1e-9, 1.0)).sum())
                if o is not None and (t == ft or score - free_score >= floor):
                    out.append((t, c, o))
                else:
                    out.append((ft, fc, None))
            return out
        plain = ops.ctc_decode(probs, self.charset, self.blank, logits=self.logits)
        return [(t, c, None) for t, c in plain]


class PpOcrRecognizer(_CropRecognizer):
    """A PaddleOCR (PP-OCR) recognizer ONNX with its dictionary file (one character per line).

    Input float32 (N, 3, 48, W) BGR, (px/255 - 0.5)/0.5, width padded with 0; output (N, T, len(dict)+2):
    blank first, then the dictionary, then the space character.
    """

    def __init__(
        self, engine: Engine, dictionary: Sequence[str], *, height: int = 48, width: int = 320
    ) -> None:
        super().__init__(
            engine,
            height=height,
            width=width,
            gray=False,
            keep_aspect=True,
            mean=0.5,
            std=0.5,
            pad=0.0,
            layout="nchw",
            dtype=np.float32,
            use_corners=False,
            box_pad=0.0,
            bgr=True,
        )
        chars = [c for c in dictionary]
        if any(len(c) != 1 for c in chars):
            raise ModelLoadError("PP-OCR dictionary: expected one character per line")
        self.charset = "".join(chars) + " "
        _check_classes(engine, len(self.charset) + 1, f"dictionary ({len(chars)} entries + space + blank)")

    @classmethod
    def from_config(cls, cfg: OcrConfig, engine_cfg: EngineConfig | None) -> PpOcrRecognizer:
        """Needs ``cfg.model``; the dictionary comes from ``cfg.dict_path`` or, when that is unset, from
        the model's ``character`` metadata (as in the ONNX files of the ``rapidocr`` wheel)."""
        if cfg.model is None:
            raise ModelLoadError("ocr.format = 'ppocr' needs ocr.model (and ocr.dict_path unless embedded)")
        engine = create_engine(cfg.model, engine_cfg)
        if cfg.dict_path is not None:
            try:
                lines = Path(cfg.dict_path).read_text(encoding="utf-8").splitlines()
            except OSError as exc:
                raise ModelLoadError(f"cannot read PP-OCR dictionary {cfg.dict_path}: {exc}") from exc
        else:
            embedded = getattr(engine, "metadata", {}).get("character")
            if not embedded:
                raise ModelLoadError(f"{cfg.model} has no embedded dictionary: set ocr.dict_path")
            lines = embedded.splitlines()
        return cls(
            engine,
            [ln for ln in lines if ln != ""] if lines else [],
            height=cfg.height or 48,
            width=cfg.width or 320,
        )

    def _decode(
        self, probs: np.ndarray, regions: RegionSet | None
    ) -> list[tuple[str, np.ndarray, str | None]]:
        out = []
        for text, confs in ops.ctc_decode(probs, self.charset, 0):
            clean, cc = _clean(text, confs)
            region = None
            if regions is not None:
                clean, region = regions.resolve(clean)
            out.append((clean, cc, region))
        return out


class SlotRecognizer(_CropRecognizer):
    """A fast-plate-ocr fixed-slot model: input uint8 (N, H, W, C); output (N, slots*len(alphabet)) probs."""

    def __init__(
        self,
        engine: Engine,
        alphabet: str,
        *,
        pad_char: str = "_",
        height: int = 70,
        width: int = 140,
        channels: int = 1,
    ) -> None:
        super().__init__(
            engine,
            height=height,
            width=width,
            gray=channels == 1,
            keep_aspect=False,
            mean=0.0,
            std=1.0,
            pad=0.0,
            layout="nhwc",
            dtype=np.uint8,
            use_corners=False,
            box_pad=0.0,
        )
        if pad_char not in alphabet:
            raise ModelLoadError(f"slot OCR: pad_char {pad_char!r} is not in the alphabet {alphabet!r}")
        self.alphabet, self.pad_char = alphabet, pad_char
        out = engine.outputs[0]
        last = out.fixed(-1)
        if last is not None and last % len(alphabet) != 0:
            raise ModelLoadError(
                f"OCR model outputs {last} values per plate, "
                f"not a multiple of the alphabet size {len(alphabet)}"
            )

    @classmethod
    def from_config(cls, cfg: OcrConfig, engine_cfg: EngineConfig | None) -> SlotRecognizer:
        """Needs ``cfg.model`` and ``cfg.alphabet``."""
        if cfg.model is None or not cfg.alphabet:
            raise ModelLoadError("ocr.format = 'slot' needs ocr.model and ocr.alphabet")
        engine = create_engine(cfg.model, engine_cfg)
        spec = engine.inputs[0]
        return cls(
            engine,
            cfg.alphabet,
            pad_char=cfg.pad_char,
            height=cfg.height or spec.fixed(1) or 70,
            width=cfg.width or spec.fixed(2) or 140,
            channels=cfg.channels or spec.fixed(3) or 1,
        )

    def _decode(
        self, probs: np.ndarray, regions: RegionSet | None
    ) -> list[tuple[str, np.ndarray, str | None]]:
        n = len(self.alphabet)
        if probs.ndim == 2:
            if probs.shape[1] % n:
                raise EngineError(f"slot OCR output {probs.shape}: not a multiple of the alphabet size {n}")
            probs = probs.reshape(probs.shape[0], -1, n)
        if probs.shape[-1] != n:
            raise EngineError(f"slot OCR output {probs.shape}: last axis must be the alphabet size {n}")
        out = []
        for text, confs in ops.slot_decode(np.ascontiguousarray(probs), self.alphabet, self.pad_char):
            clean, cc = _clean(text, confs)
            region = None
            if regions is not None:
                clean, region = regions.resolve(clean)
            out.append((clean, cc, region))
        return out


def _build_recognizer(cfg: PipelineConfig) -> Recognizer:
    if cfg.ocr.format == "ppocr":
        return PpOcrRecognizer.from_config(cfg.ocr, cfg.engine)
    if cfg.ocr.format == "slot":
        return SlotRecognizer.from_config(cfg.ocr, cfg.engine)
    # The pipeline decides per call whether to constrain (it passes the formats or not).
    return CtcRecognizer.from_config(
        cfg.ocr, cfg.engine, constrain=True, min_format_ratio=cfg.regions.min_format_ratio
    )


def _charset_of(recognizer: Recognizer) -> str | None:
    for attr in ("charset", "alphabet"):
        val = getattr(recognizer, attr, None)
        if isinstance(val, str):
            return val
    return None


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
        self.recognizer = recognizer or _build_recognizer(cfg)
        charset = _charset_of(self.recognizer)
        self.regions: RegionSet | None = RegionSet.from_names(
            cfg.regions.enabled, cfg.regions.extra_files, charset=charset
        )
        if not len(self.regions):
            self.regions = None
        # Constrained decoding only when the user picked formats; otherwise formats only label reads.
        self._constrain = bool(cfg.regions.enabled) and cfg.regions.constrain
        self._min_conf = cfg.ocr.min_confidence

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
        """Detector stage only (frames must already be valid BGR uint8)."""
        return self.detector.detect(frames)

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
                    if self._constrain:
                        text_fixed, fmt = regions.resolve(text)
                        if fmt is not None and len(text_fixed) == len(confs):
                            text = text_fixed
                    else:
                        fmt = regions.match(text)
                if not text or (require and fmt is None):
                    continue
                cc = tuple(float(c) for c in np.asarray(confs, dtype=np.float32))
                conf = min(cc) if cc else 0.0
                if conf < self._min_conf:
                    continue
                x1, y1, x2, y2 = (float(v) for v in det.boxes[j])
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


class FrameResult:
    """What :class:`StreamRunner` yields for each processed frame (``frame`` is ``None`` for the final
    flush of a source that ended, which carries only its last events).

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
        self.trackers = {s.camera: Tracker(pipeline.config.tracking, s.camera) for s in self.sources}
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
        """OCR + tracking for one gathered round whose detections are ``dets`` (a list, an exception,
        or a Future of either)."""
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
