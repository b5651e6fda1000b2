from __future__ import annotations

from pathlib import Path

import pytest

from alpr.config import PipelineConfig, apply_env_overrides, load_config
from alpr.errors import ConfigError


def test_defaults() -> None:
    cfg = load_config(environ={})
    assert cfg == PipelineConfig()
    assert cfg.engine.backend == "onnxruntime" and cfg.detector.model is None and cfg.detect_stride == 3


def test_toml_with_relative_paths_and_env(tmp_path: Path) -> None:
    f = tmp_path / "alpr.toml"
    f.write_text(
        "detect_stride = 2\n[engine]\nintra_op_threads = 2\n"
        '[detector]\nmodel = "det.onnx"\nformat = "yolov8"\nconf_threshold = 0.4\n'
        '[ocr]\nmodel = "/abs/rec.onnx"\nformat = "ppocr"\ndict_path = "keys.txt"\n'
        '[regions]\nenabled = ["us"]\nextra_files = ["mine.toml"]\n'
    )
    env = {"ALPR__DETECTOR__CONF_THRESHOLD": "0.6", "ALPR__REGIONS__ENABLED": '["br"]', "OTHER": "x"}
    cfg = load_config(f, environ=env)
    assert cfg.detect_stride == 2 and cfg.engine.intra_op_threads == 2
    assert cfg.detector.model == tmp_path / "det.onnx" and cfg.detector.conf_threshold == 0.6
    assert cfg.ocr.model == Path("/abs/rec.onnx") and cfg.ocr.dict_path == tmp_path / "keys.txt"
    assert cfg.regions.enabled == ["br"] and cfg.regions.extra_files == [tmp_path / "mine.toml"]


def test_env_override_strings_and_json() -> None:
    out = apply_env_overrides({"engine": {"backend": "onnxruntime"}}, {"ALPR__ENGINE__BACKEND": "openvino"})
    assert out == {"engine": {"backend": "openvino"}}


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            "[detector]\nconf_threshold = 1.5\n",
            r"detector.conf_threshold: .*less than or equal to 1.*got 1.5",
        ),
        ('[engine]\nbackend = "cuda"\n', r"engine.backend: .*'onnxruntime'.*got 'cuda'"),
        ("[detector]\nbogus = 1\n", r"detector.bogus: Extra inputs"),
        ("detect_stride = 0\n", r"detect_stride"),
        ("[detector\n", r"invalid TOML"),
    ],
)
def test_invalid_config(tmp_path: Path, text: str, match: str) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_config(f, environ={})


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "none.toml")
