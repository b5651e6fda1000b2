"""alpr.ops.letterbox / letterbox_batch / LetterboxInfo against the OpenCV + NumPy reference."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pytest

if TYPE_CHECKING:
    from conftest import RefLetterbox

from alpr import ops

TOL = 1.0 / 255 + 1e-6


def smooth(h: int, w: int, c: int = 3, seed: int = 0) -> npt.NDArray[np.uint8]:
    rng = np.random.default_rng(seed)
    shape = (h, w, c) if c > 1 else (h, w)
    return rng.integers(0, 256, shape, dtype=np.uint8)


SIZES = [
    (1080, 1920, 640, 640),
    (1080, 1920, 384, 384),
    (1, 1, 64, 64),
    (1, 1, 1, 1),
    (2, 2, 1, 1),
    (7, 13, 32, 32),
    (13, 7, 31, 17),
    (100, 3, 64, 64),
    (3, 500, 64, 64),
    (2000, 10, 64, 64),
    (10, 2000, 64, 64),
    (480, 640, 640, 640),
    (33, 77, 100, 100),
    (64, 64, 64, 64),
    (240, 320, 640, 384),
    (121, 53, 160, 320),
]


@pytest.mark.parametrize(("h", "w", "tw", "th"), SIZES)
def test_matches_opencv(h: int, w: int, tw: int, th: int, ref_letterbox: RefLetterbox) -> None:
    img = smooth(h, w, seed=h * 7 + w)
    t, info = ops.letterbox(img, (tw, th))
    ref, (r, left, top) = ref_letterbox(img, tw, th)
    assert t.shape == (1, 3, th, tw)
    assert t.dtype == np.float32
    assert t.flags.c_contiguous
    np.testing.assert_allclose(t, ref, atol=TOL, rtol=0)
    assert info.scale == pytest.approx(r)
    assert info.pad == (left, top)
    assert (info.src_width, info.src_height, info.width, info.height) == (w, h, tw, th)


def test_int_size_and_rgb_order_and_gray(ref_letterbox: RefLetterbox) -> None:
    img = smooth(37, 91)
    t_bgr, _ = ops.letterbox(img, 64)
    t_rgb, _ = ops.letterbox(np.ascontiguousarray(img[..., ::-1]), 64, input_order="rgb")
    np.testing.assert_array_equal(t_bgr, t_rgb)
    gray = smooth(37, 91, c=1)
    t, _ = ops.letterbox(gray, 64)
    ref, _ = ref_letterbox(gray, 64, 64)
    np.testing.assert_allclose(t, ref, atol=TOL, rtol=0)
    t1, _ = ops.letterbox(gray[..., None], 64)
    np.testing.assert_array_equal(t, t1)


def test_pad_value_scale_float16() -> None:
    img = smooth(20, 40)
    t, _ = ops.letterbox(img, 40, pad_value=0, scale=1.0)
    assert t[0, :, 0, 0].tolist() == [0.0, 0.0, 0.0]
    assert float(t.max()) > 1.5
    t16, _ = ops.letterbox(img, 40, dtype=np.float16)
    t32, _ = ops.letterbox(img, 40)
    assert t16.dtype == np.float16
    np.testing.assert_allclose(t16.astype(np.float32), t32, atol=1e-3)
    assert t32[0, 0, 0, 0] == pytest.approx(114 / 255)


def test_strided_roi_view_is_read_without_copy(ref_letterbox: RefLetterbox) -> None:
    big = smooth(300, 400)
    roi = big[50:250, 30:370]
    assert not roi.flags.c_contiguous
    t, info = ops.letterbox(roi, 96)
    ref, _ = ref_letterbox(np.ascontiguousarray(roi), 96, 96)
    np.testing.assert_allclose(t, ref, atol=TOL, rtol=0)
    assert (info.src_width, info.src_height) == (340, 200)
    # A single-row view has an arbitrary row stride.
    t1, _ = ops.letterbox(big[5:6, :, :], 16)
    ref1, _ = ref_letterbox(np.ascontiguousarray(big[5:6]), 16, 16)
    np.testing.assert_allclose(t1, ref1, atol=TOL, rtol=0)


@pytest.mark.parametrize(
    "view",
    [
        lambda a: a[:, ::2],
        lambda a: a[::-1],
        lambda a: a[..., ::-1],
        lambda a: np.asfortranarray(a),
        lambda a: a.transpose(1, 0, 2),
    ],
)
def test_unpacked_pixels_raise_with_hint(view: object) -> None:
    img = smooth(10, 12)
    v = view(img)  # type: ignore[operator]
    with pytest.raises(ValueError, match="ascontiguousarray"):
        ops.letterbox(v, 32)


@pytest.mark.parametrize(
    ("frame", "exc", "match"),
    [
        (np.zeros((10, 10, 3), np.float32), TypeError, "expected uint8, got float32"),
        (np.zeros((10, 10, 3), np.uint16), TypeError, "got uint16"),
        (np.zeros((10, 10, 4), np.uint8), ValueError, r"got shape \(10, 10, 4\)"),
        (np.zeros((10,), np.uint8), ValueError, r"got shape \(10,\)"),
        (np.zeros((2, 10, 10, 3), np.uint8), ValueError, "got shape"),
        (np.zeros((0, 10, 3), np.uint8), ValueError, "non-empty"),
        (np.zeros((10, 0), np.uint8), ValueError, "non-empty"),
        ([[1, 2], [3, 4]], TypeError, "numpy.ndarray"),
    ],
)
def test_bad_frames(frame: object, exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=match):
        ops.letterbox(frame, 32)  # type: ignore[arg-type]


def test_bad_arguments() -> None:
    img = smooth(8, 8)
    with pytest.raises(ValueError, match="input_order"):
        ops.letterbox(img, 32, input_order="yuv")
    with pytest.raises(TypeError, match="dtype"):
        ops.letterbox(img, 32, dtype=np.float64)
    with pytest.raises(ValueError, match="size"):
        ops.letterbox(img, 0)
    with pytest.raises(ValueError, match=r"size: expected 1\.\.=8192"):
        ops.letterbox(img, (9000, 10))
    with pytest.raises(TypeError, match="size"):
        ops.letterbox(img, "640")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="finite"):
        ops.letterbox(img, 32, scale=float("nan"))


def test_out_is_written_in_place(ref_letterbox: RefLetterbox) -> None:
    img = smooth(30, 50)
    out = np.full((1, 3, 48, 64), -1, np.float32)
    t, _ = ops.letterbox(img, (64, 48), out=out)
    assert t is out
    ref, _ = ref_letterbox(img, 64, 48)
    np.testing.assert_allclose(out, ref, atol=TOL, rtol=0)
    out16 = np.zeros((1, 3, 48, 64), np.float16)
    t16, _ = ops.letterbox(img, (64, 48), out=out16, dtype=np.float16)
    assert t16 is out16
    np.testing.assert_allclose(out16.astype(np.float32), ref, atol=2e-3 + TOL)


@pytest.mark.parametrize(
    ("out", "exc", "match"),
    [
        (np.zeros((1, 3, 32, 31), np.float32), ValueError, r"expected shape \(1, 3, 32, 32\)"),
        (np.zeros((3, 32, 32), np.float32), ValueError, "expected shape"),
        (np.zeros((1, 3, 32, 32), np.float64), TypeError, "float64"),
        (np.zeros((1, 3, 32, 64), np.float32)[..., ::2], ValueError, "C-contiguous"),
        ([0.0], TypeError, "numpy.ndarray"),
    ],
)
def test_bad_out(out: object, exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=match):
        ops.letterbox(smooth(8, 8), 32, out=out)  # type: ignore[arg-type]


def test_read_only_out_is_rejected() -> None:
    out = np.zeros((1, 3, 8, 8), np.float32)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="out"):
        ops.letterbox(smooth(8, 8), 8, out=out)


def test_batch_mixed_sizes_and_out(ref_letterbox: RefLetterbox) -> None:
    frames = [smooth(40, 60, seed=1), smooth(1, 1, seed=2), smooth(90, 30, seed=3)[10:80]]
    t, infos = ops.letterbox_batch(frames, 48)
    assert t.shape == (3, 3, 48, 48)
    for k, f in enumerate(frames):
        ref, (_, left, top) = ref_letterbox(np.ascontiguousarray(f), 48, 48)
        np.testing.assert_allclose(t[k : k + 1], ref, atol=TOL, rtol=0)
        assert infos[k].pad == (left, top)
    out = np.empty((3, 3, 48, 48), np.float32)
    t2, _ = ops.letterbox_batch(frames, 48, out=out)
    assert t2 is out
    np.testing.assert_array_equal(out, t)
    empty, none = ops.letterbox_batch([], 48)
    assert empty.shape == (0, 3, 48, 48) and none == []
    with pytest.raises(ValueError, match=r"frames\[1\]"):
        ops.letterbox_batch([frames[0], np.zeros((0, 3, 3), np.uint8)], 48)


def test_info_mapping_round_trip_and_clip() -> None:
    img = smooth(1080, 1920)
    _, info = ops.letterbox(img[::4, ::4].copy(), 640)
    boxes = np.array([[10, 20, 200, 100], [0, 0, 480, 270], [400, 200, 479, 269]], np.float32)
    mapped = info.map_boxes(boxes)
    # Same formula as Ultralytics' scale_boxes, inverse direction.
    np.testing.assert_allclose(mapped[:, [0, 2]], boxes[:, [0, 2]] * info.scale + info.pad_x, rtol=1e-6)
    np.testing.assert_allclose(mapped[:, [1, 3]], boxes[:, [1, 3]] * info.scale + info.pad_y, rtol=1e-6)
    np.testing.assert_allclose(info.unmap_boxes(mapped), boxes, atol=1e-3)
    outside = np.array([[-50, -50, 700, 700]], np.float32)
    np.testing.assert_allclose(info.unmap_boxes(outside), [[0, 0, 480, 270]])
    pts = np.array([[[100, 150], [120, 150]], [[0, 0], [640, 640]]], np.float32)
    back = info.unmap_points(pts)
    assert back.shape == (2, 2, 2)
    np.testing.assert_allclose(back[..., 1], (pts[..., 1] - info.pad_y) / info.scale, rtol=1e-5)
    assert info.unmap_boxes(np.zeros((0, 4), np.float32)).shape == (0, 4)


def test_info_validation_and_value_semantics() -> None:
    info = ops.LetterboxInfo(0.5, 0.0, 10.0, 100, 60, 50, 50)
    assert info == ops.LetterboxInfo(0.5, 0.0, 10.0, 100, 60, 50, 50)
    assert info != ops.LetterboxInfo(0.5, 1.0, 10.0, 100, 60, 50, 50)
    assert "pad_y=10.0" in repr(info)
    with pytest.raises(AttributeError):
        info.scale = 2.0  # type: ignore[misc]
    with pytest.raises(ValueError, match="scale"):
        ops.LetterboxInfo(0.0, 0.0, 0.0, 1, 1, 1, 1)
    with pytest.raises(TypeError, match="float32"):
        info.unmap_boxes(np.zeros((1, 4), np.float64))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        info.unmap_boxes(np.zeros((1, 5), np.float32))
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        info.unmap_points(np.zeros((3, 3), np.float32))


def test_out_sharing_memory_with_the_frame_is_rejected() -> None:
    buf = np.zeros(3 * 8 * 8 * 4, np.uint8)
    frame = buf[: 8 * 8 * 3].reshape(8, 8, 3)
    out = buf.view(np.float32).reshape(1, 3, 8, 8)
    with pytest.raises(ValueError, match="share memory"):
        ops.letterbox(frame, 8, out=out)
