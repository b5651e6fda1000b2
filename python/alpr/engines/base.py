"""The :class:`Engine` protocol every inference runtime implements, and the engine factory.

An engine wraps one model file. It is created once and may be shared by several cameras: ``infer``
is safe to call from several threads at once (each runtime serialises internally where it must).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from alpr.errors import EngineError

if TYPE_CHECKING:
    pass

__all__ = ["Engine", "EngineSpecs", "TensorSpec", "file_sha256", "normalize_inputs"]

Dim = int | str | None


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """Name, shape and dtype of one model input or output.

    Attributes:
        name: The tensor name in the model graph.
        shape: One entry per axis: an ``int`` for a fixed size, a ``str`` (symbolic name) or
            ``None`` for a dynamic one.
        dtype: NumPy dtype name, e.g. ``"float32"``.
    """

    name: str
    shape: tuple[Dim, ...]
    dtype: str

    def fixed(self, axis: int) -> int | None:
        """Return the size of ``axis`` when it is fixed, else ``None``."""
        if axis >= len(self.shape) or axis < -len(self.shape):
            return None
        dim = self.shape[axis]
        return dim if isinstance(dim, int) and dim > 0 else None


@runtime_checkable
class Engine(Protocol):
    """An inference runtime holding one model.

    ``infer`` takes one array (for a single-input model) or a mapping of input name to array and
    returns the outputs in ``outputs`` order, as NumPy arrays owned by the caller.
    """

    @property
    def inputs(self) -> list[TensorSpec]:
        """The model's inputs, in the order the model declares them."""

    @property
    def outputs(self) -> list[TensorSpec]:
        """The model's outputs, in the order :meth:`infer` returns them."""

    def infer(self, inputs: Mapping[str, np.ndarray] | np.ndarray) -> list[np.ndarray]:
        """Run the model on one array (single-input model) or a name -> array mapping.

        Returns:
            The outputs, in :attr:`outputs` order, as NumPy arrays owned by the caller.

        Raises:
            EngineError: a missing or unexpected input, or the runtime failed.
        """

    def close(self) -> None:
        """Release the runtime's resources (sessions, device memory); the engine is unusable after."""


def normalize_inputs(
    inputs: Mapping[str, np.ndarray] | np.ndarray, specs: Sequence[TensorSpec]
) -> dict[str, np.ndarray]:
    """Turn the argument of :meth:`Engine.infer` into a name -> array mapping, checking names.

    Raises:
        EngineError: an array was given for a multi-input model, or a required input is missing.
    """
    if isinstance(inputs, np.ndarray):
        if len(specs) != 1:
            names = [s.name for s in specs]
            raise EngineError(f"model has {len(specs)} inputs {names}: pass a dict, got one array")
        return {specs[0].name: inputs}
    feed = dict(inputs)
    missing = [s.name for s in specs if s.name not in feed]
    if missing:
        raise EngineError(f"missing model inputs {missing}; got {sorted(feed)}")
    return feed


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class EngineSpecs:
    """The ``inputs`` / ``outputs`` properties every engine shares (copies of ``_inputs`` / ``_outputs``)."""

    _inputs: list[TensorSpec]
    _outputs: list[TensorSpec]

    @property
    def inputs(self) -> list[TensorSpec]:
        """Specs of the model inputs (``None`` marks a dynamic axis)."""
        return list(self._inputs)

    @property
    def outputs(self) -> list[TensorSpec]:
        """Specs of the model outputs, in the order ``infer`` returns them."""
        return list(self._outputs)
