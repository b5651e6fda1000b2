"""Torch-free configuration of the detector trainer and the ``alpr train|export detector`` arguments."""

from __future__ import annotations

import argparse
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from alpr._settings import describe
from alpr.errors import ConfigError

__all__ = ["TrainConfig", "add_export_arguments", "add_train_arguments", "build_train_parser"]


class TrainConfig(BaseModel):
    """Detector training settings, validated on construction and on assignment.

    The defaults are the shipped model's run; ``data`` has none (it names a folder of the machine).

    Attributes:
        data: the YOLO detection set (``manifest.csv``, ``images/``, ``labels/``).
        negatives: folder of plate-free images added to the train split as background, or None.
        out: run folder (checkpoints, metrics, plots).
        imgsz: evaluation/export input size (square); training images are cached at this scale.
        crop: training canvas size (random crops at the ``imgsz`` scale; smaller is faster).
        freeze: backbone blocks (after the stem) kept frozen.
        negatives_per_epoch: share of the background images drawn into each epoch.
        time_budget_s: when > 0 the cosine schedule runs over this much training wall time instead of
            ``epochs`` (for a fixed compute budget); training stops when it is spent.
        epochs: the schedule length in epochs (and the maximum number of epochs).
        batch: images per step.
        lr: peak AdamW learning rate.
        weight_decay: AdamW weight decay.
        warmup_steps: linear warm-up steps.
        restart_epochs: cosine warm-restart period in epochs (0 = one cosine over all epochs).
        synth_fraction: share of training samples that are synthetic plates pasted into scenes.
        pretrained: initialise the backbone from ImageNet EfficientNet-Lite0.
        seed: RNG seed.
        threads: torch intra-op threads.
        deadline: wall-clock UNIX time at which to stop after the current epoch (0 = none).
        max_steps: stop after this many steps in total (0 = none; for tests).
        eval_every: evaluate on the valid split every this many epochs.
        eval_stride: evaluate on every n-th valid image during training (1 = all; the export
            evaluates the whole split).
        limit_train: use only the first N train images (0 = all; for tests).
        exclude_sources: comma-separated ``source`` values of the manifest to leave out of training and
            validation (e.g. ``qanastek,yoavmai``, the sources that declare no licence).
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    data: str
    negatives: str | None = None
    out: str = "runs/detector"
    imgsz: int = Field(default=480, ge=32)
    crop: int = Field(default=320, ge=32)
    freeze: int = Field(default=3, ge=0)
    negatives_per_epoch: float = Field(default=0.25, ge=0.0, le=1.0)
    time_budget_s: float = Field(default=0.0, ge=0.0)
    epochs: int = Field(default=60, ge=1)
    batch: int = Field(default=8, ge=1)
    lr: float = Field(default=2e-3, gt=0.0)
    weight_decay: float = Field(default=0.05, ge=0.0)
    warmup_steps: int = Field(default=150, ge=0)
    restart_epochs: int = Field(default=0, ge=0)
    synth_fraction: float = Field(default=0.15, ge=0.0, le=1.0)
    pretrained: bool = True
    seed: int = 0
    threads: int = 1
    deadline: float = 0.0
    max_steps: int = Field(default=0, ge=0)
    eval_every: int = Field(default=1, ge=1)
    eval_stride: int = Field(default=1, ge=1)
    limit_train: int = Field(default=0, ge=0)
    exclude_sources: str = ""
    extra: dict[str, Any] = Field(default_factory=dict)


def add_train_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add every :class:`TrainConfig` field to ``parser`` as ``--name``.

    Booleans become ``--name/--no-name``; a field without a default is a required option.
    """
    for name, info in TrainConfig.model_fields.items():
        if name == "extra":
            continue
        flag = "--" + name.replace("_", "-")
        if info.is_required():
            parser.add_argument(flag, type=str, required=True)
        elif info.annotation is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=info.default)
        elif info.annotation is int:
            parser.add_argument(flag, type=int, default=info.default)
        elif info.annotation is float:
            parser.add_argument(flag, type=float, default=info.default)
        else:
            parser.add_argument(flag, type=str, default=info.default)
    parser.add_argument("--no-resume", action="store_true", help="start fresh even if last.pt exists")
    return parser


def build_train_parser() -> argparse.ArgumentParser:
    """The ``alpr train detector`` argument parser."""
    return add_train_arguments(
        argparse.ArgumentParser(prog="alpr train detector", description="Train the plate detector.")
    )


def add_export_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``alpr export detector`` options."""
    p.add_argument("--checkpoint", default="runs/detector/best.pt", help="best.pt or last.pt of a run")
    p.add_argument("--out", default="models", help="folder for plate_detector*.onnx and manifest.json")
    p.add_argument("--imgsz", type=int, default=480)
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--data", default=None, help="detect set (valid mAP, INT8 calibration; unset: neither)")
    p.add_argument("--openalpr", default=None, help="OpenALPR benchmark folder to report on")
    # ONNX Runtime keeps every activation of every calibration frame in memory (~0.2 GB per frame here).
    p.add_argument("--calib", type=int, default=16, help="calibration frames for INT8")
    p.add_argument(
        "--exclude-sources", default="", help="comma-separated sources left out of calibration and valid mAP"
    )
    p.add_argument("--no-int8", action="store_true")
    p.add_argument("--no-fp16", action="store_true")
    p.add_argument("--no-manifest", action="store_true", help="do not update OUT/manifest.json")
    p.add_argument("--report", default="runs/detector/export_report.json")
    return p


def config_from_args(args: dict[str, Any]) -> tuple[TrainConfig, bool]:
    """A :class:`TrainConfig` and the resume flag from parsed ``alpr train detector`` arguments.

    Raises:
        ConfigError: a value out of range (the message names the option's field).
    """
    values = {k: v for k, v in args.items() if k in TrainConfig.model_fields}
    if values.get("negatives") in ("", "none", "None"):
        values["negatives"] = None
    try:
        cfg = TrainConfig(**values)
    except ValidationError as exc:
        raise ConfigError(f"alpr train detector: {describe(exc)}") from None
    return cfg, not bool(args.get("no_resume", False))
