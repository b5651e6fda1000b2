"""``alpr train ...`` and ``alpr export ...`` subcommands (argparse).

The top-level CLI calls :func:`add_parsers` with its subparsers object. Parsing never imports torch:
each handler imports its trainer lazily, so ``alpr --help`` stays fast and works without
``alpr-engine[train]``.

Commands::

    alpr train ocr --labels DATA/ocr/labels.tsv --out runs/ocr [--openalpr DATA/openalpr-dev] ...
    alpr train ocr --evaluate models/plate_ocr.onnx --labels DATA/ocr/labels.tsv   (table + JSON only)
    alpr train detector ...                       (see alpr.train.detector)
    alpr train pseudo-label --crops DATA/ocr/unlabeled --detect DATA/detect --out runs/pseudo
                                                  (see alpr.train.pseudo)
    alpr export ocr --checkpoint runs/ocr/best.pt --out models/ --calib DATA/ocr/labels.tsv
    alpr export detector ...                      (see alpr.train.detector)
    alpr export tensorrt --precision int8 --calib-images DATA/scenes --calib-crops DATA/crops
                                                  (see alpr.export; needs alpr-engine[tensorrt], no torch)
"""

from __future__ import annotations

import argparse
import inspect
import json
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["add_parsers", "main"]

_R = TypeVar("_R")


def add_parsers(subparsers: Any) -> None:
    """Register the ``train`` and ``export`` subcommands.

    ``train``: ``ocr``, ``detector``, ``pseudo-label``, ``verifier``; ``export``: ``ocr``, ``detector``,
    ``tensorrt``.
    """
    train = subparsers.add_parser("train", help="train a model (needs alpr-engine[train])")
    tsub = train.add_subparsers(dest="model", required=True)
    _add_train_ocr(tsub)
    _add_train_detector(tsub)
    _add_pseudo_label(tsub)
    _add_train_verifier(tsub)

    export = subparsers.add_parser(
        "export", help="export a trained model to ONNX (+ FP16, INT8), or build TensorRT engines"
    )
    esub = export.add_subparsers(dest="model", required=True)
    _add_export_ocr(esub)
    _add_export_detector(esub)
    _add_export_tensorrt(esub)


def _command(
    sub: Any, name: str, help: str, func: Callable[[argparse.Namespace], int], *, defaults: bool = False
) -> argparse.ArgumentParser:
    """Add the subcommand ``name`` running ``func``; with ``defaults`` its help shows every default."""
    fmt = argparse.ArgumentDefaultsHelpFormatter if defaults else argparse.HelpFormatter
    p: argparse.ArgumentParser = sub.add_parser(name, help=help, formatter_class=fmt)
    p.set_defaults(func=func)
    return p


def _csv(text: str) -> list[str]:
    """The items of a comma-separated option, empty ones dropped."""
    return [x for x in text.split(",") if x]


# ---------------------------------------------------------------------------------------------------
# OCR
# ---------------------------------------------------------------------------------------------------


