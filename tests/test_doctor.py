"""``alpr doctor``: real checks against the bundled models, copies of them made broken, and the disk."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from alpr import _models, doctor
from alpr.cli import main


@pytest.fixture
def models_copy(tmp_path: Path) -> Path:
    """A copy of the bundled models folder that a test may damage."""
    dst = tmp_path / "models"
    shutil.copytree(_models.models_dir(), dst, ignore=shutil.ignore_patterns("*.md"))
    return dst


def test_bundled_models_all_match() -> None:
    checks = doctor.check_models()
    assert checks and all(c.ok for c in checks), [c for c in checks if not c.ok]
    assert any(c.name == "model detector" for c in checks)


def test_corrupt_model_copy_fails_with_fix(models_copy: Path) -> None:
    target = models_copy / "plate_detector.onnx"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    bad = [c for c in doctor.check_models(models_copy) if not c.ok]
    assert [c.name for c in bad] == ["model detector"]
    assert "sha256 mismatch" in bad[0].detail and "reinstall" in bad[0].fix


def test_missing_model_file_and_missing_dir(models_copy: Path, tmp_path: Path) -> None:
    (models_copy / "plate_detector.fp16.onnx").unlink()
    bad = [c for c in doctor.check_models(models_copy) if not c.ok]
    assert [c.name for c in bad] == ["model detector.fp16"] and "missing" in bad[0].detail
    gone = doctor.check_models(tmp_path / "nowhere")
    assert len(gone) == 1 and not gone[0].ok and "manifest" in gone[0].detail


def test_disk_threshold(tmp_path: Path) -> None:
    free_mb = shutil.disk_usage(tmp_path).free / 1e6
    assert doctor.check_disk(tmp_path / "db" / "not-yet", min_free_mb=1)[0].ok
    full = doctor.check_disk(tmp_path, min_free_mb=free_mb * 10 + 1)[0]  # simulated full disk
    assert not full.ok and "MB free" in full.detail and full.fix


def test_clock_years() -> None:
    assert doctor.check_clock(dt.datetime(2026, 5, 1, tzinfo=dt.timezone.utc))[0].ok
    bad = doctor.check_clock(dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc))[0]
    assert not bad.ok and "NTP" in bad.fix


def test_providers_list_cpu() -> None:
    ort = doctor.check_providers()[0]
    assert ort.ok and "CPUExecutionProvider" in ort.detail


def test_source_image_ok_and_missing_file(tmp_path: Path) -> None:
    img = tmp_path / "a.png"
    cv2.imwrite(str(img), np.zeros((20, 30, 3), np.uint8))
    ok = doctor.check_source(str(img))[0]
    assert ok.ok and "30x20" in ok.detail
    bad = doctor.check_source(str(tmp_path / "nope.mp4"))[0]
    assert not bad.ok and "no such video file" in bad.detail


def test_cli_json_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--json", "--data", str(tmp_path), "--min-free-mb", "1"]) in (0, 1)
    rows = json.loads(capsys.readouterr().out)
    assert {"models", "onnxruntime", "disk", "clock"} & {r["name"].split()[0] for r in rows}
    failing = [r for r in rows if not r["ok"]]
    # Only an unsynchronised NTP on this machine may fail here; everything else is under the test's control.
    assert all(r["name"] == "ntp" for r in failing)
    rc = main(
        ["doctor", "--data", str(tmp_path), "--min-free-mb", "1e12", "--source", str(tmp_path / "x.mp4")]
    )
    out = capsys.readouterr()
    assert rc == 1 and "FAIL  disk" in out.out and "FAIL  source" in out.out
    assert "alpr: error:" in out.err
