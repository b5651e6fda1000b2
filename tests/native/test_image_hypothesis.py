"""Hypothesis over every image entry point: each call returns or raises a documented error."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from alpr import errors, ops

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DOCUMENTED = (ValueError, TypeError)

frames = hnp.arrays(
    np.uint8,
    st.one_of(
        st.tuples(st.integers(0, 40), st.integers(0, 40), st.just(3)),
        st.tuples(st.integers(0, 40), st.integers(0, 40)),
    ),
)
sizes = st.one_of(st.integers(-2, 70), st.tuples(st.integers(-1, 70), st.integers(-1, 70)))


@FAST
@given(frame=frames, size=sizes, f16=st.booleans(), order=st.sampled_from(["bgr", "rgb", "xyz"]))
def test_letterbox_never_crashes(
    frame: np.ndarray, size: int | tuple[int, int], f16: bool, order: str
) -> None:
    try:
        t, info = ops.letterbox(frame, size, input_order=order, dtype=np.float16 if f16 else np.float32)
    except DOCUMENTED:
        return
    w, h = (size, size) if isinstance(size, int) else size
    assert t.shape == (1, 3, h, w)
    assert np.isfinite(t.astype(np.float32)).all()
    assert float(t.min()) >= 0 and float(t.max()) <= 1.0 + 1e-3
    assert (info.src_width, info.src_height) == (frame.shape[1], frame.shape[0])
    # The resized frame lies inside the tensor.
    box = info.map_boxes(np.array([[0, 0, frame.shape[1], frame.shape[0]]], np.float32))[0]
    assert box[0] >= -1e-3 and box[1] >= -1e-3 and box[2] <= w + 1e-3 and box[3] <= h + 1e-3


@FAST
@given(
    data=st.binary(max_size=400),
    width=st.integers(-1, 20),
    height=st.integers(-1, 20),
    fmt=st.sampled_from(["nv12", "i420", "yuyv", "bgra", "bgr", "rgb", "gray", "bad"]),
    stride=st.one_of(st.none(), st.integers(-1, 90)),
)
def test_raw_intake_never_crashes(data: bytes, width: int, height: int, fmt: str, stride: int | None) -> None:
    try:
        bgr = ops.raw_to_bgr(data, width, height, fmt, stride=stride)
    except DOCUMENTED:
        bgr = None
    if bgr is not None:
        assert bgr.shape == (height, width, 3)
    try:
        t, _ = ops.letterbox_raw(data, width, height, fmt, 16, stride=stride)
    except DOCUMENTED:
        assert bgr is None
        return
    assert bgr is not None
    np.testing.assert_allclose(t, ops.letterbox(bgr, 16)[0], atol=1e-6)


@FAST
@given(
    data=st.binary(max_size=600), cut=st.integers(0, 2000), flips=st.lists(st.integers(0, 2000), max_size=8)
)
def test_jpeg_intake_never_crashes(data: bytes, cut: int, flips: list[int]) -> None:
    # Mutate a real JPEG as well as feeding pure noise.
    _, enc = cv2.imencode(".jpg", np.full((16, 24, 3), 77, np.uint8))
    real = bytearray(enc.tobytes()[: max(cut, 2)])
    for f in flips:
        if real:
            real[f % len(real)] ^= 0x5A
    for blob in (data, bytes(real), b"\xff\xd8" + data):
        try:
            img = ops.decode_jpeg(blob)
        except errors.DecodeError:
            continue
        assert img.ndim == 3 and img.shape[2] == 3 and img.dtype == np.uint8
        t, info = ops.letterbox_jpeg(blob, 32)
        assert t.shape == (1, 3, 32, 32) and (info.src_height, info.src_width) == img.shape[:2]


coords = st.floats(-1e4, 1e4, width=32) | st.sampled_from([float("nan"), float("inf"), -float("inf")])


@FAST
@given(
    frame=hnp.arrays(np.uint8, st.tuples(st.integers(0, 12), st.integers(0, 12), st.just(3))),
    boxes=hnp.arrays(np.float32, st.tuples(st.integers(0, 3), st.just(4)), elements=coords),
    quads=hnp.arrays(np.float32, st.tuples(st.integers(0, 3), st.just(4), st.just(2)), elements=coords),
    height=st.integers(-1, 9),
    width=st.integers(-1, 9),
    gray=st.booleans(),
    keep=st.booleans(),
    use_quads=st.booleans(),
    dtype=st.sampled_from([np.float32, np.float16, np.uint8]),
)
def test_crops_never_crash(
    frame: np.ndarray,
    boxes: np.ndarray,
    quads: np.ndarray,
    height: int,
    width: int,
    gray: bool,
    keep: bool,
    use_quads: bool,
    dtype: type,
) -> None:
    kw = {"corners": quads} if use_quads else {"boxes": boxes}
    try:
        out = ops.crop_plates(
            frame, height=height, width=width, gray=gray, keep_aspect=keep, dtype=dtype, pad=0.5, **kw
        )
    except DOCUMENTED:
        return
    n = (quads if use_quads else boxes).shape[0]
    assert out.shape == (n, 1 if gray else 3, height, width)
    if dtype != np.uint8 and out.size:
        vals = out.astype(np.float32)
        assert np.isfinite(vals).all() and vals.min() >= 0 and vals.max() <= 1.0 + 1e-3


@pytest.mark.parametrize("bad", [None, 3.5, "abc", [1, 2, 3], object()])
def test_non_array_inputs_are_type_errors(bad: object) -> None:
    with pytest.raises(TypeError):
        ops.letterbox(bad, 32)  # type: ignore[arg-type]
    with pytest.raises((TypeError, errors.DecodeError)):
        ops.decode_jpeg(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ops.raw_to_bgr(bad, 2, 2, "gray")  # type: ignore[arg-type]
