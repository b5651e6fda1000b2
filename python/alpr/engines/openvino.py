"""OpenVINO engine (Intel CPUs, iGPUs and NPUs). Install with ``pip install 'alpr-engine[openvino]'``."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from alpr.engines.base import EngineSpecs, TensorSpec, normalize_inputs
from alpr.errors import EngineError, ModelLoadError

__all__ = ["OpenVINOEngine", "import_openvino"]


def import_openvino() -> Any:
    """Import ``openvino`` or raise ImportError naming the extra to install."""
    try:
        import openvino
    except ImportError as exc:
        raise ImportError(
            "the OpenVINO backend needs the openvino package: pip install 'alpr-engine[openvino]'"
        ) from exc
    return openvino


def _dims(partial_shape: Any) -> tuple[int | None, ...]:
    return tuple(int(d.get_length()) if d.is_static else None for d in partial_shape)


class OpenVINOEngine(EngineSpecs):
    """An OpenVINO compiled model behind the :class:`~alpr.engines.Engine` protocol.

    Args:
        model: ONNX (or OpenVINO IR ``.xml``) file.
        device: OpenVINO device name (``"CPU"``, ``"GPU"``, ``"NPU"``, ``"AUTO"``).
        threads: CPU inference threads (``None``: OpenVINO's default).
    """

    def __init__(self, model: str | Path, *, device: str = "CPU", threads: int | None = None) -> None:
        ov = import_openvino()
        self.path = str(model)
        core = ov.Core()
        config: dict[str, Any] = {}
        if threads is not None and device.upper() == "CPU":
            config["INFERENCE_NUM_THREADS"] = int(threads)
        try:
            compiled = core.compile_model(self.path, device, config)
        except Exception as exc:
            raise ModelLoadError(f"OpenVINO cannot load {self.path}: {exc}") from exc
        self._compiled = compiled
        self._local = threading.local()  # one infer request per thread: requests are not thread-safe
        self._inputs = [
            TensorSpec(p.get_any_name(), _dims(p.get_partial_shape()), p.get_element_type().to_dtype().name)
            for p in compiled.inputs
        ]
        self._outputs = [
            TensorSpec(p.get_any_name(), _dims(p.get_partial_shape()), p.get_element_type().to_dtype().name)
            for p in compiled.outputs
        ]

    def infer(self, inputs: Mapping[str, np.ndarray] | np.ndarray) -> list[np.ndarray]:
        """Run synchronously on this thread's infer request."""
        feed = normalize_inputs(inputs, self._inputs)
        request = getattr(self._local, "request", None)
        if request is None:
            request = self._compiled.create_infer_request()
            self._local.request = request
        try:
            result = request.infer(feed)
        except Exception as exc:
            raise EngineError(f"OpenVINO inference failed on {self.path}: {exc}") from exc
        return [np.array(result[out]) for out in self._compiled.outputs]

    def close(self) -> None:
        """Drop the compiled model."""
        self._compiled = None
