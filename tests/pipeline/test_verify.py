"""The read verifier: phantom plates (timestamps, overlay strips, unsure reads) are dropped."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from alpr.config import VerifyConfig, load_config
from alpr.pipeline import Pipeline
from alpr.verify import plate_score, verify_read

CFG = VerifyConfig()
PLATE_BOX = (100.0, 100.0, 220.0, 140.0)  # 3:1, a plate's shape


@pytest.mark.parametrize(
    ("text", "confs", "fmt", "det", "box", "kept"),
    [
        ("ABC1234", [0.95] * 7, None, 0.8, PLATE_BOX, True),
        ("ABC1234", [0.95] * 7, "br-old", 0.3, PLATE_BOX, True),  # a format fit vouches for it
        ("20140620104652", [0.99] * 14, None, 0.9, PLATE_BOX, False),  # timestamp: too long
        ("OI40617123", [0.99] * 10, None, 0.9, PLATE_BOX, False),  # 8+ digits and no format
        ("ABC", [0.99] * 3, None, 0.9, PLATE_BOX, False),  # too short to be a plate
        ("ABC1234", [0.95] * 7, None, 0.8, (0.0, 0.0, 900.0, 30.0), False),  # an overlay strip
        ("XQ7K", [0.2, 0.3, 0.2, 0.3], None, 0.4, PLATE_BOX, False),  # unsure everywhere
        ("1234567", [0.9] * 7, "us-nh", 0.7, PLATE_BOX, True),  # 7 digits: a real NH plate
        ("皖A12345", [0.95] * 7, None, 0.8, PLATE_BOX, True),  # a Chinese plate (format checked here)
        ("粤B12345D", [0.95] * 8, None, 0.8, PLATE_BOX, True),  # new-energy, 8 characters
        ("皖H5488", [0.95] * 6, None, 0.8, PLATE_BOX, False),  # province character before a non-plate
        ("皖88913", [0.95] * 6, "us-ny", 0.8, PLATE_BOX, False),  # not Chinese whatever matched
    ],
)
def test_verify_read(
    text: str, confs: list[float], fmt: str | None, det: float, box: tuple[float, ...], kept: bool
) -> None:
    assert verify_read(text, confs, fmt, det, box, CFG) is kept
    assert verify_read(text, confs, fmt, det, box, VerifyConfig(enabled=False))


def test_cjk_rule_can_be_switched_off() -> None:
    assert verify_read("皖H5488", [0.95] * 6, None, 0.8, PLATE_BOX, VerifyConfig(cjk_needs_format=False))


def test_plate_score() -> None:
    assert plate_score([1.0, 1.0], 0.5, False) == pytest.approx(0.5)
    assert plate_score([0.25, 1.0], 1.0, False) == pytest.approx(0.5)  # geometric mean
    assert plate_score([0.25, 1.0], 1.0, True) == pytest.approx(0.5**0.5)
    assert plate_score([], 1.0, False) == 0.0


def test_pipeline_drops_a_timestamp_overlay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from models import write_models

    monkeypatch.setenv("ALPR_MODELS_DIR", str(write_models(tmp_path / "m", text="20140620")))
    frame = np.zeros((64, 64, 3), np.uint8)
    assert Pipeline(config=load_config())(frame) == []
    off = Pipeline(config=load_config(verify={"enabled": False}))
    assert [r.text for r in off(frame)] == ["20140620"]


def test_logistic_verifier_model_decides_when_loaded() -> None:
    from alpr.verify import FEATURES, ReadVerifier, read_features

    f = read_features("ABC1234", [0.9] * 7, "br-old", 0.8, PLATE_BOX)
    assert f.shape == (len(FEATURES),) and f[0] == 1.0 and f[4] == 1.0
    # a model that only looks at the detector score: plate when det > 0.5
    w = np.zeros(len(FEATURES))
    w[0], w[1] = -5.0, 10.0
    model = {"features": list(FEATURES), "weights": list(w), "threshold": 0.5}
    v = ReadVerifier(CFG, model)
    assert v.accept("ABC1234", [0.1] * 7, None, 0.9, PLATE_BOX)  # unsure OCR, but the model says plate
    assert not v.accept("ABC1234", [0.99] * 7, None, 0.3, PLATE_BOX)
    assert not v.accept("20140620", [0.99] * 8, None, 0.99, PLATE_BOX)  # the rules still apply first
    # a model written for other features is ignored (rules + plate score)
    stale = ReadVerifier(CFG, {**model, "features": ["bias", "det"]})
    assert stale.weights is None and not stale.accept("ABC1234", [0.1] * 7, None, 0.9, PLATE_BOX)
