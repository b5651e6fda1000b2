"""``alpr train ocr``: every flag reaches the options and the network config."""

from __future__ import annotations

import argparse
from typing import Any

import pytest

pytest.importorskip("torch")

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
