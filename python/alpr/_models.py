"""Locating the bundled models.

Order: ``$ALPR_MODELS_DIR``, then ``alpr/models`` in the package, then ``models/`` at the repo root.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from alpr.errors import ModelLoadError

__all__ = ["load_manifest", "models_dir"]


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
