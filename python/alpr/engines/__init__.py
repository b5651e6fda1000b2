"""Inference engines. Each runtime is imported only by its own module, when first used."""

from __future__ import annotations

from alpr.engines.base import Engine, TensorSpec, create_engine

__all__ = ["Engine", "TensorSpec", "create_engine"]
