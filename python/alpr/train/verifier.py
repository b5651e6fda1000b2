r"""Training the read verifier: a logistic model over read features that tells plates from phantoms.

Positives are the reads of the pipeline (verifier off) that overlap a labelled plate of the detector
set; negatives are every read on plate-free frames - as they are and with a camera overlay drawn on
them (timestamps, camera names, counters, captions: what operators see read as plates) - and the reads
on the overlay of a labelled frame that carries one. Reads off the labels on ordinary frames are left
out (the detector set leaves some distant plates unlabelled). The fitted weights go into the
``verifier`` entry of ``models/manifest.json``, so the shipped pipeline uses them; the threshold is the
one that keeps ``recall`` of the positives of the validation split.

::

    alpr train verifier --detect DATA/detect --negatives DATA/negatives \
        --exclude-sources qanastek,yoavmai --out runs/verifier [--manifest models/manifest.json]
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from alpr.types import box_iou
from alpr.verify import FEATURES, read_features

__all__ = ["collect", "draw_overlay", "fit_logistic", "run"]

_CAPTIONS = ("CAM", "CAM 01", "CH1", "CH02", "GATE", "LANE 2", "ENTRY", "EXIT", "IPC", "REC", "NORTH", "P1")


def _timestamp(rng: np.random.Generator) -> str:
    y, mo, d = int(rng.integers(2005, 2030)), int(rng.integers(1, 13)), int(rng.integers(1, 29))
    h, mi, s = int(rng.integers(0, 24)), int(rng.integers(0, 60)), int(rng.integers(0, 60))
    styles = (
        f"{y}-{mo:02d}-{d:02d} {h:02d}:{mi:02d}:{s:02d}",
        f"{mo:02d}/{d:02d}/{y} {h:02d}:{mi:02d}:{s:02d}",
        f"{d:02d}.{mo:02d}.{y} {h:02d}:{mi:02d}",
        f"{y}{mo:02d}{d:02d} {h:02d}{mi:02d}{s:02d}",
        f"{h:02d}:{mi:02d}:{s:02d}",
    )
    return styles[int(rng.integers(len(styles)))]


def draw_overlay(rng: np.random.Generator, image: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A copy of ``image`` (BGR) with a camera overlay line; returns it and the overlay box.

    The line (timestamp, caption or counter) is drawn in a corner or along an edge, as surveillance cameras
    and dash cams do.
    """
    h, w = image.shape[:2]
    kind = rng.random()
    if kind < 0.6:
        text = _timestamp(rng)
    elif kind < 0.8:
        text = f"{_CAPTIONS[int(rng.integers(len(_CAPTIONS)))]} {_timestamp(rng)}"
    else:
        text = f"{int(rng.integers(0, 10**6)):06d} {rng.integers(10, 130)} KM/H"
    font = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_PLAIN)[int(rng.integers(3))]
    scale = float(rng.uniform(0.4, 1.2)) * w / 640
    thick = max(1, round(scale * rng.uniform(1.2, 2.5)))
    (tw, th), base = cv2.getTextSize(text, font, scale, thick)
    x = int(rng.choice([rng.integers(4, 20), max(4, w - tw - int(rng.integers(4, 20))), (w - tw) // 2]))
    y = int(rng.choice([th + int(rng.integers(4, 20)), h - base - int(rng.integers(4, 20))]))
    out = image.copy()
    # The overlay's box: where the text (with its outline) lands, measured on a mask.
    mask = np.zeros((h, w), np.uint8)
    cv2.putText(mask, text, (x, y), font, scale, 255, thick + 2, cv2.LINE_AA)
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return out, (0, 0, 0, 0)
    box = (
        max(0, int(xs.min()) - 3),
        max(0, int(ys.min()) - 3),
        min(w, int(xs.max()) + 4),
        min(h, int(ys.max()) + 4),
    )
    if rng.random() < 0.4:
        cv2.rectangle(out, box[:2], (box[2] - 1, box[3] - 1), (0, 0, 0), -1)
    colour = [(255, 255, 255), (0, 255, 255), (240, 240, 240), (0, 0, 0)][int(rng.integers(4))]
    if rng.random() < 0.5:
        cv2.putText(out, text, (x, y), font, scale, (0, 0, 0), thick + 2, cv2.LINE_AA)
    cv2.putText(out, text, (x, y), font, scale, colour, thick, cv2.LINE_AA)
    return out, box


def collect(
    pipeline: Any,
    detect_root: str | os.PathLike[str],
    negatives_root: str | os.PathLike[str],
    *,
    split: str,
    exclude_sources: Sequence[str] = (),
    max_images: int = 0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Features ``(N, len(FEATURES))`` and labels ``(N,)`` (1 = plate, 0 = phantom) of ``split``.

    Negatives frames are split like texts elsewhere: every 5th file (sorted) is ``valid``.
    """
    from alpr.train.datasets import read_yolo_manifest

    rng = np.random.default_rng(seed)
    xs: list[np.ndarray] = []
    ys: list[int] = []
    anns = [a for a in read_yolo_manifest(detect_root, split) if a.meta.get("source") not in exclude_sources]
    if max_images:
        anns = anns[:max_images]
    for ann in anns:
        img = cv2.imread(ann.image)
        if img is None:
            continue
        gts = [(float(b[0]), float(b[1]), float(b[2]), float(b[3])) for b in ann.boxes]
        frame, ov = draw_overlay(rng, img) if rng.random() < 0.3 else (img, None)
        for r in pipeline(frame):
            if any(box_iou(r.box, g) > 0.4 for g in gts):
                xs.append(read_features(r.text, r.char_confidences, r.region, r.detector_score, r.box))
                ys.append(1)
            elif ov is not None and box_iou(r.box, ov) > 0.1:
                xs.append(read_features(r.text, r.char_confidences, r.region, r.detector_score, r.box))
                ys.append(0)
    files = sorted(p for p in Path(negatives_root).rglob("*.jpg"))
    files = [p for i, p in enumerate(files) if (i % 5 == 0) == (split == "valid")]
    if max_images:
        files = files[:max_images]
    for path in files:
        img = cv2.imread(str(path))
        if img is None:
            continue
        for frame in (img, draw_overlay(rng, img)[0], draw_overlay(rng, img)[0]):
            for r in pipeline(frame):
                xs.append(read_features(r.text, r.char_confidences, r.region, r.detector_score, r.box))
                ys.append(0)
    x = np.stack(xs) if xs else np.zeros((0, len(FEATURES)), np.float64)
    return x, np.asarray(ys, dtype=np.int64)


def fit_logistic(x: np.ndarray, y: np.ndarray, *, l2: float = 1e-2, iters: int = 50) -> np.ndarray:
    """L2-regularised logistic regression by Newton's method (IRLS); returns the weights.

    ``x`` includes the bias column. Classes are weighted to balance.
    """
    w = np.zeros(x.shape[1])
    pos = max(1, int(y.sum()))
    neg = max(1, len(y) - pos)
    sw = np.where(y == 1, len(y) / (2 * pos), len(y) / (2 * neg))
    reg = l2 * np.eye(x.shape[1])
    reg[0, 0] = 0.0
    for _ in range(iters):
        p = 1 / (1 + np.exp(-(x @ w)))
        grad = x.T @ (sw * (p - y)) + reg @ w
        hess = (x * (sw * p * (1 - p))[:, None]).T @ x + reg
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def run(
    detect_root: str | os.PathLike[str],
    negatives_root: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    exclude_sources: Sequence[str] = (),
    recall: float = 0.98,
    manifest: str | os.PathLike[str] | None = None,
    max_images: int = 0,
) -> dict[str, Any]:
    """Collect, fit on ``train``, pick the threshold on ``valid``; returns the report.

    Writes ``out/verifier.json`` (and the manifest's ``verifier`` entry).
    """
    import alpr
    from alpr.config import load_config
    from alpr.train import common

    pipe = alpr.Pipeline(config=load_config(verify={"enabled": False}))
    x_tr, y_tr = collect(pipe, detect_root, negatives_root, split="train", exclude_sources=exclude_sources,
                         max_images=max_images)  # fmt: skip
    x_va, y_va = collect(pipe, detect_root, negatives_root, split="valid", exclude_sources=exclude_sources,
                         max_images=max_images, seed=1)  # fmt: skip
    w = fit_logistic(x_tr, y_tr)
    p_va = 1 / (1 + np.exp(-(x_va @ w)))
    pos = np.sort(p_va[y_va == 1])
    threshold = float(pos[int((1 - recall) * len(pos))]) if len(pos) else 0.5
    kept_neg = float((p_va[y_va == 0] >= threshold).mean()) if (y_va == 0).any() else float("nan")
    report: dict[str, Any] = {
        "features": list(FEATURES),
        "weights": [round(float(v), 6) for v in w],
        "threshold": round(threshold, 6),
        "train": {"plates": int(y_tr.sum()), "phantoms": int((y_tr == 0).sum())},
        "valid": {
            "plates": int(y_va.sum()),
            "phantoms": int((y_va == 0).sum()),
            "plates_kept": round(float((pos >= threshold).mean()) if len(pos) else float("nan"), 4),
            "phantoms_kept": round(kept_neg, 4),
        },
    }
    Path(out).mkdir(parents=True, exist_ok=True)
    common.write_json(Path(out) / "verifier.json", report)
    if manifest is not None:
        man = common.read_json(manifest)
        man["verifier"] = {k: report[k] for k in ("features", "weights", "threshold")}
        common.write_json(manifest, man)
    return report
