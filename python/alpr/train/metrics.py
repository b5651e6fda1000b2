"""Metrics of the detector and the OCR.

Detection: COCO-style AP (101-point interpolation) at IoU 0.5 and 0.5:0.95, precision/recall at an operating
threshold, the OpenALPR "plate found" criterion.

Pure NumPy apart from the plots (matplotlib); running a torch detector is in
:mod:`alpr.train.detector.validate`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from alpr.types import iou_matrix

__all__ = [
    "Prediction",
    "average_precision",
    "box_iou",
    "detection_stats",
    "match_detections",
    "plates_found",
]

F32 = npt.NDArray[np.float32]
IOU_THRESHOLDS = np.round(np.arange(0.5, 0.96, 0.05), 2)


@dataclass(frozen=True)
class Prediction:
    """Detections of one image: boxes float32 (K, 4) xyxy px, scores (K,), corners (K, 4, 2) px."""

    boxes: F32
    scores: F32
    corners: F32


def box_iou(a: F32, b: F32) -> F32:
    """IoU matrix float32 (len(a), len(b)) of xyxy boxes (:func:`alpr.types.iou_matrix`)."""
    return iou_matrix(a, b)


def match_detections(pred: F32, scores: F32, gt: F32, iou_threshold: float) -> npt.NDArray[np.bool_]:
    """Greedy COCO matching: detections by descending score take the best unmatched gt with IoU >= thr.

    Returns:
        bool (K,) true-positive flag per detection, in the order of ``pred``.
    """
    tp = np.zeros(len(pred), dtype=bool)
    if not len(pred) or not len(gt):
        return tp
    ious = box_iou(pred, gt)
    taken = np.zeros(len(gt), dtype=bool)
    for i in np.argsort(-scores, kind="stable"):
        cand = np.where(~taken, ious[i], -1.0)
        j = int(cand.argmax())
        if cand[j] >= iou_threshold:
            taken[j] = True
            tp[i] = True
    return tp


def average_precision(tp: npt.NDArray[np.bool_], scores: F32, num_gt: int) -> tuple[float, F32, F32]:
    """COCO 101-point interpolated AP.

    Args:
        tp: bool (K,) true-positive flags of all detections over the dataset.
        scores: float32 (K,) their scores.
        num_gt: number of ground-truth objects.

    Returns:
        ``(ap, recall, precision)``; the curves are float32, ordered by descending score.
    """
    if num_gt == 0:
        return float("nan"), np.zeros(0, np.float32), np.zeros(0, np.float32)
    order = np.argsort(-scores, kind="stable")
    hits = tp[order].astype(np.float64)
    ctp = np.cumsum(hits)
    cfp = np.cumsum(1.0 - hits)
    recall = ctp / num_gt
    precision = ctp / np.maximum(ctp + cfp, 1e-9)
    # Monotone precision envelope, then sample at 101 recall points.
    env = np.maximum.accumulate(precision[::-1])[::-1] if len(precision) else precision
    points = np.linspace(0, 1, 101)
    idx = np.searchsorted(recall, points, side="left")
    sampled = np.array([env[i] if i < len(env) else 0.0 for i in idx])
    return float(sampled.mean()), recall.astype(np.float32), precision.astype(np.float32)


def detection_stats(
    preds: Sequence[Prediction], gts: Sequence[F32], *, conf_threshold: float = 0.25
) -> dict[str, Any]:
    """mAP@0.5, mAP@0.5:0.95 and precision/recall/F1 at ``conf_threshold`` (IoU 0.5).

    Args:
        preds: one :class:`Prediction` per image.
        gts: one float32 (M, 4) xyxy array per image (same px frame as the predictions).
        conf_threshold: the operating threshold for precision/recall.
    """
    if len(preds) != len(gts):
        raise ValueError(f"preds/gts: expected the same number of images, got {len(preds)} and {len(gts)}")
    num_gt = int(sum(len(g) for g in gts))
    scores = np.concatenate([p.scores for p in preds]) if preds else np.zeros(0, np.float32)
    aps: list[float] = []
    curve: tuple[F32, F32] = (np.zeros(0, np.float32), np.zeros(0, np.float32))
    tp50 = np.zeros(0, bool)
    for thr in IOU_THRESHOLDS:
        tp = (
            np.concatenate(
                [match_detections(p.boxes, p.scores, g, float(thr)) for p, g in zip(preds, gts, strict=True)]
            )
            if preds
            else np.zeros(0, bool)
        )
        ap, rec, prec = average_precision(tp, scores, num_gt)
        aps.append(ap)
        if thr == 0.5:
            curve, tp50 = (rec, prec), tp
    keep = scores >= conf_threshold
    ntp = int(tp50[keep].sum()) if len(tp50) else 0
    ndet = int(keep.sum())
    precision = ntp / ndet if ndet else 0.0
    recall = ntp / num_gt if num_gt else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "map50": aps[0],
        "map": float(np.mean(aps)),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "conf_threshold": conf_threshold,
        "images": len(gts),
        "objects": num_gt,
        "detections": ndet,
        "pr_recall": curve[0],
        "pr_precision": curve[1],
    }


def map50_in_height_range(
    preds: Sequence[Prediction], gts: Sequence[F32], lo: float, hi: float = float("inf")
) -> tuple[float, int]:
    """AP@0.5 over the ground-truth boxes whose height is in ``[lo, hi)`` px.

    These are COCO's area ranges, by height. Boxes outside the range are ignored: a detection that matches
    one, or that is itself outside the range and matches nothing, counts neither as a hit nor as a false
    alarm.

    Returns:
        ``(ap, number of ground-truth boxes in the range)``; ap is NaN when there are none.
    """
    if len(preds) != len(gts):
        raise ValueError(f"preds/gts: expected the same number of images, got {len(preds)} and {len(gts)}")
    flags: list[npt.NDArray[np.bool_]] = []
    scores: list[F32] = []
    num_gt = 0
    for p, g in zip(preds, gts, strict=True):
        g = np.asarray(g, np.float32).reshape(-1, 4)
        gh = g[:, 3] - g[:, 1]
        inside = (gh >= lo) & (gh < hi)
        num_gt += int(inside.sum())
        tp = match_detections(p.boxes, p.scores, g[inside], 0.5)
        keep = tp.copy()
        if len(p.boxes):
            ph = p.boxes[:, 3] - p.boxes[:, 1]
            near_ignored = (
                (box_iou(p.boxes, g[~inside]) >= 0.5).any(axis=1)
                if (~inside).any()
                else np.zeros(len(tp), bool)
            )
            keep |= ~near_ignored & (ph >= lo) & (ph < hi)
        flags.append(tp[keep])
        scores.append(p.scores[keep])
    tp_all = np.concatenate(flags) if flags else np.zeros(0, bool)
    sc_all = np.concatenate(scores) if scores else np.zeros(0, np.float32)
    return average_precision(tp_all, sc_all, num_gt)[0], num_gt


def plates_found(
    preds: Sequence[Prediction], gts: Sequence[F32], *, iou_threshold: float = 0.4
) -> tuple[int, int]:
    """OpenALPR benchmark criterion: a plate is found when a detection overlaps it with IoU > threshold.

    Returns:
        ``(found, total)`` over all ground-truth plates.
    """
    found = total = 0
    for p, g in zip(preds, gts, strict=True):
        total += len(g)
        if len(g) and len(p.boxes):
            found += int((box_iou(g, p.boxes).max(1) > iou_threshold).sum())
    return found, total


# ---------------------------------------------------------------------------------------------------
# Text recognition metrics


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (rapidfuzz)."""
    from rapidfuzz.distance import Levenshtein

    return int(Levenshtein.distance(a, b))


