"""alpr: edge-first automatic licence plate recognition.

Importing :mod:`alpr` is cheap: it never imports an inference runtime, ZeroMQ, MQTT or a web
framework. Those load lazily in the modules that need them.
"""

from __future__ import annotations

from alpr import errors, ops
from alpr._native import __version__

__all__ = ["__version__", "errors", "ops"]
