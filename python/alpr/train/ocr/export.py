"""Export the OCR model to ONNX (FP32 and FP16) and check ONNX Runtime against PyTorch.

The exported graph (opset >= 17, dynamic batch) is the contract the pipeline loads:
input ``images`` float32 ``(N, 3, H, W)`` = ``(px / 255 - mean) / std`` RGB; output ``probs`` float32
``(N, T, len(charset) + 1)`` softmax probabilities, blank = 0, with ``T = 2 * W / 4`` steps (top feature
row, then bottom row: two-line plates read line 1 then line 2).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from alpr._models import variant_entries
from alpr.engines.base import file_sha256
from alpr.train.common import MODEL_VERSION
from alpr.train.ocr.model import OcrConfig, OcrModel

__all__ = ["export_fp16", "export_ocr_onnx", "manifest_entry", "onnx_probs", "verify_onnx"]


def export_ocr_onnx(model: OcrModel, path: str | os.PathLike[str], *, opset: int = 17) -> Path:
    """Write ``model`` (softmax output, eval mode) as ONNX with a dynamic batch axis.

    Args:
        model: the trained CRNN or PlateViT (its ``config`` gives the input size; the whole config is
            kept in the metadata as JSON, ``config``).
        path: the ``.onnx`` file to write.
        opset: ONNX opset (>= 17).
    """
    if opset < 17:
        raise ValueError(f"opset: expected >= 17, got {opset}")
    import warnings

    cfg = model.config
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    was_training, was_softmax = model.training, model.softmax
    model.eval()
    model.softmax = True
    dummy = torch.zeros(2, 3, cfg.height, cfg.width)
    try:
        with warnings.catch_warnings():
            # The TorchScript exporter warns about itself (deprecation) and about GRU batch sizes.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model,
                (dummy,),
                str(target),
                input_names=["images"],
                output_names=["probs"],
                dynamic_axes={"images": {0: "batch"}, "probs": {0: "batch"}},
                opset_version=opset,
                do_constant_folding=True,
                dynamo=False,
            )
    finally:
        model.train(was_training)
        model.softmax = was_softmax
    import onnx

    proto = onnx.load(str(target))
    onnx.checker.check_model(proto)
    import json

    meta = {
        "charset": cfg.charset,
        "blank": "0",
        "mean": str(cfg.mean),
        "std": str(cfg.std),
        "rows": "2",
        "arch": cfg.arch,
        "config": json.dumps(cfg.to_dict(), ensure_ascii=False),
    }
    for k, v in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.save(proto, str(target))
    return target


def export_fp16(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> Path:
    """Write an FP16-weight copy of an FP32 ONNX model (half the file; inputs and outputs stay float32).

    Every float32 weight is stored as float16 and cast back to float32 by a ``Cast`` node, so the math
    runs in FP32. A fully FP16 graph (``onnxruntime.transformers.float16``) crashes ONNX Runtime 1.32's
    CPU graph optimiser on this model, and CPUs gain nothing from FP16 math; on a GPU, TensorRT's FP16
    builder flag (:func:`alpr.engines.tensorrt.build_plan`, ``alpr export tensorrt``) gives FP16 math
    from the FP32 file.
    """
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(src))
    graph = model.graph
    casts = []
    keep = []
    for init in graph.initializer:
        arr = numpy_helper.to_array(init)
        if arr.dtype == np.float32 and arr.size > 16:
            half = numpy_helper.from_array(arr.astype(np.float16), init.name + "_fp16")
            keep.append(half)
            casts.append(helper.make_node("Cast", [half.name], [init.name], to=onnx.TensorProto.FLOAT))
        else:
            keep.append(init)
    del graph.initializer[:]
    graph.initializer.extend(keep)
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(casts + nodes)
    onnx.checker.check_model(model)
    target = Path(dst)
    onnx.save(model, str(target))
    return target


def onnx_probs(
    path: str | os.PathLike[str], x: np.ndarray, *, threads: int = 1, batch_size: int = 256
) -> np.ndarray:
    """Run an exported OCR model with ONNX Runtime (CPU) on float32 (N, 3, H, W) inputs."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.log_severity_level = 3
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    outs = [
        sess.run(None, {"images": np.ascontiguousarray(x[i : i + batch_size])})[0]
        for i in range(0, len(x), batch_size)
    ]
    return np.concatenate(outs).astype(np.float32) if outs else np.zeros((0,), dtype=np.float32)


def verify_onnx(model: OcrModel, path: str | os.PathLike[str], x: np.ndarray, *, atol: float = 1e-4) -> float:
    """Max absolute difference between PyTorch and ONNX Runtime outputs on ``x``.

    Raises:
        AssertionError: the difference exceeds ``atol``.
    """
    from alpr.train.ocr.train import predict_probs

    ref = predict_probs(model, x)
    got = onnx_probs(path, x)
    from alpr.train.common import max_abs_diff

    return max_abs_diff(ref, got, atol)


def manifest_entry(
    config: OcrConfig,
    onnx_path: str | os.PathLike[str],
    *,
    variants: dict[str, str] | None = None,
    max_len: int = 10,
) -> dict[str, Any]:
    """The ``"ocr"`` entry of ``models/manifest.json`` for an exported model."""
    p = Path(onnx_path)
    return {
        "file": p.name,
        "sha256": file_sha256(p),
        "format": "ctc",
        "arch": config.arch,
        "input": {
            "name": "images",
            "width": config.width,
            "height": config.height,
            "channels": 3,
            "color": "RGB",
            "mean": config.mean,
            "std": config.std,
            "keep_aspect": False,
        },
        "output": {"name": "probs", "blank": 0, "softmax": True, "seq_len": config.seq_len},
        "charset": config.charset,
        "max_len": max_len,
        # Two-line plates need nothing from the pipeline: the model reads the top feature row, then the
        # bottom one, so the decoded text is line 1 followed by line 2. Crop the whole plate.
        "two_line": "native",
        "version": MODEL_VERSION,
        "variants": variant_entries(p.parent, variants or {}),
    }
