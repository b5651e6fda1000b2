from __future__ import annotations

import json
from pathlib import Path

import pytest

from alpr.config import CtcOcrConfig, PipelineConfig, PpOcrConfig, SlotOcrConfig, load_config
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


def test_env_overrides_nested_keys() -> None:
    env = {
        "ALPR__ENGINE__BACKEND": "openvino",  # a string
        "ALPR__ENGINE__INTRA_OP_THREADS": "2",  # a number
        "alpr__verify__enabled": "false",  # names are case-insensitive
        "ALPR__OCR__VOTE_PADS": "[0.0, 0.12]",  # a list: JSON
        "ALPR__DETECT_STRIDE": "1",  # a top-level key
        "ALPR__DETECTOR__MODEL": "",  # empty: unset
    }
    cfg = load_config(environ=env)
    assert cfg.engine.backend == "openvino" and cfg.engine.intra_op_threads == 2 and not cfg.verify.enabled
    assert cfg.ocr.vote_pads == [0.0, 0.12] and cfg.detect_stride == 1 and cfg.detector.model is None
    with pytest.raises(ConfigError, match=r"regions.*JSON"):
        load_config(environ={"ALPR__REGIONS__ENABLED": "br"})  # a list must be JSON: '["br"]'
    with pytest.raises(ConfigError, match=r"detector.bogus: Extra inputs"):
        load_config(environ={"ALPR__DETECTOR__BOGUS": "1"})


def test_priority_overrides_env_file_defaults(tmp_path: Path) -> None:
    f = tmp_path / "alpr.toml"
    f.write_text('[detector]\nconf_threshold = 0.4\nmodel = "det.onnx"\n[tracking]\nmax_age = 3.0\n')
    env = {"ALPR__DETECTOR__CONF_THRESHOLD": "0.6", "ALPR__TRACKING__MIN_HITS": "4"}
    cfg = load_config(f, environ=env, detector={"conf_threshold": 0.7})
    # The override wins over env and file, key by key: the file's detector.model stays.
    assert cfg.detector.conf_threshold == 0.7 and cfg.detector.model == tmp_path / "det.onnx"
    assert cfg.tracking.min_hits == 4 and cfg.tracking.max_age == 3.0 and cfg.tracking.max_distance == 2.5
    assert load_config(f, environ=env).detector.conf_threshold == 0.6
    assert load_config(f, environ={}).detector.conf_threshold == 0.4


def test_direct_construction_reads_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALPR__DETECT_STRIDE", "1")
    assert PipelineConfig().detect_stride == 3 and load_config().detect_stride == 1


def test_ocr_formats(tmp_path: Path) -> None:
    assert isinstance(load_config(environ={}).ocr, CtcOcrConfig)
    slot = load_config(environ={}, ocr={"format": "slot", "model": "m.onnx", "alphabet": "AB_"}).ocr
    assert isinstance(slot, SlotOcrConfig) and slot.pad_char == "_"
    env = {"ALPR__OCR__FORMAT": "ppocr", "ALPR__OCR__MODEL": "rec.onnx"}
    assert isinstance(load_config(environ=env).ocr, PpOcrConfig)
    # An [ocr] table without format is the CTC one.
    assert load_config(environ={}, ocr={"model": "m.onnx", "charset": "AB"}).ocr.format == "ctc"


@pytest.mark.parametrize(
    ("ocr", "match"),
    [
        ({"format": "ppocr"}, r"ocr.model: Field required"),
        ({"format": "slot", "model": "m.onnx"}, r"ocr.alphabet: Field required"),
        ({"format": "slot", "model": "m.onnx", "alphabet": "AB"}, r"ocr.pad_char: '_' is not in the"),
        ({"format": "ppocr", "model": "m.onnx", "alphabet": "AB"}, r"ocr.alphabet: Extra inputs"),
        ({"format": "ctc", "model": "m.onnx"}, r"ocr.charset: required with ocr.model"),
        ({"format": "crnn"}, r"ocr: expected 'ctc', 'ppocr' or 'slot'"),
    ],
)
def test_ocr_format_errors_at_load(tmp_path: Path, ocr: dict[str, str], match: str) -> None:
    f = tmp_path / "alpr.toml"
    f.write_text("[ocr]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in ocr.items()))
    with pytest.raises(ConfigError, match=match):
        load_config(f, environ={})


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            "[detector]\nconf_threshold = 1.5\n",
            r"detector.conf_threshold: .*less than or equal to 1.*got 1.5",
        ),
        ('[engine]\nbackend = "cuda"\n', r"engine.backend: .*'onnxruntime'.*got 'cuda'"),
        ("[detector]\nbogus = 1\n", r"detector.bogus: Extra inputs"),
        ("bogus = 1\n", r"bogus: Extra inputs"),
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
