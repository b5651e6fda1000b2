"""Raw camera buffers and JPEG intake against cv2.cvtColor / cv2.imdecode."""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np
import numpy.typing as npt
import pytest

if TYPE_CHECKING:
    from conftest import RefLetterbox

from alpr import errors, ops

TOL = 1.0 / 255 + 1e-6

CV_CODES = {
    "nv12": cv2.COLOR_YUV2BGR_NV12,
    "i420": cv2.COLOR_YUV2BGR_I420,
    "yuyv": cv2.COLOR_YUV2BGR_YUYV,
}


def yuv_buffer(fmt: str, h: int, w: int, seed: int = 0) -> npt.NDArray[np.uint8]:
    """A random buffer shaped as cv2.cvtColor wants it for `fmt`."""
    rng = np.random.default_rng(seed)
    if fmt in ("nv12", "i420"):
        return rng.integers(0, 256, (h * 3 // 2, w), dtype=np.uint8)
    return rng.integers(0, 256, (h, w, 2), dtype=np.uint8)


@pytest.mark.parametrize("fmt", ["nv12", "i420", "yuyv"])
@pytest.mark.parametrize(("h", "w"), [(2, 2), (4, 6), (30, 40), (64, 98), (480, 640)])
def test_yuv_to_bgr_matches_opencv(fmt: str, h: int, w: int) -> None:
    buf = yuv_buffer(fmt, h, w, seed=h + w)
    ref = cv2.cvtColor(buf, CV_CODES[fmt])
    got = ops.raw_to_bgr(buf, w, h, fmt)
    assert got.shape == (h, w, 3) and got.dtype == np.uint8
    diff = np.abs(got.astype(np.int16) - ref)
    assert diff.max() <= 1
    assert (diff > 0).mean() < 0.01


@pytest.mark.parametrize("fmt", ["nv12", "i420", "yuyv", "bgra", "bgr", "rgb", "gray"])
def test_strided_buffers(fmt: str) -> None:
    h, w = 6, 10
    bpp = {"yuyv": 2, "bgra": 4, "bgr": 3, "rgb": 3}.get(fmt, 1)
    rows = h * 3 // 2 if fmt in ("nv12", "i420") else h
    packed = np.random.default_rng(1).integers(0, 256, (rows, w * bpp), dtype=np.uint8)
    stride = w * bpp + 6
    padded = np.zeros((rows, stride), np.uint8)
    if fmt == "i420":
        # Chroma rows are stride // 2 long: repack U and V with their own padding.
        cs, cw = stride // 2, w // 2
        flat = np.zeros(stride * h + cs * h, np.uint8)
        flat[: stride * h].reshape(h, stride)[:, :w] = packed[:h]
        chroma = packed[h:].reshape(-1)
        for k in range(h):  # h/2 rows of U then h/2 rows of V
            flat[stride * h + k * cs : stride * h + k * cs + cw] = chroma[k * cw : (k + 1) * cw]
        data = flat
    else:
        padded[:, : w * bpp] = packed
        data = padded.reshape(-1)
    got = ops.raw_to_bgr(data, w, h, fmt, stride=stride)
    want = ops.raw_to_bgr(packed.reshape(-1), w, h, fmt)
    np.testing.assert_array_equal(got, want)


def test_packed_formats_match_opencv() -> None:
    rng = np.random.default_rng(2)
    bgra = rng.integers(0, 256, (5, 7, 4), dtype=np.uint8)
    np.testing.assert_array_equal(ops.raw_to_bgr(bgra, 7, 5, "bgra"), cv2.cvtColor(bgra, cv2.COLOR_BGRA2BGR))
    rgb = bgra[..., :3].copy()
    np.testing.assert_array_equal(ops.raw_to_bgr(rgb, 7, 5, "rgb"), rgb[..., ::-1])
    gray = bgra[..., 0].copy()
    np.testing.assert_array_equal(ops.raw_to_bgr(gray, 7, 5, "gray"), cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR))


@pytest.mark.parametrize("kind", ["bytes", "bytearray", "memoryview", "ndarray", "ndarray2d"])
def test_any_buffer_object(kind: str) -> None:
    buf = yuv_buffer("nv12", 8, 8)
    data: object = {
        "bytes": buf.tobytes(),
        "bytearray": bytearray(buf.tobytes()),
        "memoryview": memoryview(buf.tobytes()),
        "ndarray": buf.reshape(-1),
        "ndarray2d": buf,
    }[kind]
    got = ops.raw_to_bgr(data, 8, 8, "nv12")  # type: ignore[arg-type]
    np.testing.assert_array_equal(got, ops.raw_to_bgr(buf, 8, 8, "nv12"))


@pytest.mark.parametrize(
    ("args", "kw", "exc", "match"),
    [
        ((b"\0" * 10, 4, 4, "bgr"), {}, ValueError, "expected at least 48 bytes"),
        ((b"\0" * 23, 4, 4, "nv12"), {}, ValueError, "expected at least 24 bytes"),
        ((b"\0" * 100, 3, 4, "nv12"), {}, ValueError, "even width and height"),
        ((b"\0" * 100, 3, 2, "yuyv"), {}, ValueError, "even width"),
        ((b"\0" * 100, 4, 4, "bgr"), {"stride": 11}, ValueError, "stride: expected >= 12"),
        ((b"\0" * 100, 4, 4, "hsv"), {}, ValueError, "fmt: expected one of"),
        ((b"", 0, 4, "gray"), {}, ValueError, "non-empty"),
        ((np.zeros(16, np.float32), 4, 4, "gray"), {}, TypeError, "uint8"),
        ((np.zeros((8, 8), np.uint8)[:, ::2], 4, 4, "gray"), {}, ValueError, "C-contiguous"),
        ((12345, 4, 4, "gray"), {}, TypeError, "buffer"),
    ],
)
def test_raw_errors(args: tuple[object, ...], kw: dict[str, int], exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=match):
        ops.raw_to_bgr(*args, **kw)  # type: ignore[arg-type]
    if exc is ValueError and "fmt" not in match:
        with pytest.raises(exc, match=match):
            ops.letterbox_raw(*args, 32, **kw)  # type: ignore[arg-type, misc]


@pytest.mark.parametrize("fmt", ["nv12", "i420", "yuyv"])
def test_letterbox_raw_matches_cvtcolor_then_letterbox(fmt: str, ref_letterbox: RefLetterbox) -> None:
    h, w = 90, 160
    buf = yuv_buffer(fmt, h, w, seed=5)
    bgr = cv2.cvtColor(buf, CV_CODES[fmt])
    ref, (_, left, top) = ref_letterbox(bgr, 64, 64)
    t, info = ops.letterbox_raw(buf, w, h, fmt, 64)
    np.testing.assert_allclose(t, ref, atol=TOL + 1.0 / 255, rtol=0)
    assert info.pad == (left, top)
    # Bit-identical to converting first with alpr itself.
    t2, _ = ops.letterbox(ops.raw_to_bgr(buf, w, h, fmt), 64)
    np.testing.assert_allclose(t, t2, atol=1e-6)


def test_letterbox_raw_packed_and_out(ref_letterbox: RefLetterbox) -> None:
    rng = np.random.default_rng(3)
    bgra = rng.integers(0, 256, (20, 30, 4), dtype=np.uint8)
    out = np.empty((1, 3, 32, 48), np.float16)
    t, _ = ops.letterbox_raw(bgra, 30, 20, "bgra", (48, 32), out=out, dtype=np.float16)
    assert t is out
    ref, _ = ref_letterbox(np.ascontiguousarray(bgra[..., :3]), 48, 32)
    np.testing.assert_allclose(out.astype(np.float32), ref, atol=TOL + 2e-3)


def smooth_image(h: int = 120, w: int = 170) -> npt.NDArray[np.uint8]:
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([(x * 1.3 + y * 0.4) % 256, np.sin(x / 9) * 100 + 128, (y * 1.7) % 256], -1)
    return cv2.GaussianBlur(img.astype(np.uint8), (5, 5), 0)


@pytest.mark.parametrize("sampling", ["444", "422", "420"])
def test_decode_jpeg_matches_imdecode(sampling: str) -> None:
    img = smooth_image()
    factor = {
        "444": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444,
        "422": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_422,
        "420": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420,
    }[sampling]
    ok, enc = cv2.imencode(
        ".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90, cv2.IMWRITE_JPEG_SAMPLING_FACTOR, factor]
    )
    assert ok
    got = ops.decode_jpeg(enc.tobytes())
    ref = cv2.imdecode(enc, cv2.IMREAD_COLOR)
    assert got.shape == ref.shape and got.dtype == np.uint8
    diff = np.abs(got.astype(np.int16) - ref)
    # IDCT and chroma upsampling differ slightly from libjpeg-turbo (a few levels at 4:2:0
    # colour edges, exact almost everywhere else).
    assert diff.max() <= 12
    assert diff.mean() < 0.5


def test_decode_gray_jpeg_and_buffers() -> None:
    ok, enc = cv2.imencode(".jpg", smooth_image()[..., 1])
    assert ok
    got = ops.decode_jpeg(memoryview(enc.tobytes()))
    ref = cv2.imdecode(enc, cv2.IMREAD_COLOR)
    assert np.abs(got.astype(np.int16) - ref).max() <= 2
    np.testing.assert_array_equal(ops.decode_jpeg(enc), got)


def test_letterbox_jpeg_is_decode_then_letterbox(ref_letterbox: RefLetterbox) -> None:
    ok, enc = cv2.imencode(".jpg", smooth_image(99, 201))
    assert ok
    t, info = ops.letterbox_jpeg(enc.tobytes(), 64)
    t2, info2 = ops.letterbox(ops.decode_jpeg(enc), 64)
    np.testing.assert_allclose(t, t2, atol=1e-6)
    assert info == info2
    ref, _ = ref_letterbox(cv2.imdecode(enc, cv2.IMREAD_COLOR), 64, 64)
    np.testing.assert_allclose(t, ref, atol=8 / 255)


def test_corrupt_and_truncated_jpeg_raise_decode_error() -> None:
    _, enc = cv2.imencode(".jpg", smooth_image())
    data = enc.tobytes()
    bad = [b"", b"\xff\xd8", b"not a jpeg at all", data[:10], data[:200], data[: len(data) // 2], data[:-2]]
    scrambled = bytearray(data)
    scrambled[2:40] = b"\x00" * 38
    bad.append(bytes(scrambled))
    for b in bad:
        with pytest.raises(errors.DecodeError, match="jpeg"):
            ops.decode_jpeg(b)
        with pytest.raises(errors.DecodeError):
            ops.letterbox_jpeg(b, 32)
    assert issubclass(errors.DecodeError, ValueError)
