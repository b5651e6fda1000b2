"""Native TensorRT engine (TensorRT 10 Python API, CUDA via cuda-python).

The engine is built from the ONNX file once by :func:`build_plan`, alpr's one TensorRT builder (FP32,
FP16, or INT8 with entropy calibration and a calibration cache; it is also what ``alpr export tensorrt``
runs), and the serialized plan is cached on disk, keyed by the model's sha256, the TensorRT version, the
GPU name, the precision and the batch limit, so a second start loads in milliseconds and a
driver/GPU/TensorRT change rebuilds. Inference uses preallocated pinned host buffers and device buffers
sized for ``max_batch``, one CUDA stream per engine, ``set_tensor_address`` and ``execute_async_v3``.

Install with ``pip install 'alpr-engine[tensorrt]'``. Verified here without a GPU: imports, cache keys, cache
load/build logic (with fake runtime modules). The CUDA path itself is covered by tests marked ``gpu``.
"""

from __future__ import annotations

import ctypes
import itertools
import logging
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from alpr.engines.base import EngineSpecs, TensorSpec, file_sha256, normalize_inputs
from alpr.errors import EngineError, ModelLoadError

__all__ = [
    "TensorRTEngine",
    "build_plan",
    "calibration_cache_path",
    "default_cache_dir",
    "engine_cache_path",
    "import_cudart",
    "import_tensorrt",
    "load_or_build",
]

log = logging.getLogger(__name__)

_INSTALL_HINT = "pip install 'alpr-engine[tensorrt]'"


def import_tensorrt() -> Any:
    """Import the ``tensorrt`` module or raise ImportError naming the extra to install."""
    try:
        import tensorrt
    except ImportError as exc:
        raise ImportError(
            f"the TensorRT backend needs the tensorrt package (and an NVIDIA GPU): {_INSTALL_HINT}"
        ) from exc
    return tensorrt


def import_cudart() -> Any:
    """Import the CUDA runtime bindings of cuda-python (12.x layouts old and new)."""
    try:
        from cuda.bindings import runtime as cudart
    except ImportError:
        try:
            from cuda import cudart  # cuda-python < 12.6
        except ImportError as exc:
            raise ImportError(f"the TensorRT backend needs cuda-python: {_INSTALL_HINT}") from exc
    return cudart


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-") or "unknown"


def default_cache_dir() -> Path:
    """``$ALPR_CACHE_DIR/tensorrt`` or ``~/.cache/alpr/tensorrt``."""
    root = os.environ.get("ALPR_CACHE_DIR") or os.path.join(Path.home(), ".cache", "alpr")
    return Path(root) / "tensorrt"


def engine_cache_path(
    model_sha256: str,
    *,
    cache_dir: str | Path,
    trt_version: str,
    gpu_name: str,
    precision: str,
    max_batch: int,
) -> Path:
    """Where the serialized engine for this model/runtime/GPU/precision combination lives."""
    name = f"{model_sha256[:16]}-trt{_slug(trt_version)}-{_slug(gpu_name)}-{precision}-b{max_batch}.engine"
    return Path(cache_dir) / name


def calibration_cache_path(model_sha256: str, *, cache_dir: str | Path, trt_version: str) -> Path:
    """Where the INT8 calibration cache of this model lives.

    It is shared by every GPU and batch limit (the cache holds per-tensor scales, which depend on neither),
    not across TensorRT versions.
    """
    return Path(cache_dir) / f"{model_sha256[:16]}-trt{_slug(trt_version)}-int8.calib"


def load_or_build(path: Path, build: Callable[[], bytes]) -> tuple[bytes, bool]:
    """Return the cached plan at ``path``, or build it, write it atomically and return it.

    Returns:
        ``(plan, built)``: ``built`` is ``True`` when ``build`` ran.
    """
    if path.is_file() and path.stat().st_size > 0:
        return path.read_bytes(), False
    plan = build()
    if not plan:
        raise EngineError("TensorRT returned an empty engine")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_bytes(plan)
    os.replace(tmp, path)
    return plan, True


def _check(result: Any, what: str) -> Any:
    """cuda-python calls return ``(err, *values)``; raise on a non-zero error."""
    err = result[0]
    if int(err) != 0:
        raise EngineError(f"CUDA {what} failed: {err}")
    values = result[1:]
    return values[0] if len(values) == 1 else values


