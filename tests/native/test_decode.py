"""alpr.ops.decode_yolo / postprocess_yolo against a NumPy + torchvision version of the Ultralytics
post-processing (``ultralytics.utils.ops.non_max_suppression`` + ``scale_boxes``)."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, dataclass

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alpr import ops

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")


def make_head(
    rng: np.random.Generator, nc: int, k: int, n: int, d: int = 2, size: float = 640.0
) -> npt.NDArray[np.float32]:
    """A (1, 4 + nc + k*d, n) head: boxes in pixels, sigmoid-like scores, keypoints in pixels."""
    head = np.empty((1, 4 + nc + k * d, n), np.float32)
    head[0, 0:2] = rng.uniform(0, size, (2, n))
    head[0, 2:4] = rng.uniform(5, size / 5, (2, n))
    head[0, 4 : 4 + nc] = rng.uniform(0, 1, (nc, n)) ** 3
    head[0, 4 + nc :] = rng.uniform(-10, size + 10, (k * d, n))
    return head


def reference_decode(
    head: npt.NDArray[np.floating], nc: int, k: int, d: int, thr: float
) -> tuple[npt.NDArray[np.float32], ...]:
    x = head.reshape(head.shape[-2], head.shape[-1]).astype(np.float32).T  # (N, C): the transpose copy
    cls = x[:, 4 : 4 + nc]
    conf = cls.max(1)
    j = cls.argmax(1)
    keep = conf > thr
    xywh = x[keep, :4]
    boxes = np.concatenate([xywh[:, :2] - xywh[:, 2:] / 2, xywh[:, :2] + xywh[:, 2:] / 2], 1)
    kps = x[keep, 4 + nc :].reshape(int(keep.sum()), k, d)
    return boxes.astype(np.float32), conf[keep], j[keep].astype(np.int64), kps


def reference_postprocess(
    head: npt.NDArray[np.floating],
    nc: int,
    k: int,
    conf: float,
    iou: float,
    max_det: int,
    agnostic: bool,
) -> tuple[npt.NDArray[np.float32], ...]:
    boxes, scores, cls, kps = reference_decode(head, nc, k, 2, conf)
    order = np.argsort(-scores, kind="stable")
    boxes, scores, cls, kps = boxes[order], scores[order], cls[order], kps[order]
    tb, ts = torch.from_numpy(boxes), torch.from_numpy(scores)
    if agnostic:
        keep = torchvision.ops.nms(tb, ts, iou)
    else:
        keep = torchvision.ops.batched_nms(tb, ts, torch.from_numpy(cls), iou)
    keep = keep.numpy()[:max_det]
    return boxes[keep], scores[keep], cls[keep], kps[keep]


@pytest.mark.parametrize(("nc", "k"), [(1, 0), (1, 4), (3, 0), (80, 0), (2, 17)])
@pytest.mark.parametrize("batched", [True, False])
def test_decode_matches_reference(nc: int, k: int, batched: bool) -> None:
    rng = np.random.default_rng(nc * 100 + k)
    head = make_head(rng, nc, k, 2100)
    if not batched:
        head = np.ascontiguousarray(head[0])
    det = ops.decode_yolo(head, num_classes=nc, score_threshold=0.25, num_keypoints=k)
    boxes, scores, cls, kps = reference_decode(head, nc, k, 2, 0.25)
    np.testing.assert_array_equal(det.boxes, boxes)
    np.testing.assert_array_equal(det.scores, scores)
    np.testing.assert_array_equal(det.class_ids, cls)
    np.testing.assert_array_equal(det.keypoints, kps)
    assert det.boxes.dtype == np.float32 and det.class_ids.dtype == np.int64
    assert det.keypoints.shape == (len(det), k, 2)


def test_keypoints_with_visibility() -> None:
    rng = np.random.default_rng(17)
    head = make_head(rng, 1, 17, 1000, d=3)
    det = ops.decode_yolo(head, num_classes=1, score_threshold=0.2, num_keypoints=17, keypoint_dim=3)
    _, scores, _, kps = reference_decode(head, 1, 17, 3, 0.2)
    np.testing.assert_array_equal(det.scores, scores)
    np.testing.assert_array_equal(det.keypoints, kps)
    info = FakeInfo(scale=0.5, pad_x=10.0, pad_y=20.0, src_width=1280, src_height=1280)
    post = ops.postprocess_yolo(head, info, num_classes=1, num_keypoints=17, keypoint_dim=3)
    raw = ops.postprocess_yolo(head, num_classes=1, num_keypoints=17, keypoint_dim=3)
    # x, y are mapped to the frame; the third value (visibility) is left alone.
    np.testing.assert_array_equal(post.keypoints[..., 2], raw.keypoints[..., 2])
    want_x = np.clip((raw.keypoints[..., 0] - np.float32(10)) / np.float32(0.5), 0, 1280)
    np.testing.assert_allclose(post.keypoints[..., 0], want_x, rtol=1e-6)


def test_float16_head_is_read_as_float16() -> None:
    rng = np.random.default_rng(5)
    head = make_head(rng, 1, 4, 8400).astype(np.float16)
    det = ops.decode_yolo(head, num_classes=1, score_threshold=0.3, num_keypoints=4)
    boxes, scores, _, kps = reference_decode(head, 1, 4, 2, 0.3)
    np.testing.assert_array_equal(det.scores, scores)
    np.testing.assert_array_equal(det.boxes, boxes)
    np.testing.assert_array_equal(det.keypoints, kps)
    post = ops.postprocess_yolo(head, num_classes=1, num_keypoints=4)
    ref = ops.postprocess_yolo(head.astype(np.float32), num_classes=1, num_keypoints=4)
    np.testing.assert_array_equal(post.boxes, ref.boxes)


@pytest.mark.parametrize("agnostic", [True, False])
@pytest.mark.parametrize(("conf", "iou", "max_det"), [(0.25, 0.45, 300), (0.1, 0.7, 1000), (0.5, 0.3, 5)])
def test_postprocess_matches_ultralytics_reference(
    agnostic: bool, conf: float, iou: float, max_det: int
) -> None:
    rng = np.random.default_rng(42)
    head = make_head(rng, 3, 4, 8400)
    det = ops.postprocess_yolo(
        head,
        num_classes=3,
        conf_threshold=conf,
        iou_threshold=iou,
        max_det=max_det,
        num_keypoints=4,
        agnostic=agnostic,
    )
    boxes, scores, cls, kps = reference_postprocess(head, 3, 4, conf, iou, max_det, agnostic)
    np.testing.assert_array_equal(det.scores, scores)
    np.testing.assert_array_equal(det.boxes, boxes)
    np.testing.assert_array_equal(det.class_ids, cls)
    np.testing.assert_array_equal(det.keypoints, kps)


@dataclass(frozen=True)
class FakeInfo:
    """Stands in for alpr.ops.LetterboxInfo (same attribute names)."""

    scale: float
    pad_x: float
    pad_y: float
    src_width: int
    src_height: int


def test_mapping_back_to_frame_pixels() -> None:
    rng = np.random.default_rng(9)
    head = make_head(rng, 1, 4, 8400)
    info = FakeInfo(scale=640 / 1920, pad_x=0.0, pad_y=140.0, src_width=1920, src_height=1080)
    tensor = ops.postprocess_yolo(head, num_classes=1, num_keypoints=4)
    frame = ops.postprocess_yolo(head, info, num_classes=1, num_keypoints=4)
    np.testing.assert_array_equal(frame.scores, tensor.scores)
    # Ultralytics scale_boxes: subtract the padding, divide by the gain, clip to the frame.
    want = tensor.boxes.copy()
    want[:, [0, 2]] = np.clip((want[:, [0, 2]] - np.float32(info.pad_x)) / np.float32(info.scale), 0, 1920)
    want[:, [1, 3]] = np.clip((want[:, [1, 3]] - np.float32(info.pad_y)) / np.float32(info.scale), 0, 1080)
    np.testing.assert_allclose(frame.boxes, want, rtol=1e-6, atol=1e-3)
    kp = tensor.keypoints.copy()
    kp[..., 0] = np.clip((kp[..., 0] - np.float32(info.pad_x)) / np.float32(info.scale), 0, 1920)
    kp[..., 1] = np.clip((kp[..., 1] - np.float32(info.pad_y)) / np.float32(info.scale), 0, 1080)
    np.testing.assert_allclose(frame.keypoints, kp, rtol=1e-6, atol=1e-3)
    assert frame.boxes[:, [0, 2]].max() <= 1920 and frame.boxes.min() >= 0


def test_mapping_through_a_real_letterbox_info() -> None:
    letterbox_info = getattr(ops, "LetterboxInfo", None)
    if letterbox_info is None or not hasattr(ops, "letterbox"):
        pytest.skip("the image section of alpr.ops is not built")
    frame = np.zeros((360, 640, 3), np.uint8)
    _, info = ops.letterbox(frame, 320)
    head = np.zeros((1, 5, 2), np.float32)
    head[0, :, 0] = [160, 160, 32, 18, 0.9]  # centre of the tensor, 32x18 px
    det = ops.postprocess_yolo(head, info, num_classes=1)
    cx, cy = 320.0, 180.0
    np.testing.assert_allclose(det.boxes[0], [cx - 32, cy - 18, cx + 32, cy + 18], atol=1.0)


def test_detections_are_frozen_and_empty_shapes() -> None:
    head = np.zeros((1, 13, 100), np.float32)
    det = ops.postprocess_yolo(head, num_classes=1, num_keypoints=4)
    assert len(det) == 0
    assert det.boxes.shape == (0, 4) and det.scores.shape == (0,) and det.keypoints.shape == (0, 4, 2)
    with pytest.raises(FrozenInstanceError):
        det.boxes = det.boxes  # type: ignore[misc]
    none = ops.decode_yolo(np.zeros((5, 0), np.float32), num_classes=1, score_threshold=0.0)
    assert none.boxes.shape == (0, 4) and none.keypoints.shape == (0, 0, 2)


def test_nan_scores_never_decoded() -> None:
    head = np.zeros((1, 6, 3), np.float32)
    head[0, 4] = [np.nan, 0.9, np.nan]
    head[0, 5] = [0.1, np.nan, np.nan]
    det = ops.decode_yolo(head, num_classes=2, score_threshold=0.05)
    assert det.scores.tolist() == pytest.approx([0.1, 0.9])
    assert det.class_ids.tolist() == [1, 0]


@pytest.mark.parametrize(
    ("head", "kwargs", "error", "match"),
    [
        (
            np.zeros((1, 13, 10), np.float64),
            {},
            TypeError,
            r"float32 or float16 .* got \(1, 13, 10\) float64",
        ),
        (
            np.zeros((1, 12, 10), np.float32),
            {},
            ValueError,
            r"expected 13 channels .*got shape \[1, 12, 10\]",
        ),
        (np.zeros((2, 13, 10), np.float32), {}, ValueError, r"expected \(1, 13, N\) or \(13, N\)"),
        (np.zeros((13,), np.float32), {}, ValueError, r"expected \(1, 13, N\)"),
        (np.zeros((1, 10, 13), np.float32).transpose(0, 2, 1), {}, ValueError, "C-contiguous"),
        (
            np.zeros((1, 13, 10), np.float32),
            {"num_classes": 0},
            ValueError,
            "num_classes: expected >= 1, got 0",
        ),
        (
            np.zeros((1, 13, 10), np.float32),
            {"num_keypoints": -1},
            ValueError,
            "num_keypoints: expected >= 0",
        ),
        ([[0.0]], {}, TypeError, "expected a numpy.ndarray"),
    ],
)
def test_bad_heads_say_expected_vs_got(
    head: object, kwargs: dict[str, int], error: type[Exception], match: str
) -> None:
    args = {"num_classes": 1, "num_keypoints": 4} | kwargs
    with pytest.raises(error, match=match):
        ops.decode_yolo(head, score_threshold=0.25, **args)  # type: ignore[arg-type]
    with pytest.raises(error, match=match):
        ops.postprocess_yolo(head, **args)  # type: ignore[arg-type]


def test_bad_thresholds_and_info() -> None:
    head = np.zeros((1, 5, 4), np.float32)
    with pytest.raises(ValueError, match="score_threshold: expected a number, got NaN"):
        ops.decode_yolo(head, num_classes=1, score_threshold=float("nan"))
    with pytest.raises(ValueError, match="iou_threshold"):
        ops.postprocess_yolo(head, num_classes=1, iou_threshold=float("nan"))
    with pytest.raises(ValueError, match="max_det: expected >= 0"):
        ops.postprocess_yolo(head, num_classes=1, max_det=-3)
    with pytest.raises(ValueError, match=r"info.scale: expected a finite number > 0, got 0"):
        ops.postprocess_yolo(head, FakeInfo(0.0, 0, 0, 10, 10), num_classes=1)


@settings(max_examples=60, deadline=None)
@given(
    nc=st.integers(1, 4),
    k=st.integers(0, 4),
    n=st.integers(0, 300),
    seed=st.integers(0, 2**32 - 1),
    conf=st.floats(0, 1),
    iou=st.floats(0, 1),
    agnostic=st.booleans(),
    max_det=st.integers(0, 400),
    f16=st.booleans(),
)
def test_hypothesis_postprocess(
    nc: int, k: int, n: int, seed: int, conf: float, iou: float, agnostic: bool, max_det: int, f16: bool
) -> None:
    rng = np.random.default_rng(seed)
    head = make_head(rng, nc, k, n)
    if f16:
        head = head.astype(np.float16)
    det = ops.postprocess_yolo(
        head,
        num_classes=nc,
        conf_threshold=conf,
        iou_threshold=iou,
        max_det=max_det,
        num_keypoints=k,
        agnostic=agnostic,
    )
    boxes, scores, cls, kps = reference_postprocess(head, nc, k, conf, iou, max_det, agnostic)
    np.testing.assert_array_equal(det.scores, scores)
    np.testing.assert_array_equal(det.class_ids, cls)
    np.testing.assert_array_equal(det.boxes, boxes)
    np.testing.assert_array_equal(det.keypoints, kps)
    dec = ops.decode_yolo(head, num_classes=nc, score_threshold=conf, num_keypoints=k)
    assert len(dec) >= len(det)
