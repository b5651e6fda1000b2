"""``alpr export tensorrt``: FP16 / INT8 TensorRT engines from the detector and OCR ONNX models.

The engines are built by the TensorRT backend itself (:class:`alpr.engines.tensorrt.TensorRTEngine`, its
one builder :func:`~alpr.engines.tensorrt.build_plan`) into its engine cache, under the same key the
backend looks up at start, so ``engine.backend = "tensorrt"`` with the same precision and ``max_batch``
then starts without building. INT8 calibrates on images preprocessed exactly as at run time (the
detector's letterbox, the recognizer's crop) and keeps a calibration cache beside each engine; with the
cache present, a rebuild (another GPU or ``max_batch``) needs no images. ``out_dir`` also copies the
plans and caches out, named ``<model stem>.<precision>.engine`` / ``.calib``.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from alpr.config import EngineConfig, PipelineConfig
from alpr.errors import ConfigError

__all__ = ["MODELS", "ExportedEngine", "export_tensorrt"]

MODELS = ("detector", "ocr")


@dataclass(frozen=True, slots=True)
class ExportedEngine:
    """One engine ``alpr export tensorrt`` made or found.

    Attributes:
        model: ``"detector"`` or ``"ocr"``.
        precision: ``"fp32"``, ``"fp16"`` or ``"int8"``.
        onnx: The ONNX file it was built from.
        engine: The serialized plan in the engine cache.
        calibration_cache: INT8: the calibration cache (``None`` otherwise).
        built: ``False`` when the cache already held this engine.
        seconds: Time to build (or load) it.
        copied: The copy in ``out_dir``, if one was asked for.
    """

    model: str
    precision: str
    onnx: Path
    engine: Path
    calibration_cache: Path | None
    built: bool
    seconds: float
    copied: Path | None = None


def _model_and_tensor(kind: str, config: PipelineConfig) -> tuple[Path, Callable[[list[np.ndarray]], Any]]:
    """The FP32 ONNX file of ``kind`` and its run-time preprocessing (frames -> float32 NCHW batch).

    The preprocessing is taken from the CPU stage built from the same config, so calibration sees what
    inference sees.
    """
    from alpr import ops
    from alpr._models import bundled

    cpu = EngineConfig(intra_op_threads=1)
    if kind == "detector":
        from alpr.detector import Detector

        det = Detector.from_config(config.detector, cpu)
        path = config.detector.model or bundled("detector", "fp32")[0]
        size, pad = det.input_size, det.pad_value
        det.close()
        return Path(path), lambda frames: ops.letterbox_batch(frames, size, pad_value=pad)[0]
    from alpr.recognizers import build_recognizer

    rec: Any = build_recognizer(config.model_copy(update={"engine": cpu}))
    path = config.ocr.model or bundled("ocr", "fp32")[0]
    kw = rec.crop.kernel_args()
    rec.close()

    def crops(frames: list[np.ndarray]) -> np.ndarray:
        # Calibration images are plate crops: each whole image is one plate box.
        boxes = [np.array([[0, 0, f.shape[1], f.shape[0]]], np.float32) for f in frames]
        return np.concatenate([ops.crop_plates(f, b, **kw) for f, b in zip(frames, boxes, strict=True)])

    return Path(path), crops


def export_tensorrt(  # noqa: PLR0913 (keyword-only options of `alpr export`)
    *,
    models: Sequence[str] = MODELS,
    precision: str = "fp16",
    config: PipelineConfig | None = None,
    cache_dir: str | Path | None = None,
    calibration_images: dict[str, Path] | None = None,
    calibration_batches: int = 16,
    max_batch: int = 8,
    workspace_mib: int = 1024,
    out_dir: str | Path | None = None,
) -> list[ExportedEngine]:
    """Build (or find cached) TensorRT engines for ``models``.

    Args:
        models: Which of ``"detector"`` and ``"ocr"``.
        precision: ``"fp32"``, ``"fp16"`` or ``"int8"``.
        config: Which models (default: the bundled ones) and their preprocessing.
        cache_dir: The engine cache (default: the TensorRT backend's, ``$ALPR_CACHE_DIR/tensorrt``).
        calibration_images: INT8: ``{"detector": scenes folder, "ocr": plate crops folder}``; a model
            without images needs its calibration cache from an earlier export.
        calibration_batches: INT8: at most this many batches of 8 images.
        max_batch: The engines' largest batch (the backend's ``engine.max_batch`` must match to reuse them).
        workspace_mib: Builder workspace.
        out_dir: Also copy the engines (and calibration caches) here.

    Raises:
        ConfigError: an unknown model or precision.
        ImportError: TensorRT or cuda-python is missing (the message names the pip extra).
        EngineError: no GPU, INT8 without images or cache, or the build failed.
    """
    from alpr.detector import calibration_batches as batches_of
    from alpr.engines.tensorrt import TensorRTEngine, import_cudart, import_tensorrt

    bad = [m for m in models if m not in MODELS]
    if bad or not models:
        raise ConfigError(f"models: expected some of {', '.join(MODELS)}, got {', '.join(bad) or 'none'}")
    if precision not in ("fp32", "fp16", "int8"):
        raise ConfigError(f"precision: expected fp32, fp16 or int8, got {precision!r}")
    import_tensorrt()  # fail before any work, with the install hint
    import_cudart()
    cfg = config or PipelineConfig()
    images = calibration_images or {}
    out: list[ExportedEngine] = []
    for kind in models:
        onnx, to_tensor = _model_and_tensor(kind, cfg)
        calibration: Iterator[np.ndarray] | None = None
        if precision == "int8" and images.get(kind) is not None:
            calibration = batches_of(
                EngineConfig(
                    backend="tensorrt",
                    precision="int8",
                    calibration_images=images[kind],
                    calibration_batches=calibration_batches,
                ),
                to_tensor,
            )
        t0 = time.perf_counter()
        engine = TensorRTEngine(
            onnx,
            precision=precision,
            cache_dir=cache_dir,
            max_batch=max_batch,
            workspace_mib=workspace_mib,
            calibration=calibration,
        )
        seconds = time.perf_counter() - t0
        copied = None
        if out_dir is not None:
            folder = Path(out_dir)
            folder.mkdir(parents=True, exist_ok=True)
            copied = folder / f"{onnx.stem}.{precision}.engine"
            shutil.copyfile(engine.cache_path, copied)
            if engine.calibration_cache is not None and engine.calibration_cache.is_file():
                shutil.copyfile(engine.calibration_cache, copied.with_suffix(".calib"))
        out.append(
            ExportedEngine(
                kind,
                precision,
                onnx,
                engine.cache_path,
                engine.calibration_cache,
                engine.built,
                seconds,
                copied,
            )
        )
        engine.close()
    return out
