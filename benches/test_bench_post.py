"""Post-processing kernels vs the code a user would otherwise write (NumPy, OpenCV, torchvision).

Run: ``python -m pytest benches/test_bench_post.py --benchmark-enable --benchmark-group-by=group``
(after ``maturin develop --release``). Every benchmark in a group gets the same prepared inputs; the
timed call includes everything from those inputs to the final result (index array, list of strings
with per-character confidences, or boxes + scores + keypoints).
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from alpr import ops

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")
torch.set_num_threads(1)

CHARSET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


# --- baselines -------------------------------------------------------------------------------


def numpy_nms(
    boxes: npt.NDArray[np.float32], scores: npt.NDArray[np.float32], thr: float
) -> npt.NDArray[np.int64]:
    """The common vectorised NumPy NMS (py-faster-rcnn style, without the +1)."""
    x1, y1, x2, y2 = boxes.T
    areas = (x2 - x1) * (y2 - y1)
    order = scores.argsort()[::-1]
    keep = []
    while order.size > 0:
        i = order[0]
        keep.append(i)
        xx1 = np.maximum(x1[i], x1[order[1:]])
        yy1 = np.maximum(y1[i], y1[order[1:]])
        xx2 = np.minimum(x2[i], x2[order[1:]])
        yy2 = np.minimum(y2[i], y2[order[1:]])
        inter = np.maximum(0.0, xx2 - xx1) * np.maximum(0.0, yy2 - yy1)
        iou = inter / (areas[i] + areas[order[1:]] - inter)
        order = order[1:][iou <= thr]
    return np.asarray(keep, np.int64)


def numpy_ctc_greedy(
    probs: npt.NDArray[np.float32], charset: str
) -> list[tuple[str, npt.NDArray[np.float32]]]:
    """Vectorised argmax + collapse, then one join per row (confidence = the emitting frame's prob)."""
    idx = probs.argmax(-1)
    conf = np.take_along_axis(probs, idx[..., None], -1)[..., 0]
    keep = idx != 0
    keep[:, 1:] &= idx[:, 1:] != idx[:, :-1]
    table = np.array(["", *charset])
    return [("".join(table[i[k]]), c[k]) for i, c, k in zip(idx, conf, keep, strict=True)]


def numpy_yolo(out: npt.NDArray[np.float32], conf: float, iou: float, nms: str) -> tuple[Any, ...]:
    """What YOLOv8 ONNX examples do: transpose, threshold, xywh -> xyxy, then NMS."""
    x = out[0].T
    scores = x[:, 4]
    mask = scores > conf
    x, scores = x[mask], scores[mask]
    xywh = x[:, :4]
    if nms == "cv2":
        tl = xywh[:, :2] - xywh[:, 2:] / 2
        keep = np.asarray(
            cv2.dnn.NMSBoxes(np.concatenate([tl, xywh[:, 2:]], 1).tolist(), scores.tolist(), conf, iou),
            np.int64,
        ).reshape(-1)
        boxes = np.concatenate([tl, tl + xywh[:, 2:]], 1)
    else:
        boxes = np.concatenate([xywh[:, :2] - xywh[:, 2:] / 2, xywh[:, :2] + xywh[:, 2:] / 2], 1)
        if nms == "numpy":
            keep = numpy_nms(boxes, scores, iou)
        else:
            keep = torchvision.ops.nms(torch.from_numpy(boxes), torch.from_numpy(scores), iou).numpy()
    keep = keep[:300]
    return boxes[keep], scores[keep], x[keep, 5:].reshape(-1, 4, 2)


# --- inputs ----------------------------------------------------------------------------------


def candidates(n: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """n candidate boxes as a detector produces them: clusters of overlapping boxes around objects."""
    rng = np.random.default_rng(n)
    centres = rng.uniform(40, 600, (max(n // 20, 1), 2))
    c = centres[rng.integers(0, len(centres), n)] + rng.normal(0, 6, (n, 2))
    wh = rng.uniform(20, 80, (n, 2))
    boxes = np.concatenate([c - wh / 2, c + wh / 2], 1).astype(np.float32)
    return boxes, rng.uniform(0.05, 1, n).astype(np.float32)


def yolo_head(dense: bool) -> npt.NDArray[np.float32]:
    """(1, 13, 8400) plate-detector head: 8 plates with ~40 confident anchors each over a quiet
    background (``dense=False``), or half of all anchors above the threshold (``dense=True``)."""
    rng = np.random.default_rng(0)
    n = 8400
    head = np.empty((1, 13, n), np.float32)
    head[0, 0:2] = rng.uniform(0, 640, (2, n))
    head[0, 2:4] = rng.uniform(10, 120, (2, n))
    head[0, 4] = rng.uniform(0, 1, n) if dense else rng.uniform(0, 0.05, n)
    head[0, 5:] = rng.uniform(0, 640, (8, n))
    if not dense:
        for _ in range(8):
            a = rng.choice(n, 40, replace=False)
            centre, size = rng.uniform(60, 580, 2), rng.uniform([60, 20], [140, 50])
            head[0, 0:2, a] = centre + rng.normal(0, 3, (40, 2))
            head[0, 2:4, a] = size + rng.normal(0, 3, (40, 2))
            head[0, 4, a] = rng.uniform(0.3, 0.95, 40)
    return head


# --- NMS -------------------------------------------------------------------------------------

SIZES = [100, 1000, 8400]


@pytest.mark.parametrize("n", SIZES)
def test_nms_alpr(benchmark: Any, n: int) -> None:
    boxes, scores = candidates(n)
    benchmark.group = f"nms {n}"
    keep = benchmark(ops.nms, boxes, scores, 0.45)
    assert keep.tolist() == numpy_nms(boxes, scores, 0.45).tolist()


@pytest.mark.parametrize("n", SIZES)
def test_nms_numpy(benchmark: Any, n: int) -> None:
    boxes, scores = candidates(n)
    benchmark.group = f"nms {n}"
    benchmark(numpy_nms, boxes, scores, 0.45)


@pytest.mark.parametrize("n", SIZES)
def test_nms_cv2(benchmark: Any, n: int) -> None:
    boxes, scores = candidates(n)
    # cv2 takes (x, y, w, h); the conversion is left out of the timing, in cv2's favour.
    xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], 1).tolist()
    sl = scores.tolist()
    benchmark.group = f"nms {n}"
    keep = benchmark(cv2.dnn.NMSBoxes, xywh, sl, 0.0, 0.45)
    assert sorted(np.asarray(keep).reshape(-1).tolist()) == sorted(ops.nms(boxes, scores, 0.45).tolist())


@pytest.mark.parametrize("n", SIZES)
def test_nms_torchvision(benchmark: Any, n: int) -> None:
    boxes, scores = candidates(n)
    tb, ts = torch.from_numpy(boxes), torch.from_numpy(scores)
    benchmark.group = f"nms {n}"
    benchmark(torchvision.ops.nms, tb, ts, 0.45)


# --- CTC -------------------------------------------------------------------------------------


def ctc_batch() -> npt.NDArray[np.float32]:
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, (64, 32, 37))
    p = np.exp(logits - logits.max(-1, keepdims=True))
    return (p / p.sum(-1, keepdims=True)).astype(np.float32)


def plate_batch() -> npt.NDArray[np.float32]:
    """What an OCR model emits: 7 characters over 32 frames, blank elsewhere, peaked softmax."""
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 1, (64, 32, 37))
    logits[:, :, 0] += 6.0
    for t in range(2, 30, 4):
        logits[:, t, :] = rng.normal(0, 1, (64, 37))
        logits[np.arange(64), t, rng.integers(1, 37, 64)] += 8.0
    p = np.exp(logits - logits.max(-1, keepdims=True))
    return (p / p.sum(-1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("kind", ["random", "plates"])
def test_ctc_greedy_alpr(benchmark: Any, kind: str) -> None:
    probs = ctc_batch() if kind == "random" else plate_batch()
    benchmark.group = f"ctc greedy B=64 T=32 C=37 {kind}"
    rows = benchmark(ops.ctc_decode, probs, CHARSET)
    assert [r[0] for r in rows] == [r[0] for r in numpy_ctc_greedy(probs, CHARSET)]


@pytest.mark.parametrize("kind", ["random", "plates"])
def test_ctc_greedy_numpy(benchmark: Any, kind: str) -> None:
    probs = ctc_batch() if kind == "random" else plate_batch()
    benchmark.group = f"ctc greedy B=64 T=32 C=37 {kind}"
    benchmark(numpy_ctc_greedy, probs, CHARSET)


def test_ctc_beam10_alpr(benchmark: Any) -> None:
    probs = ctc_batch()
    benchmark.group = "ctc beam B=64 T=32 C=37"
    benchmark(ops.ctc_decode, probs, CHARSET, method="beam", beam_width=10)


def test_ctc_beam10_constrained_alpr(benchmark: Any) -> None:
    probs = ctc_batch()
    benchmark.group = "ctc beam B=64 T=32 C=37"
    benchmark(ops.ctc_decode_constrained, probs, CHARSET, ["LLL9999", "LL99LLL", "9LLL999"], beam_width=10)


# --- YOLO decode + NMS -----------------------------------------------------------------------


@pytest.mark.parametrize("dense", [False, True], ids=["sparse", "dense"])
def test_yolo_alpr(benchmark: Any, dense: bool) -> None:
    head = yolo_head(dense)
    benchmark.group = f"yolo decode+nms (1,13,8400) {'dense' if dense else 'sparse'}"
    det = benchmark(ops.postprocess_yolo, head, num_classes=1, num_keypoints=4)
    _, scores, _ = numpy_yolo(head, 0.25, 0.45, "torchvision")
    np.testing.assert_array_equal(det.scores, scores)


@pytest.mark.parametrize("nms", ["numpy", "cv2", "torchvision"])
@pytest.mark.parametrize("dense", [False, True], ids=["sparse", "dense"])
def test_yolo_baseline(benchmark: Any, dense: bool, nms: str) -> None:
    head = yolo_head(dense)
    benchmark.group = f"yolo decode+nms (1,13,8400) {'dense' if dense else 'sparse'}"
    benchmark(numpy_yolo, head, 0.25, 0.45, nms)
