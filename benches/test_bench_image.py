"""Image kernel benchmarks against what a user would otherwise write (OpenCV + NumPy), same run.

Run (release build first: ``maturin develop --release``)::

    python -m pytest benches/test_bench_image.py --benchmark-enable --benchmark-only \
        --benchmark-group-by=group --benchmark-columns=min,median,mean,rounds

Every case returns a freshly allocated tensor (no ``out=``) unless its name says ``out``: the
allocation and its page faults are part of what a user pays. ``copy`` is the floor: one
``np.copy`` of the 1080p BGR frame (6.2 MB read, 6.2 MB written).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from alpr import ops

Frame = npt.NDArray[np.uint8]


def frame_1080p() -> Frame:
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (135, 240, 3), dtype=np.uint8)
    return cv2.resize(small, (1920, 1080), interpolation=cv2.INTER_LINEAR)


FRAME = frame_1080p()


def opencv_letterbox(img: Frame, size: int) -> npt.NDArray[np.float32]:
    """The usual Python path: cv2.resize + copyMakeBorder, then BGR->RGB, HWC->CHW, /255."""
    h, w = img.shape[:2]
    r = min(size / h, size / w)
    nw, nh = round(w * r), round(h * r)
    img = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR)
    dw, dh = (size - nw) / 2, (size - nh) / 2
    top, bottom = round(dh - 0.1), round(dh + 0.1)
    left, right = round(dw - 0.1), round(dw + 0.1)
    img = cv2.copyMakeBorder(img, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(114, 114, 114))
    t = np.ascontiguousarray(img[..., ::-1].transpose(2, 0, 1)[None]).astype(np.float32)
    t *= 1 / 255
    return t


CASES: dict[str, Callable[[int], Callable[[], object]]] = {
    "alpr": lambda s: lambda: ops.letterbox(FRAME, s),
    "alpr_out": lambda s: (lambda out: lambda: ops.letterbox(FRAME, s, out=out))(
        np.empty((1, 3, s, s), np.float32)
    ),
    "alpr_f16": lambda s: lambda: ops.letterbox(FRAME, s, dtype=np.float16),
    "opencv": lambda s: lambda: opencv_letterbox(FRAME, s),
    "copy": lambda s: lambda: FRAME.copy(),
}


@pytest.mark.parametrize("size", [640, 384])
@pytest.mark.parametrize("impl", list(CASES))
def test_letterbox_1080p(benchmark: pytest.FixtureRequest, size: int, impl: str) -> None:
    benchmark.group = f"letterbox 1080p -> {size}"  # type: ignore[attr-defined]
    benchmark(CASES[impl](size))  # type: ignore[operator]


def _jpeg() -> bytes:
    ok, enc = cv2.imencode(".jpg", FRAME, [cv2.IMWRITE_JPEG_QUALITY, 85])
    assert ok
    return enc.tobytes()


JPEG = _jpeg()


@pytest.mark.parametrize(
    "impl", ["alpr_decode", "cv2_imdecode", "alpr_letterbox_jpeg", "cv2_imdecode_letterbox"]
)
def test_jpeg_1080p(benchmark: pytest.FixtureRequest, impl: str) -> None:
    benchmark.group = "jpeg 1080p decode (-> 640 tensor)"  # type: ignore[attr-defined]
    arr = np.frombuffer(JPEG, np.uint8)
    fn: Callable[[], object] = {
        "alpr_decode": lambda: ops.decode_jpeg(JPEG),
        "cv2_imdecode": lambda: cv2.imdecode(arr, cv2.IMREAD_COLOR),
        "alpr_letterbox_jpeg": lambda: ops.letterbox_jpeg(JPEG, 640),
        "cv2_imdecode_letterbox": lambda: opencv_letterbox(cv2.imdecode(arr, cv2.IMREAD_COLOR), 640),
    }[impl]
    benchmark(fn)  # type: ignore[operator]


NV12 = cv2.cvtColor(FRAME, cv2.COLOR_BGR2YUV_I420)  # same size as NV12: (1620, 1920)


def _nv12() -> Frame:
    i420 = NV12.reshape(-1)
    y = i420[: 1920 * 1080]
    u = i420[1920 * 1080 : 1920 * 1080 * 5 // 4]
    v = i420[1920 * 1080 * 5 // 4 :]
    uv = np.stack([u, v], axis=1).reshape(-1)
    return np.concatenate([y, uv]).reshape(1620, 1920)


NV12_BUF = _nv12()


@pytest.mark.parametrize(
    "impl", ["alpr_letterbox_raw", "alpr_raw_to_bgr", "cv2_cvtcolor_letterbox", "cv2_cvtcolor"]
)
def test_nv12_1080p(benchmark: pytest.FixtureRequest, impl: str) -> None:
    benchmark.group = "nv12 1080p -> 640 tensor"  # type: ignore[attr-defined]
    fn: Callable[[], object] = {
        "alpr_letterbox_raw": lambda: ops.letterbox_raw(NV12_BUF, 1920, 1080, "nv12", 640),
        "alpr_raw_to_bgr": lambda: ops.raw_to_bgr(NV12_BUF, 1920, 1080, "nv12"),
        "cv2_cvtcolor_letterbox": lambda: opencv_letterbox(
            cv2.cvtColor(NV12_BUF, cv2.COLOR_YUV2BGR_NV12), 640
        ),
        "cv2_cvtcolor": lambda: cv2.cvtColor(NV12_BUF, cv2.COLOR_YUV2BGR_NV12),
    }[impl]
    benchmark(fn)  # type: ignore[operator]


YUYV_BUF = np.ascontiguousarray(
    np.stack(
        [
            NV12_BUF[:1080],
            np.repeat(NV12_BUF[1080:].reshape(540, 1920), 2, axis=0),
        ],
        axis=2,
    )
).reshape(1080, 1920, 2)  # Y0 U Y1 V: luma, then the NV12 chroma of the row pair
RAW = {
    "nv12": (NV12_BUF, cv2.COLOR_YUV2BGR_NV12),
    "i420": (NV12.reshape(1620, 1920), cv2.COLOR_YUV2BGR_I420),
    "yuyv": (YUYV_BUF, cv2.COLOR_YUV2BGR_YUYV),
}


@pytest.mark.parametrize("fmt", list(RAW))
@pytest.mark.parametrize("impl", ["alpr_raw_to_bgr", "cv2_cvtcolor"])
def test_raw_to_bgr_1080p(benchmark: pytest.FixtureRequest, impl: str, fmt: str) -> None:
    """Whole-frame YUV -> BGR; OpenCV gets as many threads as rayon (``RAYON_NUM_THREADS``)."""
    benchmark.group = f"{fmt} 1080p -> bgr"  # type: ignore[attr-defined]
    buf, code = RAW[fmt]
    if impl == "alpr_raw_to_bgr":
        got = ops.raw_to_bgr(buf, 1920, 1080, fmt)
        assert np.abs(got.astype(np.int16) - cv2.cvtColor(buf, code)).max() <= 1
        benchmark(lambda: ops.raw_to_bgr(buf, 1920, 1080, fmt))  # type: ignore[operator]
        return
    threads = cv2.getNumThreads()
    cv2.setNumThreads(int(os.environ.get("RAYON_NUM_THREADS", threads)))
    try:
        benchmark(lambda: cv2.cvtColor(buf, code))  # type: ignore[operator]
    finally:
        cv2.setNumThreads(threads)


BOXES = np.array([[100 + 150 * k, 600, 260 + 150 * k, 650] for k in range(8)], np.float32)
QUADS = np.array(
    [[[b[0], b[1]], [b[2], b[1] + 5], [b[2], b[3] + 5], [b[0], b[3]]] for b in BOXES], np.float32
)


def opencv_crops(img: Frame) -> npt.NDArray[np.float32]:
    crops = [
        cv2.resize(
            img[int(b[1]) : int(b[3]), int(b[0]) : int(b[2])], (128, 32), interpolation=cv2.INTER_LINEAR
        )
        for b in BOXES
    ]
    return np.ascontiguousarray(np.stack(crops)[..., ::-1].transpose(0, 3, 1, 2)).astype(np.float32) / 255


def opencv_warps(img: Frame) -> npt.NDArray[np.float32]:
    rect = np.array([[0, 0], [128, 0], [128, 32], [0, 32]], np.float32)
    crops = [
        cv2.warpPerspective(img, cv2.getPerspectiveTransform(q, rect), (128, 32), flags=cv2.INTER_LINEAR)
        for q in QUADS
    ]
    return np.ascontiguousarray(np.stack(crops)[..., ::-1].transpose(0, 3, 1, 2)).astype(np.float32) / 255


@pytest.mark.parametrize("impl", ["alpr_boxes", "cv2_boxes", "alpr_corners", "cv2_warp"])
def test_crops_8_plates(benchmark: pytest.FixtureRequest, impl: str) -> None:
    benchmark.group = "8 plate crops 128x32 from 1080p"  # type: ignore[attr-defined]
    fn: Callable[[], object] = {
        "alpr_boxes": lambda: ops.crop_plates(FRAME, BOXES, height=32, width=128),
        "cv2_boxes": lambda: opencv_crops(FRAME),
        "alpr_corners": lambda: ops.crop_plates(FRAME, corners=QUADS, height=32, width=128),
        "cv2_warp": lambda: opencv_warps(FRAME),
    }[impl]
    benchmark(fn)  # type: ignore[operator]
