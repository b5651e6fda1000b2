"""Locating the bundled models.

Order: ``$ALPR_MODELS_DIR``, then ``alpr/models`` in the package, then ``models/`` at the repo root.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from alpr.errors import ModelLoadError

__all__ = [
    "ModelEntry",
    "ModelVariant",
    "bundled",
    "load_manifest",
    "models_dir",
    "variant_entries",
    "verify_sha",
]


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


class ModelVariant(BaseModel):
    """Another precision of a bundled model: its file (beside the manifest) and sha256."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str
    sha256: str | None = None


class ModelEntry(BaseModel):
    """One ``models/manifest.json`` entry (``detector``, ``ocr``), validated; extra keys are kept."""

    model_config = ConfigDict(extra="allow", frozen=True)

    file: str
    sha256: str | None = None
    format: str = ""
    version: str | None = None
    arch: str | None = None
    charset: str | None = None
    input: dict[str, Any] = Field(default_factory=dict)
    output: dict[str, Any] = Field(default_factory=dict)
    variants: dict[str, ModelVariant] = Field(default_factory=dict)

    @field_validator("variants", mode="before")
    @classmethod
    def _variant_names(cls, value: Any) -> Any:
        # Manifests before 0.3.0 give a variant as its file name only.
        if isinstance(value, dict):
            return {k: {"file": v} if isinstance(v, str) else v for k, v in value.items()}
        return value


def variant_entries(folder: Path, names: dict[str, str]) -> dict[str, dict[str, str | None]]:
    """Manifest ``variants`` for files in ``folder``: ``{name: {"file": ..., "sha256": ...}}`` (the sha256
    is None for a file that is not there yet)."""
    from alpr.engines.base import file_sha256

    return {
        k: {"file": f, "sha256": file_sha256(folder / f) if (folder / f).is_file() else None}
        for k, f in names.items()
    }


def verify_sha(path: Path, expected: str | None) -> None:
    """Raise :class:`ModelLoadError` when ``path``'s sha256 is not ``expected`` (None: not checked)."""
    from alpr.engines.base import file_sha256

    if expected and file_sha256(path) != expected:
        raise ModelLoadError(f"{path}: sha256 does not match models/manifest.json (corrupt or replaced file)")


def bundled(kind: str, variant: str | None) -> tuple[Path, ModelEntry]:
    """The file of bundled model ``kind`` (or its ``variant``), its sha256 checked, and its entry.

    Raises:
        ModelLoadError: no such model or variant, a malformed entry, a missing or altered file.
    """
    folder, manifest = load_manifest()
    raw = manifest.get("models", {}).get(kind)
    if not isinstance(raw, dict) or "file" not in raw:
        raise ModelLoadError(f"{folder}/manifest.json has no '{kind}' model")
    try:
        entry = ModelEntry.model_validate(raw)
    except ValidationError as exc:
        raise ModelLoadError(f"{folder}/manifest.json: invalid '{kind}' entry: {exc}") from exc
    name, sha = entry.file, entry.sha256
    if variant:
        if variant not in entry.variants:
            raise ModelLoadError(
                f"{kind} model has no variant {variant!r}; available: {sorted(entry.variants)}"
            )
        name, sha = entry.variants[variant].file, entry.variants[variant].sha256
    path = folder / name
    if not path.is_file():
        raise ModelLoadError(f"bundled {kind} model missing: {path}")
    verify_sha(path, sha)
    return path, entry
