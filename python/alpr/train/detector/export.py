"""Export, verify, quantize and evaluate the plate detector as ONNX.

* :func:`export_detector_onnx` - ONNX (opset 17, dynamic batch, metadata props) in the YOLOv8 pose-head
  layout ``(N, 4 + 1 + 8, A)``;
* :func:`verify_detector_onnx` - ONNX Runtime output == PyTorch output;
* :func:`export_detector_int8` / :func:`~alpr.train.export.export_fp16` - INT8 (static, QDQ, calibrated
  on real letterboxed frames) and FP16 variants;
* :func:`evaluate_onnx` - mAP on the detect valid split and plates found (IoU > 0.4) on an OpenALPR
  benchmark folder, with ONNX Runtime exactly as deployed;
* :func:`main` - ``alpr export detector``: all of the above, a JSON report and the manifest entry.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from alpr._models import variant_entries
from alpr.sources import read_image
from alpr.train.common import MODEL_VERSION
from alpr.train.metrics import Prediction, detection_stats, map50_in_height_range, plates_found

__all__ = [
    "decode_output",
    "evaluate_onnx",
    "export_detector_int8",
    "export_detector_onnx",
    "main",
    "manifest_entry",
    "onnx_session",
    "time_onnx",
    "verify_detector_onnx",
]

F32 = npt.NDArray[np.float32]
U8 = npt.NDArray[np.uint8]
CORNER_ORDER = "TL,TR,BR,BL"

HEIGHT_RANGES: dict[str, tuple[float, float]] = {
    "h<16": (0.0, 16.0),
    "16<=h<32": (16.0, 32.0),
    "h>=32": (32.0, float("inf")),
    "h>=16": (16.0, float("inf")),
}
"""Plate-height ranges (px) of the by-height AP in :func:`evaluate_onnx`."""


def export_detector_onnx(model: Any, path: str | os.PathLike[str], imgsz: int, *, opset: int = 17) -> Path:
    """Export a :class:`~alpr.train.detector.PlateDetector` to ONNX.

    Args:
        model: the trained detector (put in eval mode here).
        path: the ``.onnx`` file to write.
        imgsz: the square input size the anchors are laid out for.
        opset: ONNX opset (>= 17).

    Returns:
        The written path. Input ``images`` float32 (N, 3, imgsz, imgsz) RGB 0..1, output ``output0``
        float32 (N, 13, A).
    """
    import onnx
    import torch

    from alpr.train.detector.model import DetectorExport

    if opset < 17:
        raise ValueError(f"opset: expected >= 17, got {opset}")
    model.eval()
    wrapper = DetectorExport(model, imgsz, imgsz).eval()
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # The TorchScript exporter warns about its own deprecation; the graph is plain convolutions.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapper,
            (torch.zeros(1, 3, imgsz, imgsz),),
            str(target),
            input_names=["images"],
            output_names=["output0"],
            dynamic_axes={"images": {0: "batch"}, "output0": {0: "batch"}},
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False,
        )
    proto = onnx.load(str(target))
    onnx.checker.check_model(proto)
    meta = {
        "format": "yolov8",
        "task": "pose",
        "names": "{0: 'plate'}",
        "imgsz": f"[{imgsz}, {imgsz}]",
        "stride": "32",
        "kpt_shape": "[4, 2]",
        "corner_order": CORNER_ORDER,
        "input": "float32 (N, 3, H, W) RGB 0..1, letterboxed, pad 114",
        "output": "float32 (N, 13, A): cx, cy, w, h (input px), score (sigmoid), 4 corners x, y (input px)",
        "description": "alpr plate detector (EfficientNet-Lite0 blocks + PAN-lite, anchor-free, corners)",
        "license": "Apache-2.0 (code); see MODEL_CARD.md for the training data licences",
    }
    del proto.metadata_props[:]
    for k, v in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.save(proto, str(target))
    return target


def onnx_session(path: str | os.PathLike[str], *, threads: int = 0) -> Any:
    """An ONNX Runtime CPU session (``threads`` 0 = ORT's default)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    if threads:
        so.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def verify_detector_onnx(model: Any, path: str | os.PathLike[str], x: F32, *, atol: float = 1e-3) -> float:
    """Max |PyTorch - ONNX Runtime| over the outputs for input ``x`` float32 (N, 3, S, S).

    Raises:
        AssertionError: shapes differ or the difference exceeds ``atol`` (input px / scores).
    """
    import torch

    from alpr.train.detector.model import DetectorExport

    s = x.shape[-1]
    wrapper = DetectorExport(model.eval(), x.shape[-2], s).eval()
    with torch.no_grad():
        ref = wrapper(torch.from_numpy(x)).numpy()
    got = onnx_session(path).run(None, {"images": np.ascontiguousarray(x)})[0]
    from alpr.train.common import max_abs_diff

    return max_abs_diff(ref, got, atol)


def decode_output(
    output: F32, *, conf_threshold: float = 0.001, iou_threshold: float = 0.5, max_det: int = 100
) -> list[Prediction]:
    """Decode the ONNX output float32 (N, 13, A) with NMS into per-image predictions (input px).

    Uses the shipped native kernel (:func:`alpr.ops.postprocess_yolo`, no letterbox mapping).
    """
    from alpr import ops

    preds: list[Prediction] = []
    for o in output:
        det = ops.postprocess_yolo(
            np.ascontiguousarray(o, np.float32),
            None,
            num_classes=1,
            conf_threshold=conf_threshold,
            iou_threshold=iou_threshold,
            max_det=max_det,
            num_keypoints=4,
        )
        preds.append(Prediction(det.boxes, det.scores, det.keypoints))
    return preds


def _runtime_detector(path: str | os.PathLike[str], imgsz: int, conf_threshold: float) -> Any:
    """The shipped detector stage over ``path``, so that export validation scores what users run.

    That is :class:`alpr.detector.Detector`: native letterbox, engine, native decoding + NMS.
    """
    from alpr.detector import Detector
    from alpr.engines import create_engine

    return Detector(
        create_engine(Path(path)),
        input_size=(imgsz, imgsz),
        num_keypoints=4,
        conf_threshold=conf_threshold,
        iou_threshold=0.5,
        max_det=100,
        min_size=0.0,
    )


def _predict(detector: Any, frames: Sequence[U8]) -> list[Prediction]:
    return [Prediction(d.boxes, d.scores, d.keypoints) for d in detector.detect(list(frames))]


def evaluate_onnx(
    path: str | os.PathLike[str],
    *,
    imgsz: int,
    data: str | None = None,
    openalpr: str | None = None,
    conf_threshold: float = 0.25,
    batch: int = 8,
    exclude_sources: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Evaluate an exported detector through the shipped detector stage.

    That is ONNX Runtime with the native letterbox and NMS; ``exclude_sources`` are valid images left out.

    Returns:
        ``{"valid": {map50, map, precision, recall, ...}, "openalpr": {found, total, rate, per_region}}``
        (a key is absent when its folder is None or missing).
    """
    from alpr.train.detector.data import load_split

    mapped = _runtime_detector(path, imgsz, 0.001)  # mAP: the whole precision/recall curve
    report: dict[str, Any] = {}
    if data and Path(data).is_dir():
        items = load_split(data, "valid", exclude_sources=exclude_sources)
        preds: list[Prediction] = []
        gts: list[F32] = []
        for start in range(0, len(items), batch):
            chunk = items[start : start + batch]
            frames = [read_image(it.image) for it in chunk]
            for it, frame, p in zip(chunk, frames, _predict(mapped, frames), strict=True):
                preds.append(p)
                h, w = frame.shape[:2]
                scale = np.asarray([w / it.width, h / it.height] * 2, np.float32) if it.width else 1.0
                gts.append((it.boxes * scale).astype(np.float32))
        stats = detection_stats(preds, gts, conf_threshold=conf_threshold)
        # Where the misses are: AP@0.5 by plate height (px of the stored <= 640 px images).
        stats["map50_by_height"] = {
            name: dict(zip(("map50", "objects"), map50_in_height_range(preds, gts, lo, hi), strict=True))
            for name, (lo, hi) in HEIGHT_RANGES.items()
        }
        report["valid"] = stats
    if openalpr and Path(openalpr).is_dir():
        from alpr.evaluate import read_openalpr

        samples = read_openalpr(openalpr)
        per_region: dict[str, list[int]] = {}
        operating = _runtime_detector(path, imgsz, conf_threshold)
        for smp in samples:
            (p,) = _predict(operating, [read_image(smp.image)])
            gt = np.asarray([g.box for g in smp.plates], np.float32).reshape(-1, 4)
            found, total = plates_found([p], [gt], iou_threshold=0.4)
            acc = per_region.setdefault(smp.region, [0, 0])
            acc[0] += found
            acc[1] += total
        found = sum(v[0] for v in per_region.values())
        total = sum(v[1] for v in per_region.values())
        report["openalpr"] = {
            "found": found,
            "total": total,
            "rate": found / total if total else 0.0,
            "per_region": {k: {"found": v[0], "total": v[1]} for k, v in sorted(per_region.items())},
            "conf_threshold": conf_threshold,
            "iou": 0.4,
        }
    return report


def time_onnx(path: str | os.PathLike[str], imgsz: int, *, runs: int = 30, threads: int = 0) -> float:
    """Median latency in ms of one (1, 3, imgsz, imgsz) inference (ONNX Runtime CPU, model only)."""
    sess = onnx_session(path, threads=threads)
    x = np.random.default_rng(0).random((1, 3, imgsz, imgsz), dtype=np.float32)
    for _ in range(3):
        sess.run(None, {"images": x})
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        sess.run(None, {"images": x})
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1000.0)


def calibration_inputs(
    data: str, imgsz: int, count: int = 16, seed: int = 0, exclude_sources: tuple[str, ...] = ()
) -> F32:
    """Letterboxed real train frames float32 (count, 3, imgsz, imgsz) for INT8 calibration."""
    from alpr.train.detector.data import load_split

    items = load_split(data, "train", exclude_sources=exclude_sources)
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(items), size=min(count, len(items)), replace=False)
    from alpr import ops

    x, _ = ops.letterbox_batch(
        [read_image(items[int(i)].image) for i in pick], imgsz
    )  # the shipped letterbox
    out: F32 = np.ascontiguousarray(x, np.float32)
    return out


def export_detector_int8(
    src: str | os.PathLike[str], dst: str | os.PathLike[str], calibration: F32, *, method: str = "minmax"
) -> Path:
    """INT8 static quantization (QDQ, per-channel weights) of the convolutions, calibrated on ``calibration``.

    The box/corner decode after the head stays in FP32 (only ``Conv`` is quantized), so coordinates keep
    full precision. Min/max calibration by default: every activation is bounded by ReLU6, so the range
    is tight already, and it is minutes faster than the histogram methods. A histogram method
    (``"percentile"``, ``"entropy"``) falls back to min/max when a tensor's range is degenerate.
    """
    from alpr.train.quantize import quantize_static_int8

    try:
        return quantize_static_int8(src, dst, calibration, method=method)
    except ValueError:
        if method == "minmax":
            raise
        return quantize_static_int8(src, dst, calibration, method="minmax")


def manifest_entry(
    path: str | os.PathLike[str], imgsz: int, *, variants: dict[str, str] | None = None
) -> dict[str, Any]:
    """The ``"detector"`` entry of ``models/manifest.json``."""
    from alpr.engines.base import file_sha256

    p = Path(path)
    return {
        "file": p.name,
        "sha256": file_sha256(p),
        "format": "yolov8",
        "input": {
            "name": "images",
            "width": imgsz,
            "height": imgsz,
            "color": "RGB",
            "scale": 1.0 / 255.0,
            "pad_value": 114,
        },
        "output": {
            "name": "output0",
            "num_classes": 1,
            "num_keypoints": 4,
            "keypoint_dim": 2,
            "names": ["plate"],
            "corner_order": CORNER_ORDER,
        },
        "conf_threshold": 0.25,
        "iou_threshold": 0.5,
        "version": MODEL_VERSION,
        "variants": variant_entries(p.parent, variants or {}),
    }


def build_arg_parser() -> argparse.ArgumentParser:
    """The ``alpr export detector`` argument parser."""
    from alpr.train.detector.config import add_export_arguments

    return add_export_arguments(
        argparse.ArgumentParser(prog="alpr export detector", description="Export the plate detector to ONNX.")
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``alpr export detector``."""
    return cli_export(build_arg_parser().parse_args(argv))


def cli_export(args: argparse.Namespace) -> int:
    """Run the export from parsed ``alpr export detector`` arguments."""
    import json

    import torch

    from alpr.train.common import load_checkpoint, write_json
    from alpr.train.detector.model import PlateDetector

    # One intra-op thread: on a small shared CPU, OpenMP spinning across busy cores is far slower.
    torch.set_num_threads(1)
    state = load_checkpoint(args.checkpoint)
    model = PlateDetector()
    sd = state.get("model", state)
    sd = {k.removeprefix("module."): v for k, v in sd.items() if k != "n_averaged"}
    model.load_state_dict(sd)
    model.eval()
    out = Path(args.out)
    fp32 = export_detector_onnx(model, out / "plate_detector.onnx", args.imgsz, opset=args.opset)
    x = np.random.default_rng(0).random((1, 3, args.imgsz, args.imgsz), dtype=np.float32)
    report: dict[str, Any] = {"checkpoint": str(args.checkpoint), "imgsz": args.imgsz}
    # Coordinates are in input px (up to imgsz): 0.01 px is float32 rounding, far below a pixel.
    report["max_abs_diff_torch_ort"] = verify_detector_onnx(model, fp32, x, atol=1e-2)
    variants: dict[str, str] = {}
    files = {"fp32": fp32}
    exclude = tuple(x for x in args.exclude_sources.split(",") if x)
    report["exclude_sources"] = list(exclude)
    if not args.no_int8 and args.data and Path(args.data).is_dir():
        calib = calibration_inputs(args.data, args.imgsz, args.calib, exclude_sources=exclude)
        files["int8"] = export_detector_int8(fp32, out / "plate_detector.int8.onnx", calib)
        variants["int8"] = files["int8"].name
    if not args.no_fp16:
        from alpr.train.ocr.export import export_fp16

        files["fp16"] = export_fp16(fp32, out / "plate_detector.fp16.onnx")
        variants["fp16"] = files["fp16"].name
    for name, f in files.items():
        res = evaluate_onnx(
            f, imgsz=args.imgsz, data=args.data, openalpr=args.openalpr, exclude_sources=exclude
        )
        res["ms_per_frame_2threads"] = time_onnx(f, args.imgsz, threads=2)
        res["size_bytes"] = f.stat().st_size
        if "valid" in res:
            from alpr.train.plots import plot_pr

            v = res["valid"]
            plot_pr(v["pr_recall"], v["pr_precision"], Path(args.report).with_name(f"pr_valid_{name}.png"))
            res["valid"] = {k: val for k, val in v.items() if not k.startswith("pr_")}
        report[name] = res
        print(name, json.dumps(res, default=float), flush=True)
    write_json(args.report, report)
    if not args.no_manifest:
        mpath = out / "manifest.json"
        manifest: dict[str, Any] = (
            json.loads(mpath.read_text()) if mpath.is_file() else {"version": "0.1.0", "models": {}}
        )
        manifest.setdefault("models", {})["detector"] = manifest_entry(fp32, args.imgsz, variants=variants)
        mpath.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
