"""``alpr train ocr``: every flag reaches the options and the network config."""

from __future__ import annotations

import argparse
import functools
import importlib
import inspect
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

pytest.importorskip("torch")

from alpr.errors import ConfigError
from alpr.train import cli
from alpr.train.ocr import CHARSET, OcrConfig, TrainOcrOptions
from alpr.train.synth import CN_CHARSET


def _train_ocr_options(monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> TrainOcrOptions:
    got: list[TrainOcrOptions] = []
    monkeypatch.setattr("alpr.train.ocr.train_ocr", got.append)
    parser = argparse.ArgumentParser()
    cli.add_parsers(parser.add_subparsers(dest="cmd"))
    args = parser.parse_args(["train", "ocr", *argv])
    assert args.func(args) == 0
    return got[0]


def test_train_ocr_defaults_are_the_options_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    opts = _train_ocr_options(monkeypatch, ["--labels", "a.tsv"])
    assert opts.labels == ["a.tsv"] and opts.openalpr_dirs == [] and opts.resume is True
    assert opts.config == OcrConfig(height=32, width=128, channels=(24, 48, 80, 112, 144), hidden=80)


def test_train_ocr_passes_every_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    flags: dict[str, Any] = {
        "valid_labels": ["v.tsv"],
        "backgrounds": "bg",
        "epochs": 3,
        "steps_per_epoch": 4,
        "batch_size": 8,
        "lr": 0.1,
        "weight_decay": 0.2,
        "t0": 5,
        "t_mult": 3,
        "synth_fraction": 0.25,
        "eu_weight": 2.0,
        "seed": 7,
        "device": "cpu",
        "amp": "off",
        "threads": 3,
        "time_limit": 5.0,
        "ema": 0.0,
        "aug_strength": 0.5,
        "warmup": 9,
        "init": "x.pt",
    }
    argv = ["--labels", "a.tsv", "--openalpr", "o", "--no-resume", "--exclude-sources", "s1,s2"]
    argv += ["--region-weights", "us=2", "--synth-regions", "US=1,EU=0,BR=0", "--charset", "latin+cn"]
    argv += ["--height", "48", "--width", "160", "--channels", "1,2,3,4,5", "--arch", "vit", "--heads", "2"]
    for name, value in flags.items():
        for v in value if isinstance(value, list) else [value]:
            argv += ["--" + name.replace("_", "-"), str(v)]
    opts = _train_ocr_options(monkeypatch, argv)
    assert {name: getattr(opts, name) for name in flags} == flags
    assert opts.openalpr_dirs == ["o"] and opts.resume is False and opts.exclude_sources == ["s1", "s2"]
    assert opts.region_weights == {"US": 2.0} and opts.synth_regions == {"US": 1.0, "EU": 0.0, "BR": 0.0}
    cfg = opts.config
    assert (cfg.height, cfg.width, cfg.channels, cfg.arch, cfg.heads) == (48, 160, (1, 2, 3, 4, 5), "vit", 2)
    assert cfg.charset == CHARSET + CN_CHARSET


def test_train_ocr_refuses_an_option_out_of_range(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match=r"alpr train ocr: synth_fraction: .*less than or equal to 1"):
        _train_ocr_options(monkeypatch, ["--synth-fraction", "1.5"])
    with pytest.raises(ValidationError, match="lr"):
        TrainOcrOptions(lr=0.0)
    opts = TrainOcrOptions()
    with pytest.raises(ValidationError, match="epochs"):
        opts.epochs = 0  # validated on assignment as well


def _run(monkeypatch: pytest.MonkeyPatch, target: str, argv: list[str]) -> dict[str, Any]:
    """Run ``alpr ARGV`` with ``target`` replaced by a recorder; the arguments it got, by name."""
    got: list[dict[str, Any]] = []
    module, _, name = target.rpartition(".")
    real = getattr(importlib.import_module(module), name)

    @functools.wraps(real)  # the recorder has the real signature
    def record(*args: Any, **kwargs: Any) -> dict[str, Any]:
        got.append(dict(inspect.signature(real).bind(*args, **kwargs).arguments))
        return {}

    monkeypatch.setattr(target, record)
    parser = argparse.ArgumentParser()
    cli.add_parsers(parser.add_subparsers(dest="cmd"))
    args = parser.parse_args(argv)
    assert args.func(args) == 0
    return got[0]


def test_pseudo_label_passes_every_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    argv = [
        "train",
        "pseudo-label",
        "--crops",
        "c",
        "--detect",
        "d",
        "--exclude-sources",
        "s1,s2",
        "--out",
        "o",
    ]
    argv += ["--teacher", "t.onnx", "--regions", "us,eu", "--min-char-conf", "0.8", "--min-height", "10"]
    argv += ["--second-teacher", "bundled", "--agree-conf", "0.6"]
    assert _run(monkeypatch, "alpr.train.pseudo.run", argv) == {
        "crops": ["c"],
        "detect": ["d"],
        "exclude_sources": ["s1", "s2"],
        "out": "o",
        "teacher": "t.onnx",
        "regions": ["us", "eu"],
        "min_char_conf": 0.8,
        "min_height": 10.0,
        "second_teacher": "bundled",
        "agree_conf": 0.6,
    }


def test_pseudo_label_check_passes_its_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    argv = ["train", "pseudo-label", "--check", "l.tsv", "--regions", "br", "--exclude-sources", "s"]
    assert _run(monkeypatch, "alpr.train.pseudo.check", argv) == {
        "labels": "l.tsv",
        "teacher": None,
        "regions": ["br"],
        "exclude_sources": ["s"],
        "second_teacher": None,
    }


def test_train_verifier_passes_every_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    argv = ["train", "verifier", "--detect", "d", "--negatives", "n", "--exclude-sources", "s", "--out", "o"]
    argv += ["--recall", "0.9", "--manifest", "m.json", "--max-images", "5"]
    assert _run(monkeypatch, "alpr.train.verifier.run", argv) == {
        "detect_root": "d",
        "negatives_root": "n",
        "out": "o",
        "exclude_sources": ["s"],
        "recall": 0.9,
        "manifest": "m.json",
        "max_images": 5,
    }


def test_export_tensorrt_passes_every_flag(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    argv = ["export", "tensorrt", "--precision", "int8", "--models", "ocr, detector", "--calib-crops", "cr"]
    argv += ["--calib-batches", "4", "--max-batch", "2", "--workspace-mib", "256", "--cache-dir", "c"]
    argv += ["--out", str(tmp_path)]
    got = _run(monkeypatch, "alpr.export.export_tensorrt", argv)
    assert got.pop("config") is not None
    assert got == {
        "models": ["ocr", "detector"],
        "precision": "int8",
        "cache_dir": "c",
        "calibration_images": {"ocr": Path("cr")},
        "calibration_batches": 4,
        "max_batch": 2,
        "workspace_mib": 256,
        "out_dir": str(tmp_path),
    }
