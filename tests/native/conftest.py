"""Shared references for the image kernel tests: what a user would write with OpenCV + NumPy."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import numpy.typing as npt
import pytest

RefLetterbox = Callable[..., tuple[npt.NDArray[np.float32], tuple[float, int, int]]]


def ref_letterbox(
    img: npt.NDArray[np.uint8], width: int, height: int, rgb_in: bool = False
) -> tuple[npt.NDArray[np.float32], tuple[float, int, int]]:
    """What a user writes: Ultralytics LetterBox with cv2, then normalize and transpose."""
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    h, w = img.shape[:2]
    r = min(height / h, width / w)
    nw, nh = max(1, round(w * r)), max(1, round(h * r))
    if (nw, nh) != (w, h):
        img = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR)
    dw, dh = (width - nw) / 2, (height - nh) / 2
    top, bottom = round(dh - 0.1), round(dh + 0.1)
    left, right = round(dw - 0.1), round(dw + 0.1)
    img = cv2.copyMakeBorder(img, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(114, 114, 114))
    if not rgb_in:
        img = img[..., ::-1]
    t = np.ascontiguousarray(img.transpose(2, 0, 1))[None].astype(np.float32) / 255
    return t, (r, left, top)


@pytest.fixture(name="ref_letterbox")
def ref_letterbox_fixture() -> RefLetterbox:
    """The OpenCV + NumPy letterbox reference."""
    return ref_letterbox
