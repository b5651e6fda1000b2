"""alpr.ops.crop_plates against cv2.resize on the ROI and cv2.warpPerspective."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from alpr import ops

TOL = 1.0 / 255 + 1e-5


def scene(h: int = 120, w: int = 200, seed: int = 0) -> npt.NDArray[np.uint8]:
    """Random but smooth (bilinear-friendly) BGR frame."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (h // 8 + 2, w // 8 + 2, 3), dtype=np.uint8)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def to_tensor(bgr: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    return np.ascontiguousarray(bgr[..., ::-1].transpose(2, 0, 1)).astype(np.float32) / 255


@pytest.mark.parametrize(
    "box",
    [
        (10, 20, 90, 44),
        (0, 0, 200, 120),
        (150, 100, 200, 120),
        (5, 5, 6, 6),
        (30, 40, 33, 100),
        (1, 2, 199, 3),
    ],
)
@pytest.mark.parametrize(("h", "w"), [(32, 128), (24, 94), (1, 1), (48, 17)])
def test_boxes_match_cv2_resize_of_roi(box: tuple[int, int, int, int], h: int, w: int) -> None:
    frame = scene()
    x1, y1, x2, y2 = box
    crops = ops.crop_plates(frame, np.array([box], np.float32), height=h, width=w)
    assert crops.shape == (1, 3, h, w) and crops.dtype == np.float32
    ref = to_tensor(cv2.resize(frame[y1:y2, x1:x2], (w, h), interpolation=cv2.INTER_LINEAR))
    np.testing.assert_allclose(crops[0], ref, atol=TOL, rtol=0)


def test_batch_gray_uint8_nhwc_mean_std_float16() -> None:
    frame = scene(seed=1)
    boxes = np.array([[10, 20, 90, 44], [100, 30, 180, 90]], np.float32)
    refs = [
        cv2.resize(
            frame[int(b[1]) : int(b[3]), int(b[0]) : int(b[2])], (64, 16), interpolation=cv2.INTER_LINEAR
        )
        for b in boxes
    ]
    rgb = ops.crop_plates(frame, boxes, height=16, width=64)
    for k in range(2):
        np.testing.assert_allclose(rgb[k], to_tensor(refs[k]), atol=TOL, rtol=0)
    gray = ops.crop_plates(frame, boxes, height=16, width=64, gray=True)
    assert gray.shape == (2, 1, 16, 64)
    for k in range(2):
        g = cv2.cvtColor(refs[k], cv2.COLOR_BGR2GRAY).astype(np.float32) / 255
        np.testing.assert_allclose(gray[k, 0], g, atol=TOL + 1 / 255, rtol=0)
    raw = ops.crop_plates(frame, boxes, height=16, width=64, dtype=np.uint8, layout="nhwc")
    assert raw.shape == (2, 16, 64, 3) and raw.dtype == np.uint8
    assert np.abs(raw[0].astype(np.int16) - refs[0][..., ::-1]).max() <= 1
    norm = ops.crop_plates(frame, boxes, height=16, width=64, mean=0.5, std=0.25)
    np.testing.assert_allclose(norm, (rgb - 0.5) / 0.25, atol=1e-5)
    per = ops.crop_plates(frame, boxes, height=16, width=64, mean=(0.1, 0.2, 0.3), std=(1, 2, 4))
    np.testing.assert_allclose(per[:, 2], (rgb[:, 2] - 0.3) / 4, atol=1e-6)
    half = ops.crop_plates(frame, boxes, height=16, width=64, dtype=np.float16)
    assert half.dtype == np.float16
    np.testing.assert_allclose(half.astype(np.float32), rgb, atol=1e-3)
    nhwc = ops.crop_plates(frame, boxes, height=16, width=64, layout="nhwc")
    np.testing.assert_array_equal(nhwc, rgb.transpose(0, 2, 3, 1))


def test_keep_aspect_pads_right() -> None:
    frame = scene(seed=2)
    boxes = np.array([[10, 10, 50, 30], [0, 0, 200, 20]], np.float32)
    crops = ops.crop_plates(frame, boxes, height=32, width=128, keep_aspect=True, pad=-1.0)
    # 40x20 -> 64x32 content; 200x20 -> capped at 128.
    ref = to_tensor(cv2.resize(frame[10:30, 10:50], (64, 32), interpolation=cv2.INTER_LINEAR))
    np.testing.assert_allclose(crops[0, :, :, :64], ref, atol=TOL, rtol=0)
    assert (crops[0, :, :, 64:] == -1.0).all()
    ref2 = to_tensor(cv2.resize(frame[0:20, 0:200], (128, 32), interpolation=cv2.INTER_LINEAR))
    np.testing.assert_allclose(crops[1], ref2, atol=TOL, rtol=0)


def cv2_warp(
    frame: npt.NDArray[np.uint8], quad: npt.NDArray[np.float32], w: int, h: int
) -> npt.NDArray[np.uint8]:
    """cv2 reference with alpr's convention (pixel centres at +0.5, rectangle (0,0)-(w,h))."""
    rect = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    hm = cv2.getPerspectiveTransform(rect, quad.astype(np.float32))
    shift = lambda d: np.array([[1, 0, d], [0, 1, d], [0, 0, 1]], np.float64)  # noqa: E731
    m = shift(-0.5) @ hm @ shift(0.5)
    return cv2.warpPerspective(
        frame, m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE
    )


