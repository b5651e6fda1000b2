"""OCR evaluation (PyTorch checkpoints and ONNX files alike) and the full export step.

* :func:`evaluate_model` - character accuracy, exact match and confidence quality per region on the
  valid split of label TSVs and on OpenALPR-format ground-truth crops; :func:`format_table` prints it.
* :func:`export_all` - checkpoint -> ``plate_ocr.onnx`` (verified against PyTorch), optional FP16,
  INT8 calibrated on real crops (accuracy delta and speed reported), manifest entry.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from alpr.train.metrics import evaluate_reads
from alpr.train.ocr.model import CHARSET, OcrConfig
from alpr.train.ocr.train import greedy_decode

__all__ = [
    "evaluate_model",
    "export_all",
    "format_table",
    "load_eval_sets",
    "onnx_config",
    "synth_eval_set",
    "time_onnx",
]


def onnx_config(path: str | os.PathLike[str]) -> OcrConfig:
    """Input size, charset and normalisation of an exported OCR model (from its graph and metadata)."""
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    meta = {p.key: p.value for p in proto.metadata_props}
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    return OcrConfig(
        height=int(dims[2].dim_value),
        width=int(dims[3].dim_value),
        charset=meta.get("charset", CHARSET),
        mean=float(meta.get("mean", 0.5)),
        std=float(meta.get("std", 0.5)),
    )


def load_eval_sets(
    cfg: OcrConfig, labels: Sequence[str], openalpr_dirs: Sequence[str], *, split: str = "valid"
) -> dict[str, tuple[np.ndarray, list[str], list[str]]]:
    """Preprocessed evaluation sets ``{name: (x, texts, groups)}``.

    Groups are regions (``-synth`` appended for rendered plates).
    """
    from alpr.train.ocr.train import TrainOcrOptions, _load_valid_sets

    if split != "valid":
        raise ValueError(f"split: only 'valid' is evaluated, got {split!r}")
    return _load_valid_sets(TrainOcrOptions(labels=list(labels), openalpr_dirs=list(openalpr_dirs)), cfg)


def synth_eval_set(
    cfg: OcrConfig, per_group: int, *, seed: int = 20261203
) -> tuple[np.ndarray, list[str], list[str]]:
    """A fixed synthetic validation set of one- and two-row rendered plates per region.

    ``per_group`` plates for each region the charset can spell (US, EU, BR; CN with a CJK charset and font) in
    each layout, on plain backgrounds with the training crop jitter; groups ``<REGION>-1row`` /
    ``<REGION>-2row``. The seed differs from the training streams, so (with random texts) the plates are
    unseen.
    """
    from alpr.train.augment import plate_on_background, warp_crop
    from alpr.train.synth import find_fonts, render_plate

    rng = np.random.default_rng(seed)
    regions = ["US", "EU", "BR"]
    if find_fonts().cjk and set("皖京粤") <= set(cfg.charset):
        regions.append("CN")
    crops, texts, groups = [], [], []
    for region in regions:
        for two in (False, True):
            made = 0
            while made < per_group:
                plate = render_plate(rng, region, two_line=two)
                if plate.two_line != two:  # e.g. a Chinese new-energy plate has one row only
                    continue
                canvas, quad = plate_on_background(plate.image, None, rng)
                crops.append(
                    warp_crop(
                        canvas, quad, (cfg.width * 2, cfg.height * 2), rng, margin=(0.0, 0.08), jitter=0.02
                    )
                )
                texts.append(plate.text)
                groups.append(f"{region}-{'2row' if two else '1row'}")
                made += 1
    from alpr.train.ocr.data import preprocess

    return preprocess(crops, cfg.width, cfg.height, cfg.mean, cfg.std), texts, groups


def _predictor(model_path: str | os.PathLike[str]) -> tuple[OcrConfig, Callable[[np.ndarray], np.ndarray]]:
    path = Path(model_path)
    if path.suffix == ".onnx":
        from alpr.train.ocr.export import onnx_probs

        return onnx_config(path), lambda x: onnx_probs(path, x, threads=1)
    from alpr.train.ocr.model import load_model
    from alpr.train.ocr.train import predict_probs

    model = load_model(path)
    return model.config, lambda x: predict_probs(model, x)


def evaluate_model(
    model_path: str | os.PathLike[str],
    *,
    labels: Sequence[str],
    openalpr_dirs: Sequence[str] = (),
    plots_dir: str | os.PathLike[str] | None = None,
    synth_per_group: int = 0,
) -> dict[str, Any]:
    """Evaluate an ``.onnx`` or ``.pt`` OCR model; returns ``{set: {group: metrics}}``.

    See :func:`alpr.train.ocr.evaluate_reads` for the metrics. With ``plots_dir``, also writes a character
    confusion matrix per set (``confusion_<set>.png``). ``synth_per_group`` > 0 adds the
    :func:`synth_eval_set` (``synth``: one- and two-row rendered plates per region).
    """
    cfg, predict = _predictor(model_path)
    results: dict[str, Any] = {}
    sets = load_eval_sets(cfg, labels, openalpr_dirs)
    if synth_per_group > 0:
        sets["synth"] = synth_eval_set(cfg, synth_per_group)
    for name, (x, texts, groups) in sets.items():
        reads = greedy_decode(predict(x), cfg.charset)
        results[name] = evaluate_reads(reads, texts, groups)
        if plots_dir is not None:
            from alpr.train.plots import plot_confusion

            safe = name.replace(":", "_").replace("/", "_")
            plot_confusion(
                [r[0] for r in reads], texts, cfg.charset, Path(plots_dir) / f"confusion_{safe}.png"
            )
    return results


def format_table(results: dict[str, Any]) -> str:
    """A plain-text table of :func:`evaluate_model` results."""
    lines = [
        f"{'set':<24}{'group':<12}{'n':>6}{'char acc':>10}{'exact':>8}{'AUROC':>8}"
        f"{'exact@0.9':>11}{'cov@0.9':>9}"
    ]
    for name, groups in results.items():
        for grp, m in groups.items():
            at = m["exact_at"]["0.9"]
            lines.append(
                f"{name:<24}{grp:<12}{m['n']:>6}{m['char_acc']:>10.4f}{m['exact']:>8.4f}"
                f"{m['auroc_min_conf']:>8.3f}{at['exact']:>11.4f}{at['coverage']:>9.3f}"
            )
    return "\n".join(lines)


def time_onnx(path: str | os.PathLike[str], x: np.ndarray, *, threads: int = 2, repeat: int = 10) -> float:
    """Median plates per second of an ONNX OCR model on batch ``x`` with ONNX Runtime (CPU)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.log_severity_level = 3
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    feed = {"images": np.ascontiguousarray(x)}
    sess.run(None, feed)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        sess.run(None, feed)
        times.append(time.perf_counter() - t)
    return float(len(x) / np.median(times))


