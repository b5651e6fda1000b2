"""Inference engines: a registry of runtimes, each imported only by its own module, when first used.

``create_engine(model, config)`` opens an ONNX file with the runtime ``config.backend`` names. A runtime
registers a factory ``(path, config, calibration) -> Engine`` under its backend name; the built-in ones
(``onnxruntime``, ``tensorrt``, ``openvino``) are registered here and import their library lazily.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from alpr.engines.base import Engine, TensorSpec
from alpr.errors import EngineError, ModelLoadError

if TYPE_CHECKING:
    from alpr.config import EngineConfig

__all__ = ["ENGINES", "Engine", "TensorSpec", "create_engine", "register_engine"]

EngineFactory = Callable[[Path, "EngineConfig", "Iterable[np.ndarray] | None"], Engine]
ENGINES: dict[str, EngineFactory] = {}
"""Backend name -> factory."""


def register_engine(name: str) -> Callable[[EngineFactory], EngineFactory]:
    """Decorator: register an engine factory under the backend ``name``."""

    def deco(factory: EngineFactory) -> EngineFactory:
        ENGINES[name] = factory
        return factory

    return deco


@register_engine("onnxruntime")
def _onnxruntime(path: Path, cfg: EngineConfig, calibration: Iterable[np.ndarray] | None) -> Engine:
    from alpr.engines.onnxruntime import OnnxRuntimeEngine

    return OnnxRuntimeEngine(
        path,
        providers=cfg.providers,
        intra_op_threads=cfg.intra_op_threads,
        inter_op_threads=cfg.inter_op_threads,
        allow_spinning=cfg.allow_spinning,
    )


@register_engine("tensorrt")
def _tensorrt(path: Path, cfg: EngineConfig, calibration: Iterable[np.ndarray] | None) -> Engine:
    from alpr.engines.tensorrt import TensorRTEngine

    return TensorRTEngine(
        path,
        precision=cfg.precision,
        cache_dir=cfg.cache_dir,
        max_batch=cfg.max_batch,
        workspace_mib=cfg.workspace_mib,
        calibration=calibration,
    )


@register_engine("openvino")
def _openvino(path: Path, cfg: EngineConfig, calibration: Iterable[np.ndarray] | None) -> Engine:
    from alpr.engines.openvino import OpenVINOEngine

    return OpenVINOEngine(path, device=cfg.device, threads=cfg.intra_op_threads)


def create_engine(
    model: str | Path, config: EngineConfig | None = None, *, calibration: Iterable[np.ndarray] | None = None
) -> Engine:
    """Open ``model`` (an ONNX file) with the runtime named by ``config.backend``.

    Args:
        model: Path to an ``.onnx`` file.
        config: Backend and its options; ``None`` means ONNX Runtime on the CPU.
        calibration: Input batches for TensorRT INT8 calibration (ignored by the other backends).

    Raises:
        ModelLoadError: the file is missing or is not a valid model.
        EngineError: no engine is registered under ``config.backend``.
        ImportError: the runtime is not installed (the message names the pip extra).
    """
    from alpr.config import EngineConfig

    cfg = config or EngineConfig()
    path = Path(model)
    if not path.is_file():
        raise ModelLoadError(f"model file not found: {path}")
    factory = ENGINES.get(cfg.backend)
    if factory is None:
        raise EngineError(f"unknown engine backend {cfg.backend!r}; registered: {sorted(ENGINES)}")
    return factory(path, cfg, calibration)
