"""Build TensorRT engines from the exported ONNX models (TensorRT 10 Python API): FP32, FP16 or INT8.

TensorRT is optional (``pip install 'alpr-engine[tensorrt]'``, NVIDIA GPU needed) and imported lazily, so this
module imports anywhere. INT8 uses an ``IInt8EntropyCalibrator2`` fed by :class:`BatchSource` (float32
batches already preprocessed like the model input); the calibration cache is written next to the engine
and reused on the next build. For explicitly quantized (QDQ) ONNX files, INT8 needs no calibrator.

Example::

    from alpr.train.tensorrt_build import BatchSource, build_engine
    build_engine("models/plate_ocr.onnx", "plate_ocr.int8.engine", precision="int8",
                 calibration=BatchSource(x_calib, batch_size=32), shapes={"images": ((1, 3, 32, 128),
                 (32, 3, 32, 128), (256, 3, 32, 128))})
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["BatchSource", "build_engine", "import_tensorrt", "make_calibrator"]

_INSTALL = "TensorRT is not installed: pip install 'alpr-engine[tensorrt]' (needs an NVIDIA GPU and driver)"


def import_tensorrt() -> Any:
    """Import and return the ``tensorrt`` module.

    Raises:
        ImportError: TensorRT is missing, with the install hint.
    """
    try:
        import tensorrt as trt
    except ImportError as exc:
        raise ImportError(_INSTALL) from exc
    return trt


class BatchSource:
    """Fixed-size float32 batches for INT8 calibration.

    Args:
        x: float32 (N, C, H, W) preprocessed inputs; the last partial batch is dropped.
        batch_size: rows per batch.
    """

    def __init__(self, x: np.ndarray, batch_size: int = 32) -> None:
        if x.ndim != 4 or x.dtype != np.float32:
            raise ValueError(f"x: expected float32 (N, C, H, W), got {x.dtype} {x.shape}")
        if batch_size <= 0 or len(x) < batch_size:
            raise ValueError(f"batch_size: expected 1..{len(x)} (the number of inputs), got {batch_size}")
        self.x, self.batch_size = x, batch_size

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """The shape of every batch."""
        _n, c, h, w = self.x.shape
        return (self.batch_size, c, h, w)

    def __len__(self) -> int:
        return len(self.x) // self.batch_size

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(len(self)):
            yield np.ascontiguousarray(self.x[i * self.batch_size : (i + 1) * self.batch_size])


def make_calibrator(source: BatchSource, cache_file: str | os.PathLike[str]) -> Any:
    """An ``IInt8EntropyCalibrator2`` over ``source`` (device memory via cuda-python)."""
    trt = import_tensorrt()
    try:
        from cuda import cudart  # type: ignore[import-not-found,unused-ignore]
    except ImportError as exc:
        raise ImportError("cuda-python is not installed: pip install 'alpr-engine[tensorrt]'") from exc

    class _Calibrator(trt.IInt8EntropyCalibrator2):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self._it = iter(source)
            self._cache = Path(cache_file)
            nbytes = int(np.prod(source.shape)) * 4
            err, self._dev = cudart.cudaMalloc(nbytes)
            if err != cudart.cudaError_t.cudaSuccess:
                raise RuntimeError(f"cudaMalloc({nbytes}) failed: {err}")

        def get_batch_size(self) -> int:
            return source.batch_size

        def get_batch(self, names: list[str]) -> list[int] | None:
            batch = next(self._it, None)
            if batch is None:
                return None
            cudart.cudaMemcpy(
                self._dev, batch.ctypes.data, batch.nbytes, cudart.cudaMemcpyKind.cudaMemcpyHostToDevice
            )
            return [int(self._dev)]

        def read_calibration_cache(self) -> bytes | None:
            return self._cache.read_bytes() if self._cache.is_file() else None

        def write_calibration_cache(self, cache: bytes) -> None:
            self._cache.write_bytes(bytes(cache))

        def __del__(self) -> None:
            dev = getattr(self, "_dev", None)
            if dev is not None:
                cudart.cudaFree(dev)

    return _Calibrator()


def build_engine(
    onnx_path: str | os.PathLike[str],
    engine_path: str | os.PathLike[str],
    *,
    precision: str = "fp16",
    shapes: dict[str, tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]] | None = None,
    calibration: BatchSource | None = None,
    workspace_mb: int = 1024,
) -> Path:
    """Build and serialise a TensorRT engine.

    Args:
        onnx_path: the ONNX model.
        engine_path: the ``.engine`` file to write (``.calib`` cache beside it for INT8).
        precision: ``"fp32"``, ``"fp16"`` or ``"int8"`` (INT8 also enables FP16 for the layers that
            stay in float).
        shapes: dynamic-input profile ``{name: (min, opt, max)}``; required when the model has a dynamic
            batch axis.
        calibration: INT8 calibration batches (not needed for QDQ models).
        workspace_mb: builder workspace limit.

    Raises:
        ImportError: TensorRT is missing.
        ValueError: bad precision, or INT8 asked without calibration data.
        RuntimeError: the ONNX parser or the builder failed (their messages included).
    """
    if precision not in ("fp32", "fp16", "int8"):
        raise ValueError(f"precision: expected fp32, fp16 or int8, got {precision!r}")
    trt = import_tensorrt()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # TensorRT 10: explicit batch is the only mode
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(Path(onnx_path).read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise RuntimeError(f"ONNX parse failed for {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_mb << 20)
    if precision in ("fp16", "int8"):
        config.set_flag(trt.BuilderFlag.FP16)
    if precision == "int8":
        config.set_flag(trt.BuilderFlag.INT8)
        has_qdq = any(network.get_layer(i).type == trt.LayerType.QUANTIZE for i in range(network.num_layers))
        if not has_qdq:
            if calibration is None:
                raise ValueError("calibration: expected a BatchSource for INT8 of a non-QDQ model, got None")
            config.int8_calibrator = make_calibrator(calibration, Path(engine_path).with_suffix(".calib"))
    if shapes:
        profile = builder.create_optimization_profile()
        for name, (lo, opt, hi) in shapes.items():
            profile.set_shape(name, lo, opt, hi)
        config.add_optimization_profile(profile)
        if precision == "int8" and calibration is not None:
            config.set_calibration_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise RuntimeError(f"TensorRT build failed for {onnx_path} ({precision}); see the log above")
    target = Path(engine_path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(bytes(serialized))
    return target
