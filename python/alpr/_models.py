"""Locating the bundled models.

Order: ``$ALPR_MODELS_DIR``, then ``alpr/models`` in the package, then ``models/`` at the repo root.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from alpr.errors import ModelLoadError

__all__ = ["bundled", "load_manifest", "models_dir", "verify_sha"]


def _candidates() -> list[Path]:
    out = []
    env = os.environ.get("ALPR_MODELS_DIR")
    if env:
        out.append(Path(env))
    here = Path(__file__).resolve().parent
    out.append(here / "models")
    out.append(here.parent.parent / "models")
    return out


def models_dir() -> Path:
    """The first candidate folder holding a ``manifest.json``.

    Raises:
        ModelLoadError: none of them does (the message lists where it looked).
    """
    cands = _candidates()
    for cand in cands:
        if (cand / "manifest.json").is_file():
            return cand
    looked = ", ".join(str(c) for c in cands)
    raise ModelLoadError(
        f"no bundled models found (looked for manifest.json in {looked}); set ALPR_MODELS_DIR"
    )


def load_manifest(root: Path | None = None) -> tuple[Path, dict[str, Any]]:
    """Read ``manifest.json``; returns ``(folder, manifest)``.

    Raises:
        ModelLoadError: missing or malformed manifest.
    """
    folder = root if root is not None else models_dir()
    path = folder / "manifest.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelLoadError(f"model manifest not found: {path}") from exc
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"cannot read model manifest {path}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("models"), dict):
        raise ModelLoadError(f"model manifest {path}: expected an object with a 'models' object")
    return folder, data


def verify_sha(path: Path, expected: str | None) -> None:
    from alpr.engines.base import file_sha256

    if expected and file_sha256(path) != expected:
        raise ModelLoadError(f"{path}: sha256 does not match models/manifest.json (corrupt or replaced file)")


def bundled(kind: str, variant: str | None) -> tuple[Path, dict[str, Any]]:
    folder, manifest = load_manifest()
    entry = manifest["models"].get(kind)
    if not isinstance(entry, dict) or "file" not in entry:
        raise ModelLoadError(f"{folder}/manifest.json has no '{kind}' model")
    name = entry["file"]
    if variant:
        variants = entry.get("variants") or {}
        if variant not in variants:
            raise ModelLoadError(f"{kind} model has no variant {variant!r}; available: {sorted(variants)}")
        name = variants[variant]
    path = folder / name
    if not path.is_file():
        raise ModelLoadError(f"bundled {kind} model missing: {path}")
    if not variant:
        verify_sha(path, entry.get("sha256"))
    return path, entry