def export_all(  # noqa: PLR0913 (keyword-only options of `alpr export ocr`)
    checkpoint: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    name: str = "plate_ocr",
    calib_labels: Sequence[str] = (),
    calib_size: int = 512,
    int8: bool = True,
    fp16: bool = False,
    opset: int = 17,
    manifest: bool = True,
    eval_labels: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Export a checkpoint: FP32, FP16 and INT8 ONNX, each evaluated; returns a report dict.

    The FP32 ONNX is checked against PyTorch (atol 1e-4). Each variant's accuracy is measured on the valid
    split of ``eval_labels`` (default: ``calib_labels``), with its speed, and the ``"ocr"`` entry of
    ``out_dir/manifest.json`` is written.
    """
    from alpr.train import common
    from alpr.train.ocr.data import load_rgb, preprocess, read_label_tsv
    from alpr.train.ocr.export import export_fp16, export_ocr_onnx, manifest_entry, verify_onnx
    from alpr.train.ocr.model import load_model
    from alpr.train.quantize import quantize_static_int8

    model = load_model(checkpoint)
    cfg = model.config
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fp32_path = export_ocr_onnx(model, out / f"{name}.onnx", opset=opset)
    rng = np.random.default_rng(0)
    calib_rows = [r for tsv in calib_labels for r in read_label_tsv(tsv, split="train") if not r.synthetic]
    if calib_rows:
        pick = rng.choice(len(calib_rows), size=min(calib_size, len(calib_rows)), replace=False)
        x_calib = preprocess(
            [load_rgb(calib_rows[i].path) for i in pick], cfg.width, cfg.height, cfg.mean, cfg.std
        )
    else:
        x_calib = rng.normal(0, 1, size=(64, 3, cfg.height, cfg.width)).astype(np.float32)
    report: dict[str, Any] = {"max_abs_diff_torch_vs_ort": verify_onnx(model, fp32_path, x_calib[:64])}
    variants: dict[str, str] = {}
    files = {"fp32": fp32_path}
    if fp16:
        files["fp16"] = export_fp16(fp32_path, out / f"{name}.fp16.onnx")
        variants["fp16"] = files["fp16"].name
    if int8:
        if not calib_rows:
            raise ValueError(
                "calib: expected a label TSV with real train crops for INT8 calibration, got none"
            )
        files["int8"] = quantize_static_int8(
            fp32_path, out / f"{name}.int8.onnx", x_calib, fp32_input_conv=True
        )
        variants["int8"] = files["int8"].name
    eval_sets = list(eval_labels if eval_labels is not None else calib_labels)
    bench = x_calib[:64] if len(x_calib) >= 64 else np.resize(x_calib, (64, *x_calib.shape[1:]))
    for kind, path in files.items():
        entry: dict[str, Any] = {"file": path.name, "bytes": path.stat().st_size}
        entry["plates_per_s_2threads_batch64"] = round(time_onnx(path, bench), 1)
        if eval_sets:
            res = evaluate_model(path, labels=eval_sets)
            entry["valid"] = {
                g: {k: m[k] for k in ("n", "char_acc", "exact")} for g, m in res["valid"].items()
            }
        report[kind] = entry
    if manifest:
        man_path = out / "manifest.json"
        fresh: dict[str, Any] = {"version": "0.1.0", "models": {}}
        man: dict[str, Any] = common.read_json(man_path) if man_path.is_file() else fresh
        man.setdefault("models", {})["ocr"] = manifest_entry(cfg, fp32_path, variants=variants)
        common.write_json(man_path, man)
        report["manifest"] = str(man_path)
    return report
