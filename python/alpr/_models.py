"""Locating the bundled models.

Order: ``$ALPR_MODELS_DIR``, then ``alpr/models`` in the package, then ``models/`` at the repo root.
"""

from __future__ import annotations

import json
import logging
import os
import platform
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from alpr.errors import ModelLoadError

if TYPE_CHECKING:
    from alpr.config import EngineConfig

__all__ = [
    "ARM_MACHINES",
    "ModelEntry",
    "ModelVariant",
    "bundled",
    "default_variant",
    "load_manifest",
    "models_dir",
    "variant_entries",
    "verify_sha",
]


log = logging.getLogger(__name__)

# ``platform.machine()`` of 64- and 32-bit ARM Linux (and macOS) CPUs.
ARM_MACHINES = frozenset({"aarch64", "arm64", "armv8l", "armv7l", "armv7", "armv6l"})


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
    """Manifest ``variants`` for files in ``folder``.

    The result is ``{name: {"file": ..., "sha256": ...}}``; the sha256 is None for a file that is not there
    yet.
    """
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


def default_variant(entry: ModelEntry, engine: EngineConfig | None) -> str | None:
    """The variant to load when the config names none (``None``: the FP32 file).

    ``"int8"`` for ONNX Runtime on the CPU of an ARM machine (Raspberry Pi class, Jetson CPU), where the int8
    convolution kernels pay. On x86 the INT8 files are no faster than FP32 (``benches/RESULTS.md``), and
    TensorRT, OpenVINO and GPU providers do their own precision, so they get the FP32 file.
    """
    cpu_ort = engine is None or (
        engine.backend == "onnxruntime" and engine.providers in (None, ["CPUExecutionProvider"])
    )
    if cpu_ort and platform.machine().lower() in ARM_MACHINES and "int8" in entry.variants:
        return "int8"
    return None


def bundled(
    kind: str, variant: str | None, *, engine: EngineConfig | None = None, auto: bool = False
) -> tuple[Path, ModelEntry]:
    """The file of bundled model ``kind`` (or its ``variant``), its sha256 checked, and its entry.

    Args:
        kind: ``"detector"`` or ``"ocr"``.
        variant: A manifest variant (``"int8"``, ``"fp16"``), ``"fp32"`` for the base file, or ``None``.
        engine: The engine the model is for (see ``auto``).
        auto: With ``variant=None``, pick :func:`default_variant` for ``engine`` and this CPU.

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
    if variant is None and auto:
        variant = default_variant(entry, engine)
        if variant:
            log.info("%s: %s model on this %s CPU", kind, variant, platform.machine())
    if variant and not (variant == "fp32" and "fp32" not in entry.variants):
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