class _PinnedBuffer:
    """A pinned host buffer plus a device buffer of the same byte size."""

    def __init__(self, cudart: Any, nbytes: int, dtype: np.dtype[Any]) -> None:
        self._cudart = cudart
        self.nbytes = max(int(nbytes), 1)
        self.host_ptr = int(_check(cudart.cudaMallocHost(self.nbytes), "cudaMallocHost"))
        self.device_ptr = int(_check(cudart.cudaMalloc(self.nbytes), "cudaMalloc"))
        raw = (ctypes.c_byte * self.nbytes).from_address(self.host_ptr)
        self.host = np.frombuffer(memoryview(raw).cast("B"), dtype=dtype)

    def free(self) -> None:
        self._cudart.cudaFreeHost(self.host_ptr)
        self._cudart.cudaFree(self.device_ptr)


class TensorRTEngine(EngineSpecs):
    """A TensorRT engine behind the :class:`~alpr.engines.Engine` protocol.

    Args:
        model: ONNX file to build from.
        precision: ``"fp32"``, ``"fp16"`` or ``"int8"`` (INT8 also enables FP16 fallback).
        cache_dir: Where serialized engines are cached (default :func:`default_cache_dir`).
        max_batch: Largest batch the optimisation profile accepts (dynamic batch axes only).
        workspace_mib: Builder workspace limit.
        calibration: For INT8: batches shaped like the model input, e.g. letterboxed frames.

    Raises:
        ImportError: tensorrt or cuda-python is not installed.
        ModelLoadError: the ONNX file cannot be parsed.
        EngineError: no CUDA device, or the build failed.
    """

    def __init__(
        self,
        model: str | Path,
        *,
        precision: str = "fp16",
        cache_dir: str | Path | None = None,
        max_batch: int = 8,
        workspace_mib: int = 1024,
        calibration: Iterable[np.ndarray] | None = None,
    ) -> None:
        trt = import_tensorrt()
        cudart = import_cudart()
        self._trt, self._cudart = trt, cudart
        self.path = Path(model)
        if precision not in ("fp32", "fp16", "int8"):
            raise EngineError(f"precision: expected fp32, fp16 or int8, got {precision!r}")
        self.precision = precision
        self.max_batch = int(max_batch)
        self._lock = threading.Lock()
        props = _check(cudart.cudaGetDeviceProperties(0), "cudaGetDeviceProperties")
        gpu = props.name.decode(errors="replace") if isinstance(props.name, bytes) else str(props.name)
        sha, folder, version = file_sha256(self.path), cache_dir or default_cache_dir(), str(trt.__version__)
        self.cache_path = engine_cache_path(
            sha,
            cache_dir=folder,
            trt_version=version,
            gpu_name=gpu,
            precision=precision,
            max_batch=self.max_batch,
        )
        self.calibration_cache = (
            calibration_cache_path(sha, cache_dir=folder, trt_version=version)
            if precision == "int8"
            else None
        )
        self._logger = trt.Logger(trt.Logger.WARNING)
        plan, self.built = load_or_build(
            self.cache_path,
            lambda: build_plan(
                trt,
                self.path,
                logger=self._logger,
                precision=precision,
                max_batch=self.max_batch,
                workspace_mib=workspace_mib,
                calibration=calibration,
                calibration_cache=self.calibration_cache,
                cudart=cudart,
            ),
        )
        log.info("TensorRT engine %s (%s)", self.cache_path, "built" if self.built else "cached")
        self._runtime = trt.Runtime(self._logger)
        self._engine = self._runtime.deserialize_cuda_engine(plan)
        if self._engine is None:
            raise EngineError(f"cannot deserialize TensorRT engine {self.cache_path}; delete it to rebuild")
        self._context = self._engine.create_execution_context()
        self._stream = _check(cudart.cudaStreamCreate(), "cudaStreamCreate")
        self._inputs: list[TensorSpec] = []
        self._outputs: list[TensorSpec] = []
        self._buffers: dict[str, _PinnedBuffer] = {}
        for i in range(self._engine.num_io_tensors):
            name = self._engine.get_tensor_name(i)
            dtype = np.dtype(trt.nptype(self._engine.get_tensor_dtype(name)))
            shape = tuple(int(d) for d in self._engine.get_tensor_shape(name))
            spec = TensorSpec(name, tuple(d if d >= 0 else None for d in shape), dtype.name)
            is_input = self._engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
            (self._inputs if is_input else self._outputs).append(spec)
            if is_input and any(d < 0 for d in shape):
                max_shape = tuple(self._engine.get_tensor_profile_shape(name, 0)[2])
            elif not is_input:
                max_shape = tuple(self.max_batch if d < 0 else d for d in shape)
            else:
                max_shape = shape
            count = int(np.prod([max(int(d), 1) for d in max_shape]))
            self._buffers[name] = _PinnedBuffer(cudart, count * dtype.itemsize, dtype)
            self._context.set_tensor_address(name, self._buffers[name].device_ptr)

    def infer(self, inputs: Mapping[str, np.ndarray] | np.ndarray) -> list[np.ndarray]:
        """Copy inputs to the pinned buffers, run on the engine's stream, copy outputs back."""
        feed = normalize_inputs(inputs, self._inputs)
        cudart = self._cudart
        h2d = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice
        d2h = cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        with self._lock:
            for spec in self._inputs:
                arr = np.ascontiguousarray(feed[spec.name], dtype=spec.dtype)
                buf = self._buffers[spec.name]
                if arr.nbytes > buf.nbytes:
                    raise EngineError(
                        f"input {spec.name}: batch of shape {arr.shape} exceeds max_batch={self.max_batch}"
                    )
                buf.host[: arr.size] = arr.ravel()
                self._context.set_input_shape(spec.name, arr.shape)
                _check(
                    cudart.cudaMemcpyAsync(buf.device_ptr, buf.host_ptr, arr.nbytes, h2d, self._stream),
                    "cudaMemcpyAsync",
                )
            if not self._context.execute_async_v3(int(self._stream)):
                raise EngineError(f"TensorRT execution failed on {self.path}")
            shapes = []
            for spec in self._outputs:
                shape = tuple(int(d) for d in self._context.get_tensor_shape(spec.name))
                buf = self._buffers[spec.name]
                nbytes = int(np.prod(shape)) * np.dtype(spec.dtype).itemsize
                _check(
                    cudart.cudaMemcpyAsync(buf.host_ptr, buf.device_ptr, nbytes, d2h, self._stream),
                    "cudaMemcpyAsync",
                )
                shapes.append(shape)
            _check(cudart.cudaStreamSynchronize(self._stream), "cudaStreamSynchronize")
            return [
                self._buffers[s.name].host[: int(np.prod(shape))].reshape(shape).copy()
                for s, shape in zip(self._outputs, shapes, strict=True)
            ]

    def close(self) -> None:
        """Free the buffers and the stream."""
        for buf in self._buffers.values():
            buf.free()
        self._buffers.clear()
        self._cudart.cudaStreamDestroy(self._stream)


