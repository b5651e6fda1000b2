"""Plate crops of the recognizer stage: close-up plates are shrunk with an area filter, not aliased."""

from __future__ import annotations

import numpy as np

from alpr.recognizers import CropSpec, _CropRecognizer


class _NoEngine:
    class _Input:
        name = "x"

        def fixed(self, axis: int) -> None:
            return None

    inputs = (_Input(),)


def _recognizer(**spec: object) -> _CropRecognizer:
    return _CropRecognizer(_NoEngine(), CropSpec(height=48, width=128, mean=0.0, std=1.0, **spec))  # type: ignore[arg-type]


def _stripes(h: int, w: int) -> np.ndarray:
    frame = np.zeros((h, w, 3), np.uint8)
    frame[:, ::2] = 255  # one-pixel columns: a bilinear 8x shrink lands on them, an area filter averages
    return frame


def test_a_close_up_plate_is_area_filtered() -> None:
    frame = _stripes(600, 1200)
    rec = _recognizer()
    big = np.array([[100, 100, 1124, 484]], np.float32)  # 8x the OCR input on both axes
    crop = rec._crops(frame, big, None)
    assert crop.shape == (1, 3, 48, 128)
    assert abs(float(crop.mean()) - 0.5) < 0.02
    assert float(crop.std()) < 0.03  # grey, not stripes


def test_scene_scale_plates_keep_the_native_bilinear_crop() -> None:
    from alpr import ops

    frame = np.random.default_rng(0).integers(0, 255, (400, 600, 3), dtype=np.uint8)
    rec = _recognizer()
    boxes = np.array([[10, 10, 200, 70], [300, 100, 500, 180]], np.float32)  # under 2x the input size
    expected = ops.crop_plates(frame, boxes, **rec.crop.kernel_args())
    assert np.array_equal(rec._crops(frame, boxes, None), expected)


def test_mixed_batch_and_corners() -> None:
    frame = _stripes(800, 1600)
    rec = _recognizer(use_corners=True)
    boxes = np.array([[0, 0, 160, 50], [200, 200, 1480, 680]], np.float32)
    quads = np.stack([boxes[:, [0, 1]], boxes[:, [2, 1]], boxes[:, [2, 3]], boxes[:, [0, 3]]], axis=1)
    crop = rec._crops(frame, boxes, quads.astype(np.float32))
    assert crop.shape == (2, 3, 48, 128)
    assert float(crop[1].std()) < 0.03  # the large quad is filtered too
    assert float(crop[0].std()) > 0.2  # the small one is sampled as before (stripes survive a 1.25x shrink)