@pytest.mark.parametrize(
    "quad",
    [
        [[20, 30], [120, 40], [118, 70], [22, 62]],
        [[50.5, 10.25], [150.75, 5.5], [160, 60], [40, 55.5]],
        [[-10, -5], [60, 0], [70, 40], [0, 30]],
        [[100, 50], [140, 50], [140, 60], [100, 60]],
    ],
)
def test_corners_match_cv2_warp_perspective(quad: list[list[float]]) -> None:
    frame = scene(seed=3)
    q = np.array([quad], np.float32)
    crops = ops.crop_plates(frame, corners=q, height=24, width=96)
    ref = to_tensor(cv2_warp(frame, q[0], 96, 24))
    # cv2 quantises sample positions to 1/32 px.
    np.testing.assert_allclose(crops[0], ref, atol=3 / 255, rtol=0)
    assert np.abs(crops[0] - ref).mean() < 0.5 / 255


def test_rectangle_corners_equal_box_crop() -> None:
    frame = scene(seed=4)
    box = np.array([[30, 20, 110, 50]], np.float32)
    quad = np.array([[[30, 20], [110, 20], [110, 50], [30, 50]]], np.float32)
    a = ops.crop_plates(frame, box, height=16, width=48)
    b = ops.crop_plates(frame, corners=quad, height=16, width=48)
    np.testing.assert_allclose(a, b, atol=1e-4)


def test_roi_view_frame_and_gray_frame() -> None:
    big = scene(seed=5)
    roi = big[10:110, 20:180]
    boxes = np.array([[5, 5, 60, 25]], np.float32)
    a = ops.crop_plates(roi, boxes, height=8, width=32)
    b = ops.crop_plates(np.ascontiguousarray(roi), boxes, height=8, width=32)
    np.testing.assert_array_equal(a, b)
    g = cv2.cvtColor(big, cv2.COLOR_BGR2GRAY)
    crops = ops.crop_plates(g, boxes, height=8, width=32)
    ref = cv2.resize(g[5:25, 5:60], (32, 8), interpolation=cv2.INTER_LINEAR).astype(np.float32) / 255
    for c in range(3):
        np.testing.assert_allclose(crops[0, c], ref, atol=TOL, rtol=0)


def test_empty_and_outside_boxes() -> None:
    frame = scene()
    empty = ops.crop_plates(frame, np.zeros((0, 4), np.float32), height=8, width=16)
    assert empty.shape == (0, 3, 8, 16)
    # Boxes partly or fully outside the frame and zero-area boxes replicate edge pixels.
    out = ops.crop_plates(
        frame,
        np.array([[-50, -50, 10, 10], [300, 300, 400, 400], [5, 5, 5, 5]], np.float32),
        height=4,
        width=4,
    )
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out[1, :, 0, 0], to_tensor(frame[-1:, -1:])[:, 0, 0], atol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({}, ValueError, "exactly one of boxes or corners"),
        (
            {"boxes": np.zeros((1, 4), np.float32), "corners": np.zeros((1, 4, 2), np.float32)},
            ValueError,
            "one of",
        ),
        ({"boxes": np.zeros((1, 5), np.float32)}, ValueError, r"\(N, 4\)"),
        ({"boxes": np.zeros((1, 4), np.float64)}, TypeError, "float32"),
        ({"boxes": np.zeros((4, 4), np.float32)[::2]}, ValueError, "C-contiguous"),
        ({"boxes": np.array([[0, 0, np.nan, 4]], np.float32)}, ValueError, "finite"),
        ({"corners": np.zeros((1, 4), np.float32)}, ValueError, r"\(N, 4, 2\)"),
        ({"corners": np.ones((1, 4, 2), np.float32)}, ValueError, "degenerate"),
        ({"corners": np.full((1, 4, 2), np.inf, np.float32)}, ValueError, "finite"),
        ({"boxes": np.zeros((1, 4), np.float32), "std": 0.0}, ValueError, "std"),
        ({"boxes": np.zeros((1, 4), np.float32), "mean": (1.0, 2.0)}, ValueError, "mean"),
        ({"boxes": np.zeros((1, 4), np.float32), "layout": "chw"}, ValueError, "layout"),
        ({"boxes": np.zeros((1, 4), np.float32), "dtype": np.int32}, TypeError, "dtype"),
        ({"boxes": np.zeros((1, 4), np.float32), "height": 0}, ValueError, "height"),
    ],
)
def test_crop_errors(kwargs: dict[str, object], exc: type[Exception], match: str) -> None:
    args: dict[str, object] = {"height": 8, "width": 16, **kwargs}
    with pytest.raises(exc, match=match):
        ops.crop_plates(scene(), **args)  # type: ignore[arg-type]


def test_bad_frame() -> None:
    with pytest.raises(TypeError, match="uint8"):
        ops.crop_plates(np.zeros((4, 4, 3), np.float32), np.zeros((1, 4), np.float32), height=2, width=2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="non-empty"):
        ops.crop_plates(np.zeros((0, 4, 3), np.uint8), np.zeros((1, 4), np.float32), height=2, width=2)
