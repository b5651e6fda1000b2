"""ONNX Runtime engine: the default (CPU), with the CUDA / TensorRT execution providers where installed."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from alpr.engines.base import EngineSpecs, TensorSpec, normalize_inputs
from alpr.errors import EngineError, ModelLoadError

__all__ = ["OnnxRuntimeEngine", "default_providers"]

_ORT_DTYPES = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(double)": "float64",
    "tensor(uint8)": "uint8",
    "tensor(int8)": "int8",
    "tensor(int32)": "int32",
    "tensor(int64)": "int64",
    "tensor(bool)": "bool",
}

# Preference order when the caller does not choose: GPU providers first where the wheel has them.
_PREFERRED = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")


def _import_ort() -> Any:
    try:
        import onnxruntime
    except ImportError as exc:  # pragma: no cover - onnxruntime is a core dependency
        raise ImportError("ONNX Runtime is not installed: pip install onnxruntime") from exc
    return onnxruntime


def default_providers(available: Sequence[str] | None = None) -> list[str]:
    """Execution providers to use by default: CPU only unless ``ALPR_ORT_GPU=1``.

    GPU providers are opt-in because building a TensorRT EP engine takes minutes on first use.
    """
    if available is None:
        available = _import_ort().get_available_providers()
    if os.environ.get("ALPR_ORT_GPU", "") == "1":
        return [p for p in _PREFERRED if p in available]
    return ["CPUExecutionProvider"]


def _spec(arg: Any) -> TensorSpec:
    shape = tuple(d if isinstance(d, int) else (str(d) if d is not None else None) for d in arg.shape)
    return TensorSpec(name=str(arg.name), shape=shape, dtype=_ORT_DTYPES.get(str(arg.type), str(arg.type)))


class OnnxRuntimeEngine(EngineSpecs):
    """An ``onnxruntime.InferenceSession`` behind the :class:`~alpr.engines.Engine` protocol.

    Args:
        model: Path to an ``.onnx`` file (or the model bytes).
        providers: Execution providers in preference order; ``None`` = :func:`default_providers`.
            Providers not available in the installed wheel are dropped (CPU is always kept).
        intra_op_threads: Threads used inside one operator (``None``: ORT's default, one per core).
        inter_op_threads: Threads used across operators (``None``: ORT's default).
        allow_spinning: Let idle worker threads busy-wait (ORT's default; off frees the cores for
            video decoding running beside inference).

    Raises:
        ModelLoadError: the file is missing, corrupt or not an ONNX model.
    """

    def __init__(
        self,
        model: str | Path | bytes,
        *,
        providers: Sequence[str] | None = None,
        intra_op_threads: int | None = None,
        inter_op_threads: int | None = None,
        allow_spinning: bool = True,
    ) -> None:
        ort = _import_ort()
        available = ort.get_available_providers()
        chosen = default_providers(available) if providers is None else list(providers)
        chosen = [p for p in chosen if p in available] or ["CPUExecutionProvider"]
        options = ort.SessionOptions()
        if intra_op_threads is not None:
            options.intra_op_num_threads = int(intra_op_threads)
        if inter_op_threads is not None:
            options.inter_op_num_threads = int(inter_op_threads)
        options.log_severity_level = 3
        if not allow_spinning:
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        source: str | bytes = model if isinstance(model, bytes) else str(model)
        label = "<bytes>" if isinstance(model, bytes) else str(model)
        try:
            self._session = ort.InferenceSession(source, sess_options=options, providers=chosen)
        except Exception as exc:  # ORT raises its own non-exported exception classes
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelLoadError(f"cannot load ONNX model {label}: {first}") from exc
        self.path = label
        self.providers: list[str] = list(self._session.get_providers())
        self._inputs = [_spec(a) for a in self._session.get_inputs()]
        self._outputs = [_spec(a) for a in self._session.get_outputs()]
        self.metadata: dict[str, str] = dict(self._session.get_modelmeta().custom_metadata_map)

    def infer(self, inputs: Mapping[str, np.ndarray] | np.ndarray) -> list[np.ndarray]:
        """Run the model (thread-safe; ORT releases the GIL while it runs).

        Raises:
            EngineError: the runtime rejected the inputs (wrong shape or dtype).
        """
        feed = normalize_inputs(inputs, self._inputs)
        try:
            outs = self._session.run(None, feed)
        except Exception as exc:
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise EngineError(f"ONNX Runtime inference failed on {self.path}: {msg}") from exc
        return [np.asarray(o) for o in outs]

    def close(self) -> None:
        """Release the session."""
        self._session = None

    def __repr__(self) -> str:
        return f"OnnxRuntimeEngine({self.path!r}, providers={self.providers})"
