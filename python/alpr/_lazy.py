"""Lazy package exports (PEP 562): a package names what it offers without importing it up front."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any

__all__ = ["by_module", "lazy_getattr"]


def lazy_getattr(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` resolving ``exports`` (name -> defining module) on first use."""

    def __getattr__(name: str) -> Any:
        if name in exports:
            return getattr(import_module(exports[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__


def by_module(package: str, modules: Mapping[str, str]) -> dict[str, str]:
    """Build the ``exports`` of :func:`lazy_getattr` (name -> defining module).

    ``modules`` maps each module to the names it defines, separated by spaces; a module starting with ``.`` is
    inside ``package``.
    """
    return {
        name: package + mod if mod.startswith(".") else mod
        for mod, names in modules.items()
        for name in names.split()
    }