def _add_train_ocr(sub: Any) -> None:
    p = _command(sub, "ocr", "train the CRNN plate OCR", _train_ocr, defaults=True)
    p.add_argument(
        "--labels", action="append", default=[], help="OCR label TSV (repeatable); train/valid by split"
    )
    p.add_argument("--valid-labels", action="append", default=[], help="extra validation TSV (repeatable)")
    p.add_argument(
        "--openalpr", action="append", default=[], help="OpenALPR-format folder: reported check only"
    )
    p.add_argument("--backgrounds", default=None, help="folder of plate-free images for synthetic plates")
    p.add_argument(
        "--exclude-sources",
        default="",
        help="comma-separated label sources to leave out (e.g. reported-ocr,qanastek: no licence)",
    )
    p.add_argument("--out", default="runs/ocr", help="run folder")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--steps-per-epoch", type=int, default=200)
    p.add_argument("--batch-size", type=int, default=0, help="0 = from available memory")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--weight-decay", type=float, default=0.02)
    p.add_argument("--t0", type=int, default=2, help="epochs of the first cosine cycle")
    p.add_argument("--t-mult", type=int, default=2, help="cycle length multiplier")
    p.add_argument("--synth-fraction", type=float, default=0.45)
    p.add_argument("--eu-weight", type=float, default=4.0, help="oversampling of real EU crops")
    p.add_argument(
        "--region-weights", default="", help="oversampling of real crops per region, e.g. US=4,EU=2"
    )
    p.add_argument(
        "--synth-regions", default="US=1,EU=1.5,BR=1", help="share of each region among synthetic plates"
    )
    p.add_argument("--ema", type=float, default=0.995, help="weight EMA decay (0 = off)")
    p.add_argument("--aug-strength", type=float, default=1.0, help="photometric augmentation strength 0..1")
    p.add_argument("--warmup", type=int, default=200, help="learning-rate warm-up steps")
    p.add_argument("--init", default=None, help="start from this checkpoint's weights (fine-tune)")
    p.add_argument("--height", type=int, default=32)
    p.add_argument("--width", type=int, default=128)
    p.add_argument("--channels", default="24,48,80,112,144", help="five CNN stage widths")
    p.add_argument("--hidden", type=int, default=80, help="GRU size per direction (0 = none)")
    p.add_argument("--arch", default="crnn", choices=["crnn", "vit"], help="CRNN or the transformer (ViT)")
    p.add_argument("--dim", type=int, default=128, help="ViT token width")
    p.add_argument("--depth", type=int, default=4, help="ViT encoder blocks")
    p.add_argument("--heads", type=int, default=4, help="ViT attention heads")
    p.add_argument(
        "--charset",
        default="latin",
        choices=["latin", "latin+cn"],
        help="latin = 0-9A-Z; latin+cn adds the Chinese province and special-plate characters",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--amp", default="auto", choices=["auto", "bf16", "fp16", "off"])
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (0 = torch default)")
    p.add_argument("--no-resume", action="store_true", help="start over even if OUT/last.pt exists")
    p.add_argument("--time-limit", type=float, default=0.0, help="minutes; stop after the epoch passing it")
    p.add_argument("--evaluate", metavar="MODEL", default=None, help="only evaluate an .onnx or .pt model")
    p.add_argument("--json", default=None, help="with --evaluate: write the metrics here")
    p.add_argument("--plots", default=None, help="with --evaluate: folder for confusion-matrix PNGs")
    p.add_argument(
        "--synth-valid",
        type=int,
        default=0,
        metavar="N",
        help="with --evaluate: also N rendered one-row and N two-row plates per region (fixed seed)",
    )


def _train_ocr(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from alpr._settings import describe
    from alpr.errors import ConfigError
    from alpr.train.ocr import CHARSET, OcrConfig, TrainOcrOptions, train_ocr
    from alpr.train.synth import CN_CHARSET

    if args.evaluate:
        return _evaluate_ocr(args)
    cfg = _from_args(
        OcrConfig,
        args,
        channels=tuple(int(c) for c in args.channels.split(",")),
        charset=CHARSET + (CN_CHARSET if args.charset == "latin+cn" else ""),
    )
    try:
        opts = _from_args(
            TrainOcrOptions,
            args,
            openalpr_dirs=args.openalpr,
            resume=not args.no_resume,
            config=cfg,
            exclude_sources=_csv(args.exclude_sources),
            region_weights=_weights(args.region_weights, "--region-weights"),
            synth_regions=_synth_regions(args.synth_regions),
        )
    except ValidationError as exc:
        raise ConfigError(f"alpr train ocr: {describe(exc)}") from None
    train_ocr(opts)
    return 0


def _from_args(func: Callable[..., _R], args: argparse.Namespace, **computed: Any) -> _R:
    """``func`` (a library function, or a dataclass) called with each parameter's same-named flag.

    ``computed`` gives the parameters whose flag is spelled or parsed differently (``--no-resume`` ->
    ``resume``, comma lists); it wins over a same-named flag. A parameter with neither keeps its
    default. As the detector's ``config_from_args``.
    """
    names = inspect.signature(func).parameters
    same = {n: getattr(args, n) for n in names if hasattr(args, n)}
    return func(**(same | computed))


def _weights(text: str, flag: str) -> dict[str, float]:
    """``"US=4,EU=2"`` -> ``{"US": 4.0, "EU": 2.0}``."""
    out: dict[str, float] = {}
    for item in (x.strip() for x in text.split(",")):
        if not item:
            continue
        key, sep, val = item.partition("=")
        try:
            weight = float(val)
        except ValueError:
            weight = -1.0
        if not sep or not key.strip() or weight < 0:
            raise SystemExit(f"{flag}: expected REGION=WEIGHT[,...] with weights >= 0, got {text!r}")
        out[key.strip().upper()] = weight
    return out


def _synth_regions(text: str) -> dict[str, float]:
    from alpr.train.synth import REGIONS

    out = _weights(text, "--synth-regions")
    if set(out) - set(REGIONS) or not any(out.values()):
        names = ", ".join(REGIONS)
        raise SystemExit(f"--synth-regions: expected weights for {names} (not all 0), got {text!r}")
    return out


def _evaluate_ocr(args: argparse.Namespace) -> int:
    from alpr.train import common
    from alpr.train.ocr.eval import evaluate_model, format_table

    results = evaluate_model(
        args.evaluate,
        labels=args.labels + args.valid_labels,
        openalpr_dirs=args.openalpr,
        plots_dir=args.plots,
        synth_per_group=args.synth_valid,
    )
    print(format_table(results))
    if args.json:
        common.write_json(args.json, results)
    return 0


def _add_export_ocr(sub: Any) -> None:
    p = _command(sub, "ocr", "export the OCR to ONNX (+ FP16, INT8) and update the manifest", _export_ocr)
    p.add_argument("--checkpoint", required=True, help="best.pt / last.pt of an OCR run")
    p.add_argument("--out", default="models", help="folder for plate_ocr*.onnx and manifest.json")
    p.add_argument("--name", default="plate_ocr", help="file stem")
    p.add_argument("--calib", action="append", default=[], help="label TSV whose train split calibrates INT8")
    p.add_argument("--calib-size", type=int, default=512, help="number of calibration crops")
    p.add_argument("--no-int8", action="store_true")
    p.add_argument("--fp16", action="store_true", help="also write an FP16 variant")
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--no-manifest", action="store_true", help="do not touch OUT/manifest.json")
    p.add_argument("--report", default=None, help="write the export report (accuracy, speed) as JSON here")


def _export_ocr(args: argparse.Namespace) -> int:
    from alpr.train.ocr.eval import export_all

    report = export_all(
        args.checkpoint,
        args.out,
        name=args.name,
        calib_labels=args.calib,
        calib_size=args.calib_size,
        int8=not args.no_int8,
        fp16=args.fp16,
        opset=args.opset,
        manifest=not args.no_manifest,
    )
    for k, v in report.items():
        print(f"{k}: {v}")
    if args.report:
        from alpr.train import common

        common.write_json(args.report, report)
    return 0


def _add_export_tensorrt(sub: Any) -> None:
    help = "build FP16 / INT8 TensorRT engines of the detector and OCR (needs alpr-engine[tensorrt])"
    p = _command(sub, "tensorrt", help, _export_tensorrt)
    p.add_argument("--precision", choices=("fp16", "int8", "fp32"), default="fp16")
    p.add_argument("--models", default="detector,ocr", help="comma-separated: detector, ocr")
    p.add_argument("--config", default=None, help="TOML config naming the models (default: the bundled ones)")
    p.add_argument("--calib-images", default=None, help="INT8: folder of scene images for the detector")
    p.add_argument("--calib-crops", default=None, help="INT8: folder of plate crop images for the OCR")
    p.add_argument("--calib-batches", type=int, default=16, help="INT8: at most N batches of 8 images")
    p.add_argument("--max-batch", type=int, default=8, help="largest batch (must match engine.max_batch)")
    p.add_argument("--workspace-mib", type=int, default=1024)
    p.add_argument("--cache-dir", default=None, help="engine cache (default: $ALPR_CACHE_DIR/tensorrt)")
    p.add_argument("--out", default=None, help="also copy the engines and calibration caches here")
    p.add_argument("--json", action="store_true", help="one JSON object per engine")


def _export_tensorrt(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from alpr.config import load_config
    from alpr.errors import AlprError
    from alpr.export import export_tensorrt

    images = {
        k: Path(v) for k, v in (("detector", args.calib_images), ("ocr", args.calib_crops)) if v is not None
    }
    try:
        done = _from_args(
            export_tensorrt,
            args,
            models=[m.strip() for m in args.models.split(",") if m.strip()],
            config=load_config(args.config),
            calibration_images=images,
            calibration_batches=args.calib_batches,
            out_dir=args.out,
        )
    except (ImportError, AlprError, OSError) as exc:
        print(f"alpr: error: {exc}", file=sys.stderr)
        return 1
    for e in done:
        row = {
            "model": e.model,
            "precision": e.precision,
            "onnx": str(e.onnx),
            "engine": str(e.engine),
            "calibration_cache": str(e.calibration_cache) if e.calibration_cache else None,
            "built": e.built,
            "seconds": round(e.seconds, 2),
            "copied": str(e.copied) if e.copied else None,
        }
        if args.json:
            print(json.dumps(row))
        else:
            state = "built" if e.built else "cached"
            print(f"{e.model} {e.precision}: {e.engine} ({state}, {e.seconds:.1f} s)")
    return 0


# ---------------------------------------------------------------------------------------------------
# Detector hook - OWNED BY THE DETECTOR HELPER: fill in the arguments and the handlers below.
# The handlers must import alpr.train.detector (and torch) lazily, inside the function.
# ---------------------------------------------------------------------------------------------------


def _add_pseudo_label(sub: Any) -> None:
    help = "read unlabelled plate crops with a teacher OCR and keep the sure reads as an OCR label TSV"
    p = _command(sub, "pseudo-label", help, _pseudo_label, defaults=True)
    p.add_argument("--crops", action="append", default=[], help="folder of crops (with manifest.tsv)")
    p.add_argument("--detect", action="append", default=[], help="YOLO detector set with manifest.csv")
    p.add_argument("--exclude-sources", default="", help="comma-separated sources to leave out")
    p.add_argument("--out", default="runs/pseudo", help="folder for crops/ and labels.tsv")
    p.add_argument("--teacher", default=None, help="PP-OCR recognizer ONNX (default: the rapidocr wheel's)")
    p.add_argument("--regions", default="us,eu,br", help="plate formats a kept read must fit")
    p.add_argument("--min-char-conf", type=float, default=0.9, help="lowest character confidence kept")
    p.add_argument("--min-height", type=float, default=12.0, help="skip detector boxes lower than this (px)")
    p.add_argument(
        "--second-teacher",
        default=None,
        metavar="bundled|MODEL.onnx",
        help="also keep reads on which this OCR (the project's own) and the teacher agree",
    )
    p.add_argument(
        "--agree-conf", type=float, default=0.5, help="lowest character confidence of an agreement"
    )
    p.add_argument(
        "--check", metavar="LABELS", default=None, help="measure the filter on this labelled TSV instead"
    )


def _pseudo_label(args: argparse.Namespace) -> int:
    import json

    from alpr.train import pseudo

    lists = {"exclude_sources": _csv(args.exclude_sources), "regions": _csv(args.regions)}
    if args.check:
        table = _from_args(pseudo.check, args, labels=args.check, **lists)
        print(f"{'min conf':>9} {'crops':>6} {'kept':>7} {'precision':>9}")
        for row in table:
            conf, crops, kept, prec = row["min_char_conf"], row["crops"], row["kept"], row["precision"]
            print(f"{conf:>9.2f} {crops:>6.0f} {kept:>7.1%} {prec:>9.1%}")
        return 0
    summary = _from_args(pseudo.run, args, **lists)
    print(json.dumps(summary, indent=1))
    return 0


def _add_train_verifier(sub: Any) -> None:
    help = "fit the read verifier (plates vs phantom reads) for the bundled models"
    p = _command(sub, "verifier", help, _train_verifier, defaults=True)
    p.add_argument("--detect", required=True, help="YOLO detector set with manifest.csv (train/valid split)")
    p.add_argument("--negatives", required=True, help="folder of plate-free frames")
    p.add_argument("--exclude-sources", default="", help="detector-set sources to leave out (comma list)")
    p.add_argument("--out", default="runs/verifier", help="folder for verifier.json")
    p.add_argument("--recall", type=float, default=0.98, help="share of valid plates the threshold keeps")
    p.add_argument("--manifest", default=None, help="write the fitted verifier into this manifest.json")
    p.add_argument("--max-images", type=int, default=0, help="at most this many images per set (0 = all)")


def _train_verifier(args: argparse.Namespace) -> int:
    from alpr.train.verifier import run

    report = _from_args(
        run,
        args,
        detect_root=args.detect,
        negatives_root=args.negatives,
        exclude_sources=_csv(args.exclude_sources),
    )
    print(json.dumps(report, indent=1))
    return 0


def _add_train_detector(sub: Any) -> None:
    from alpr.train.detector.config import add_train_arguments

    add_train_arguments(
        _command(sub, "detector", "train the plate detector (resumes runs/detector/last.pt)", _train_detector)
    )


def _train_detector(args: argparse.Namespace) -> int:
    from alpr.train.detector.train import cli_train

    return cli_train(vars(args))


def _add_export_detector(sub: Any) -> None:
    from alpr.train.detector.config import add_export_arguments

    help = "export the plate detector to ONNX (+ INT8, FP16), evaluate it, write the manifest"
    add_export_arguments(_command(sub, "detector", help, _export_detector))


def _export_detector(args: argparse.Namespace) -> int:
    from alpr.train.detector import export as detector_export

    return detector_export.cli_export(args)


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point: ``python -m alpr.train.cli train ocr ...`` (= ``alpr train ocr ...``)."""
    parser = argparse.ArgumentParser(
        prog="python -m alpr.train.cli", description="alpr model training and export"
    )
    add_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
