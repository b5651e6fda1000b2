"""Tiny ONNX models with the bundled models' I/O contract, built with onnx.helper (no training, no torch).

The "constant" models ignore their input's values: their outputs are fixed tensors (broadcast to the
batch), so a test knows exactly what the pipeline must report after pre/post-processing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

CHARSET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _constant_model(
    path: Path, in_name: str, in_shape: Sequence[int | str], const: np.ndarray, out_name: str, dtype: int
) -> Path:
    """Model whose output is ``const`` (leading axis 1) repeated over the input batch."""
    nodes = [
        helper.make_node("Cast", [in_name], ["xf"], to=TensorProto.FLOAT),
        helper.make_node("ReduceMean", ["xf", "axes"], ["m"], keepdims=1),
        helper.make_node("Mul", ["m", "zero"], ["z"]),
        helper.make_node("Reshape", ["z", "shape"], ["zr"]),
        helper.make_node("Add", ["zr", "const"], [out_name]),
    ]
    rank = len(in_shape)
    inits = [
        numpy_helper.from_array(np.arange(1, rank, dtype=np.int64), "axes"),
        numpy_helper.from_array(np.zeros((), np.float32), "zero"),
        numpy_helper.from_array(np.array([-1] + [1] * (const.ndim - 1), np.int64), "shape"),
        numpy_helper.from_array(const.astype(np.float32), "const"),
    ]
    out_shape: list[int | str] = ["N", *const.shape[1:]]
    graph = helper.make_graph(
        nodes,
        "const",
        [helper.make_tensor_value_info(in_name, dtype, list(in_shape))],
        [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, out_shape)],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    return path


def detector_output(
    size: int,
    boxes_cxcywh: Sequence[Sequence[float]],
    scores: Sequence[float],
    anchors: int = 16,
    num_keypoints: int = 4,
    num_classes: int = 1,
) -> np.ndarray:
    """A (1, 4+nc+2K, anchors) YOLO head output holding the given boxes (input px), corners = box corners."""
    c = 4 + num_classes + 2 * num_keypoints
    out = np.zeros((1, c, anchors), np.float32)
    for a, ((cx, cy, w, h), s) in enumerate(zip(boxes_cxcywh, scores, strict=True)):
        out[0, :4, a] = (cx, cy, w, h)
        out[0, 4, a] = s
        if num_keypoints == 4:
            x1, y1, x2, y2 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
            out[0, 4 + num_classes :, a] = (x1, y1, x2, y1, x2, y2, x1, y2)
    return out


def make_detector(path: Path, size: int, output: np.ndarray) -> Path:
    return _constant_model(path, "images", ["N", 3, size, size], output, "output0", TensorProto.FLOAT)


def ctc_probs(
    text: str,
    charset: str = CHARSET,
    steps: int = 16,
    conf: float = 0.9,
    twins: dict[int, tuple[str, float]] | None = None,
) -> np.ndarray:
    """(1, steps, len(charset)+1) softmax-like probabilities spelling ``text`` with blanks between;
    ``twins`` gives, per character index, a second character and the probability taken from the first."""
    c = len(charset) + 1
    probs = np.full((1, steps, c), (1 - conf) / (c - 1), np.float32)
    probs[0, :, 0] = conf  # blank everywhere by default
    for i, ch in enumerate(text):
        t = 2 * i + 1
        probs[0, t, :] = (1 - conf) / (c - 1)
        probs[0, t, charset.index(ch) + 1] = conf
        if twins and i in twins:
            twin, p = twins[i]
            probs[0, t, charset.index(ch) + 1] = conf - p
            probs[0, t, charset.index(twin) + 1] = p
    return probs


def make_ocr(path: Path, probs: np.ndarray, height: int = 32, width: int = 128, channels: int = 3) -> Path:
    return _constant_model(path, "images", ["N", channels, height, width], probs, "probs", TensorProto.FLOAT)


def write_models(
    root: Path,
    *,
    det_size: int = 64,
    boxes: Sequence[Sequence[float]] = ((32, 32, 20, 8),),
    scores: Sequence[float] = (0.9,),
    text: str = "ABC1234",
    ocr_hw: tuple[int, int] = (32, 128),
    twins: dict[int, tuple[str, float]] | None = None,
) -> Path:
    """A models/ folder (manifest.json + two constant models) for ALPR_MODELS_DIR."""
    root.mkdir(parents=True, exist_ok=True)
    det = make_detector(root / "plate_detector.onnx", det_size, detector_output(det_size, boxes, scores))
    ocr = make_ocr(root / "plate_ocr.onnx", ctc_probs(text, twins=twins), *ocr_hw)
    manifest = {
        "version": "0.0.0-test",
        "models": {
            "detector": {
                "file": det.name,
                "sha256": hashlib.sha256(det.read_bytes()).hexdigest(),
                "format": "yolov8",
                "input": {
                    "name": "images",
                    "width": det_size,
                    "height": det_size,
                    "color": "RGB",
                    "scale": 1 / 255,
                    "pad_value": 114,
                },
                "output": {"num_classes": 1, "num_keypoints": 4, "keypoint_dim": 2, "names": ["plate"]},
            },
            "ocr": {
                "file": ocr.name,
                "sha256": hashlib.sha256(ocr.read_bytes()).hexdigest(),
                "format": "ctc",
                "input": {
                    "name": "images",
                    "width": ocr_hw[1],
                    "height": ocr_hw[0],
                    "channels": 3,
                    "mean": 0.5,
                    "std": 0.5,
                    "keep_aspect": False,
                },
                "output": {"blank": 0},
                "charset": CHARSET,
                "max_len": 10,
            },
        },
    }
    (root / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return root
