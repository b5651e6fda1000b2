"""alpr: edge-first automatic licence plate recognition.

Importing :mod:`alpr` is cheap: it never imports an inference runtime, ZeroMQ, MQTT or a web
framework. Those load lazily in the modules that need them.

    >>> import alpr, cv2                                    # doctest: +SKIP
    >>> pipe = alpr.Pipeline()                              # bundled models, ONNX Runtime CPU
    >>> [(r.text, r.confidence) for r in pipe(cv2.imread("car.jpg"))]  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alpr import errors, ops
from alpr._native import __version__

if TYPE_CHECKING:
    from alpr.config import PipelineConfig, load_config
    from alpr.pipeline import Pipeline, StreamRunner
    from alpr.sources import Frame, PushSource, open_source
    from alpr.tracking import Tracker, VehicleEvent
    from alpr.types import PlateRead

__all__ = [
    "Frame",
    "Pipeline",
    "PipelineConfig",
    "PlateRead",
    "PushSource",
    "StreamRunner",
    "Tracker",
    "VehicleEvent",
    "__version__",
    "errors",
    "load_config",
    "open_source",
    "ops",
]

# Public names resolved on first use, so `import alpr` stays cheap (no pydantic / OpenCV at import).
_LAZY = {
    "Frame": "alpr.sources",
    "Pipeline": "alpr.pipeline",
    "PipelineConfig": "alpr.config",
    "PlateRead": "alpr.types",
    "PushSource": "alpr.sources",
    "StreamRunner": "alpr.pipeline",
    "Tracker": "alpr.tracking",
    "VehicleEvent": "alpr.tracking",
    "load_config": "alpr.config",
    "open_source": "alpr.sources",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'alpr' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
