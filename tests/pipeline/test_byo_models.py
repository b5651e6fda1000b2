"""Bring-your-own recognizer: the PP-OCR recognizer ONNX shipped in the `rapidocr` wheel (dev dependency),
with its dictionary read from the model metadata."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from alpr.config import load_config
from alpr.pipeline import Pipeline, PpOcrRecognizer


def _rapidocr_rec() -> Path:
    rapidocr = pytest.importorskip("rapidocr")
    models = sorted(Path(rapidocr.__file__).parent.glob("models/*rec*.onnx"))
    if not models:
        pytest.skip("the rapidocr wheel ships no recognizer ONNX")
    return models[0]


def test_ppocr_from_rapidocr_wheel_reads_a_plate(models_dir: Path) -> None:
    rec = _rapidocr_rec()
    pipe = Pipeline(config=load_config(ocr={"model": str(rec), "format": "ppocr"}))
    assert isinstance(pipe.recognizer, PpOcrRecognizer) and len(pipe.recognizer.charset) > 1000
    frame = np.full((640, 640, 3), 60, np.uint8)
    # the constant test detector reports the plate at (220, 280)-(420, 360) in a 640 px frame
    cv2.rectangle(frame, (220, 280), (420, 360), (245, 245, 245), -1)
    cv2.putText(frame, "KXR 4821", (232, 336), cv2.FONT_HERSHEY_SIMPLEX, 1.05, (10, 10, 10), 3, cv2.LINE_AA)
    (read,) = pipe(frame)
    assert read.text == "KXR4821"
    assert len(read.char_confidences) == 7 and read.confidence > 0.5
