"""The exceptions alpr raises. Everything derives from :class:`AlprError`.

Argument errors from the native kernels are plain ``ValueError`` / ``TypeError`` (they say expected
vs got); errors about data, models, engines and configuration use the classes below, several of
which also derive from ``ValueError`` so that generic handlers keep working.
"""

from __future__ import annotations

__all__ = [
    "AlprError",
    "ConfigError",
    "DecodeError",
    "EngineError",
    "ModelLoadError",
    "SourceError",
    "StoreError",
]


class AlprError(Exception):
    """Root of every alpr-specific error."""


class DecodeError(AlprError, ValueError):
    """Encoded input (a JPEG, a raw frame buffer, a video packet, an event) could not be decoded."""


class ModelLoadError(AlprError):
    """A model file is missing, corrupt, or does not match what its config says (shape, charset)."""


class EngineError(AlprError):
    """An inference runtime failed, or is not available on this machine."""


class ConfigError(AlprError, ValueError):
    """A configuration file or value is invalid."""


class SourceError(AlprError):
    """A frame source (file, folder, camera, stream) cannot be opened or read."""


class StoreError(AlprError):
    """The event store failed to read or write."""