def char_accuracy(preds: Sequence[str], truths: Sequence[str]) -> float:
    """Character accuracy ``1 - sum(edit distance) / sum(len(truth))`` (can go below 0 on garbage)."""
    total = sum(len(t) for t in truths)
    if total == 0:
        return float("nan")
    return 1.0 - sum(edit_distance(p, t) for p, t in zip(preds, truths, strict=True)) / total


def auroc(scores: Sequence[float], positives: Sequence[bool]) -> float:
    """Area under the ROC curve of ``scores`` separating positives (True) from negatives (ties count half).

    Returns NaN when one of the classes is empty.
    """
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(positives, dtype=bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=np.float64)
    sorted_s = s[order]
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def evaluate_reads(
    preds: Sequence[tuple[str, np.ndarray]], truths: Sequence[str], groups: Sequence[str]
) -> dict[str, object]:
    """Metrics of decoded reads against the truth, overall and per group (e.g. region).

    Returns:
        ``{"all": {...}, "<group>": {...}}`` where each entry holds ``n``, ``char_acc``, ``exact``,
        ``auroc_min_conf`` (how well the minimum per-character confidence separates right from wrong
        reads) and ``exact_at`` (exact-match rate and coverage when reads with a minimum confidence
        under 0.5 / 0.7 / 0.9 are rejected).
    """
    texts = [p[0] for p in preds]
    mins = [float(p[1].min()) if len(p[1]) else 0.0 for p in preds]
    out: dict[str, object] = {}
    keys = ["all", *sorted(set(groups))]
    for key in keys:
        idx = [i for i, g in enumerate(groups) if key == "all" or g == key]
        if not idx:
            continue
        t = [texts[i] for i in idx]
        y = [truths[i] for i in idx]
        ok = [a == b for a, b in zip(t, y, strict=True)]
        m = [mins[i] for i in idx]
        at: dict[str, dict[str, float]] = {}
        for thr in (0.5, 0.7, 0.9):
            kept = [o for o, c in zip(ok, m, strict=True) if c >= thr]
            at[f"{thr:.1f}"] = {
                "coverage": len(kept) / len(ok),
                "exact": float(np.mean(kept)) if kept else float("nan"),
            }
        out[key] = {
            "n": len(idx),
            "char_acc": char_accuracy(t, y),
            "exact": float(np.mean(ok)),
            "auroc_min_conf": auroc(m, ok),
            "exact_at": at,
        }
    return out
