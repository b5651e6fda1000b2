"""Which bundled file loads when the config names no variant: INT8 on ARM CPUs with ONNX Runtime."""

from __future__ import annotations

import hashlib
import json
import platform
from pathlib import Path

import numpy as np
import pytest
from models import ctc_probs, make_ocr

import alpr
from alpr._models import ModelEntry, bundled, default_variant
from alpr.config import EngineConfig, load_config


def _add_int8_ocr(root: Path, text: str) -> None:
    """An ``int8`` OCR variant that reads ``text`` (the base file reads ABC1234)."""
    f = make_ocr(root / "plate_ocr.int8.onnx", ctc_probs(text))
    manifest = json.loads((root / "manifest.json").read_text())
    sha = hashlib.sha256(f.read_bytes()).hexdigest()
    manifest["models"]["ocr"]["variants"] = {"int8": {"file": f.name, "sha256": sha}}
    (root / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    ("machine", "expected"),
    [
        ("aarch64", "XYZ789"),
        ("armv7l", "XYZ789"),
        ("arm64", "XYZ789"),
        ("x86_64", "ABC1234"),
        ("AMD64", "ABC1234"),
    ],
)
def test_default_ocr_is_int8_on_arm_only(
    models_dir: Path, monkeypatch: pytest.MonkeyPatch, machine: str, expected: str
) -> None:
    _add_int8_ocr(models_dir, "XYZ789")
    monkeypatch.setattr(platform, "machine", lambda: machine)
    reads = alpr.Pipeline()(np.full((480, 640, 3), 90, np.uint8))
    assert [r.text for r in reads] == [expected]


def test_explicit_variant_wins_on_arm(models_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _add_int8_ocr(models_dir, "XYZ789")
    monkeypatch.setattr(platform, "machine", lambda: "aarch64")
    frame = np.full((480, 640, 3), 90, np.uint8)
    fp32 = alpr.Pipeline(config=load_config(None, ocr={"variant": "fp32"}))
    assert [r.text for r in fp32(frame)] == ["ABC1234"]
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    int8 = alpr.Pipeline(config=load_config(None, ocr={"variant": "int8"}))
    assert [r.text for r in int8(frame)] == ["XYZ789"]


def test_arm_without_int8_variant_keeps_fp32(models_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(platform, "machine", lambda: "aarch64")
    path, _ = bundled("detector", None, engine=None, auto=True)
    assert path.name == "plate_detector.onnx"


def test_default_variant_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    entry = ModelEntry(file="m.onnx", variants={"int8": {"file": "m.int8.onnx"}})  # type: ignore[dict-item]
    monkeypatch.setattr(platform, "machine", lambda: "aarch64")
    assert default_variant(entry, None) == "int8"
    assert default_variant(entry, EngineConfig()) == "int8"
    assert default_variant(entry, EngineConfig(providers=["CPUExecutionProvider"])) == "int8"
    # GPU providers, TensorRT and OpenVINO choose their own precision from the FP32 file.
    assert default_variant(entry, EngineConfig(providers=["CUDAExecutionProvider"])) is None
    assert default_variant(entry, EngineConfig(backend="tensorrt")) is None
    assert default_variant(entry, EngineConfig(backend="openvino")) is None
    assert default_variant(ModelEntry(file="m.onnx"), None) is None
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    assert default_variant(entry, None) is None


def test_bundled_manifest_has_int8_for_both_models() -> None:
    """The shipped manifest: both models have an INT8 file, so ARM CPUs get INT8 for both."""
    import alpr
    from alpr._models import load_manifest

    folder = Path(alpr.__file__).resolve().parent / "models"  # the installed package's (the wheel's) models
    _, manifest = load_manifest(folder)
    for kind in ("detector", "ocr"):
        entry = ModelEntry.model_validate(manifest["models"][kind])
        assert "int8" in entry.variants and (folder / entry.variants["int8"].file).is_file()
