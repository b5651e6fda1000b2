"""The detector trainer's config (torch-free): a validated model, its generated command line."""

from __future__ import annotations

import argparse

import pytest
from pydantic import ValidationError

from alpr.errors import ConfigError
from alpr.train.detector.config import (
    TrainConfig,
    add_export_arguments,
    build_train_parser,
    config_from_args,
)


def test_no_machine_paths_as_defaults() -> None:
    with pytest.raises(ValidationError, match="data"):
        TrainConfig()  # type: ignore[call-arg]
    cfg = TrainConfig(data="d")
    assert cfg.negatives is None and cfg.out == "runs/detector"
    export = vars(add_export_arguments(argparse.ArgumentParser()).parse_args([]))
    assert export["data"] is None and export["openalpr"] is None


def test_generated_command_line() -> None:
    parser = build_train_parser()
    with pytest.raises(SystemExit):
        parser.parse_args([])  # --data is required
    args = vars(parser.parse_args(["--data", "d", "--epochs", "3", "--no-pretrained", "--negatives", "none"]))
    cfg, resume = config_from_args(args)
    assert (cfg.data, cfg.epochs, cfg.pretrained, cfg.negatives, resume) == ("d", 3, False, None, True)
    assert cfg.model_dump()["lr"] == 2e-3  # what the checkpoint stores
    with pytest.raises(ConfigError, match=r"epochs: .*greater than or equal to 1"):
        config_from_args(vars(parser.parse_args(["--data", "d", "--epochs", "0"])))


def test_assignment_is_validated() -> None:
    cfg = TrainConfig(data="d")
    cfg.max_steps = 4
    with pytest.raises(ValidationError, match="batch"):
        cfg.batch = 0