def _peek(batches: Iterable[np.ndarray] | None) -> tuple[np.ndarray | None, Iterator[np.ndarray]]:
    """The first batch and an iterator over all of them (the first included)."""
    it = iter(batches or ())
    first = next(it, None)
    return first, (it if first is None else itertools.chain([first], it))


def build_plan(  # noqa: PLR0913 (keyword-only options of the TensorRT builder)
    trt: Any,
    onnx_path: Path,
    *,
    logger: Any,
    precision: str,
    max_batch: int = 8,
    workspace_mib: int = 1024,
    calibration: Iterable[np.ndarray] | None = None,
    calibration_cache: Path | None = None,
    cudart: Any = None,
) -> bytes:
    """Build a serialized TensorRT engine from an ONNX file (TensorRT 10: explicit batch).

    A dynamic batch axis gets the profile ``(1, max_batch // 2, max_batch)``. FP16 sets the FP16 flag;
    INT8 sets INT8 and FP16 (layers without INT8 kernels fall back to FP16). An explicitly quantized
    (QDQ) network needs no calibrator; otherwise an ``IInt8EntropyCalibrator2`` reads
    ``calibration_cache`` when it exists (TensorRT then skips the data) and writes it after calibrating
    on ``calibration``: float32 batches ``(N, C, H, W)`` preprocessed like the model input, all of the
    first batch's shape (others are skipped), which also fixes the calibration profile.

    Raises:
        ModelLoadError: TensorRT cannot parse the file.
        EngineError: a bad precision, INT8 with neither data nor a cache, or the build failed.
    """
    if precision not in ("fp32", "fp16", "int8"):
        raise EngineError(f"precision: expected fp32, fp16 or int8, got {precision!r}")
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_path.read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ModelLoadError(f"TensorRT cannot parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_mib) << 20)
    dynamic = [network.get_input(i) for i in range(network.num_inputs)]
    dynamic = [t for t in dynamic if any(d < 0 for d in t.shape)]
    if dynamic:  # a static network takes no profile
        profile = builder.create_optimization_profile()
        for tensor in dynamic:
            shape = list(tensor.shape)

            def fill(batch: int, dims: list[int] = shape) -> list[int]:
                return [batch if (j == 0 and d < 0) else (1 if d < 0 else d) for j, d in enumerate(dims)]

            profile.set_shape(tensor.name, fill(1), fill(max(1, max_batch // 2)), fill(max_batch))
        config.add_optimization_profile(profile)
    if precision in ("fp16", "int8"):
        config.set_flag(trt.BuilderFlag.FP16)
    if precision == "int8":
        config.set_flag(trt.BuilderFlag.INT8)
        qdq = any(network.get_layer(i).type == trt.LayerType.QUANTIZE for i in range(network.num_layers))
        if not qdq:
            first, batches = _peek(calibration)
            cached = calibration_cache is not None and calibration_cache.is_file()
            if first is None and not cached:
                raise EngineError(
                    f"INT8 for {onnx_path.name} needs calibration images or a calibration cache "
                    f"({calibration_cache or 'none given'})"
                )
            calib_shape = tuple(first.shape) if first is not None else None
            config.int8_calibrator = _make_calibrator(trt, cudart, batches, calibration_cache, calib_shape)
            if dynamic:
                calib = builder.create_optimization_profile()
                for tensor in dynamic:  # calibration runs at the profile's opt shape: the batches' shape
                    dims = list(calib_shape) if calib_shape else [1 if d < 0 else d for d in tensor.shape]
                    calib.set_shape(tensor.name, dims, dims, dims)
                config.set_calibration_profile(calib)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise EngineError(f"TensorRT failed to build an engine from {onnx_path} ({precision}); see its log")
    return bytes(plan)


def _make_calibrator(
    trt: Any,
    cudart: Any,
    batches: Iterable[np.ndarray],
    cache: Path | None,
    shape: tuple[int, ...] | None,
) -> Any:
    """An ``IInt8EntropyCalibrator2`` feeding ``batches`` of ``shape``.

    Defined here because its base class needs ``trt``. The cache is read first and written after calibrating.
    """

    class _Calibrator(trt.IInt8EntropyCalibrator2):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self._iter = iter(batches)
            self._dptr: int | None = None
            self._nbytes = 0
            self.batches = 0

        def get_batch_size(self) -> int:
            return int(shape[0]) if shape else 1

        def get_batch(self, names: list[str]) -> list[int] | None:
            for batch in self._iter:
                arr = np.ascontiguousarray(batch, dtype=np.float32)
                if arr.shape != shape:
                    log.warning("calibration batch %s skipped: expected %s", arr.shape, shape)
                    continue
                if self._dptr is None:
                    self._dptr = int(_check(cudart.cudaMalloc(arr.nbytes), "cudaMalloc"))
                    self._nbytes = arr.nbytes
                kind = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice
                _check(cudart.cudaMemcpy(self._dptr, arr.ctypes.data, arr.nbytes, kind), "cudaMemcpy")
                self.batches += 1
                return [self._dptr]
            if self._dptr is not None:
                cudart.cudaFree(self._dptr)
                self._dptr = None
            return None

        def read_calibration_cache(self) -> bytes | None:
            return cache.read_bytes() if cache is not None and cache.is_file() else None

        def write_calibration_cache(self, data: Any) -> None:
            if cache is not None:
                cache.parent.mkdir(parents=True, exist_ok=True)
                cache.write_bytes(bytes(data))

    return _Calibrator()
