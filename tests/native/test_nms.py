"""alpr.ops.nms against torchvision.ops.nms, a NumPy NMS and cv2.dnn.NMSBoxes."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from alpr import ops

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")


def random_boxes(
    rng: np.random.Generator, n: int, size: float = 640.0
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    xy = rng.uniform(0, size, (n, 2))
    wh = rng.uniform(4, size / 4, (n, 2))
    boxes = np.concatenate([xy, xy + wh], axis=1).astype(np.float32)
    return boxes, rng.uniform(0, 1, n).astype(np.float32)


def numpy_nms(boxes: npt.NDArray[np.float32], scores: npt.NDArray[np.float32], thr: float) -> list[int]:
    """The usual vectorised NumPy NMS (one IoU row per kept box), with the same f32 arithmetic."""
    x1, y1, x2, y2 = boxes.T
    areas = (x2 - x1) * (y2 - y1)
    order = np.argsort(-scores, kind="stable")
    order = order[~np.isnan(scores[order])]
    keep = []
    while order.size:
        i = order[0]
        keep.append(int(i))
        rest = order[1:]
        w = np.maximum(np.float32(0), np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
        h = np.maximum(np.float32(0), np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
        inter = w * h
        with np.errstate(divide="ignore", invalid="ignore"):  # 0/0 for empty boxes: NaN, never suppresses
            iou = inter / (areas[i] + areas[rest] - inter)
        order = rest[~(iou.astype(np.float64) > thr)]
    return keep


def torch_nms(boxes: npt.NDArray[np.float32], scores: npt.NDArray[np.float32], thr: float) -> list[int]:
    valid = np.flatnonzero(~np.isnan(scores))
    kept = torchvision.ops.nms(torch.from_numpy(boxes[valid]), torch.from_numpy(scores[valid]), thr)
    return [int(valid[k]) for k in kept.numpy()]


@pytest.mark.parametrize("n", [1, 2, 10, 100, 1000, 8400])
@pytest.mark.parametrize("thr", [0.0, 0.3, 0.45, 0.7, 1.0])
def test_matches_torchvision_and_numpy(n: int, thr: float) -> None:
    rng = np.random.default_rng(n)
    boxes, scores = random_boxes(rng, n)
    got = ops.nms(boxes, scores, thr)
    assert got.dtype == np.int64
    assert got.tolist() == torch_nms(boxes, scores, thr)
    assert got.tolist() == numpy_nms(boxes, scores, thr)


def test_matches_cv2_nmsboxes() -> None:
    rng = np.random.default_rng(7)
    boxes, scores = random_boxes(rng, 500)
    xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1).astype(np.float64)
    want = cv2.dnn.NMSBoxes(xywh.tolist(), scores.tolist(), 0.0, 0.45)
    got = ops.nms(boxes, scores, 0.45)
    assert got.tolist() == np.asarray(want).reshape(-1).tolist()


def test_ties_keep_lower_index_first_like_torchvision() -> None:
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [50, 50, 60, 60], [50, 50, 60, 60]], np.float32)
    scores = np.array([0.5, 0.5, 0.5, 0.9], np.float32)
    assert ops.nms(boxes, scores, 0.5).tolist() == [3, 0] == torch_nms(boxes, scores, 0.5)


def test_iou_equal_to_threshold_is_kept() -> None:
    # IoU of these boxes is exactly 0.5 (area 2, intersection 1... union 2): 1 / 2.
    boxes = np.array([[0, 0, 2, 1], [1, 0, 2, 1]], np.float32)  # inter 1, union 2
    scores = np.array([0.9, 0.8], np.float32)
    assert ops.nms(boxes, scores, 0.5).tolist() == [0, 1]
    assert ops.nms(boxes, scores, 0.49).tolist() == [0]


def test_nan_scores_never_kept() -> None:
    rng = np.random.default_rng(3)
    boxes, scores = random_boxes(rng, 200)
    scores[::7] = np.nan
    got = ops.nms(boxes, scores, 0.5)
    assert not np.isnan(scores[got]).any()
    assert got.tolist() == numpy_nms(boxes, scores, 0.5) == torch_nms(boxes, scores, 0.5)
    assert ops.nms(boxes[:1], np.array([np.nan], np.float32), 0.5).tolist() == []


def test_empty_and_max_det() -> None:
    empty = ops.nms(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), 0.5)
    assert empty.dtype == np.int64 and empty.shape == (0,)
    rng = np.random.default_rng(1)
    boxes, scores = random_boxes(rng, 300)
    full = ops.nms(boxes, scores, 0.5)
    assert ops.nms(boxes, scores, 0.5, max_det=5).tolist() == full[:5].tolist()
    assert ops.nms(boxes, scores, 0.5, max_det=0).tolist() == []


def test_class_aware_matches_batched_nms() -> None:
    rng = np.random.default_rng(11)
    boxes, scores = random_boxes(rng, 1000)
    classes = rng.integers(0, 4, 1000).astype(np.int64)
    got = ops.nms(boxes, scores, 0.5, class_ids=classes)
    want = torchvision.ops.batched_nms(
        torch.from_numpy(boxes), torch.from_numpy(scores), torch.from_numpy(classes), 0.5
    )
    assert got.tolist() == want.numpy().tolist()
    # Per class, the kept set is plain NMS over that class.
    for c in range(4):
        idx = np.flatnonzero(classes == c)
        sub = ops.nms(boxes[idx], scores[idx], 0.5)
        assert sorted(idx[sub].tolist()) == sorted(i for i in got.tolist() if classes[i] == c)


@pytest.mark.parametrize(
    ("boxes", "scores", "error", "match"),
    [
        (np.zeros((3, 4), np.float64), np.zeros(3, np.float32), TypeError, r"boxes: expected .*float32, got"),
        (
            np.zeros((3, 5), np.float32),
            np.zeros(3, np.float32),
            ValueError,
            r"expected \(N, 4\).*got \(3, 5\)",
        ),
        (np.zeros(12, np.float32), np.zeros(3, np.float32), ValueError, r"got \(12,\)"),
        (np.zeros((3, 4), np.float32), np.zeros(2, np.float32), ValueError, r"scores: expected \(3,\)"),
        (
            np.zeros((3, 4), np.float32),
            np.zeros(3, np.int32),
            TypeError,
            r"scores: expected .*got \(3,\) int32",
        ),
        ([[0, 0, 1, 1]], np.zeros(1, np.float32), TypeError, r"boxes: expected a numpy.ndarray .*got list"),
        (np.zeros((3, 8), np.float32)[:, ::2], np.zeros(3, np.float32), ValueError, "C-contiguous"),
    ],
)
def test_bad_input_says_expected_vs_got(
    boxes: object, scores: object, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        ops.nms(boxes, scores, 0.5)  # type: ignore[arg-type]


def test_bad_arguments() -> None:
    boxes, scores = np.zeros((2, 4), np.float32), np.zeros(2, np.float32)
    with pytest.raises(ValueError, match="iou_threshold: expected a number, got NaN"):
        ops.nms(boxes, scores, float("nan"))
    with pytest.raises(ValueError, match="max_det: expected >= 0, got -1"):
        ops.nms(boxes, scores, 0.5, max_det=-1)
    with pytest.raises(ValueError, match=r"class_ids: expected \(2,\)"):
        ops.nms(boxes, scores, 0.5, class_ids=np.zeros(3, np.int64))
    with pytest.raises(TypeError, match=r"class_ids: expected .*int64"):
        ops.nms(boxes, scores, 0.5, class_ids=np.zeros(2, np.int32))  # type: ignore[arg-type]


coords = st.floats(-50, 50, width=32, allow_nan=False)


@settings(max_examples=150, deadline=None)
@given(
    raw=hnp.arrays(np.float32, st.tuples(st.integers(0, 30), st.just(4)), elements=coords),
    data=st.data(),
    thr=st.floats(0, 1),
)
def test_hypothesis_matches_numpy_reference(
    raw: npt.NDArray[np.float32], data: st.DataObject, thr: float
) -> None:
    # Degenerate boxes (x2 < x1) included: the arithmetic is the same as torchvision's.
    n = raw.shape[0]
    scores = data.draw(
        hnp.arrays(
            np.float32, n, elements=st.sampled_from([0.1, 0.5, 0.9, float("nan")]) | st.floats(0, 1, width=32)
        )
    )
    got = ops.nms(raw, scores, thr)
    assert got.tolist() == numpy_nms(raw, scores, thr)
    valid = raw[:, 2:] >= raw[:, :2]
    if valid.all():
        assert got.tolist() == torch_nms(raw, scores, thr)
