"""Plate detector latency on the CPU: the shipped ONNX model (FP32, INT8, FP16) in ONNX Runtime.

What is timed: one ``session.run`` on one letterboxed frame, float32 (1, 3, S, S) -> (1, 13, A) (model
only: no letterbox, no NMS; those are the native kernels' benchmarks). Two intra-op threads (the dev
machine has 2 cores). Target (issue 3): <= 25 ms per frame.

Baseline, same run: PyTorch eager inference of the same network and weights (what a user of the training
code would otherwise run), also on 2 threads.

    python -m pytest benches/test_bench_detector.py -s -p no:cacheprovider --benchmark-enable
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime")

MODELS = Path(__file__).resolve().parent.parent / "models"
THREADS = 2


def _entry() -> dict[str, Any]:
    manifest = MODELS / "manifest.json"
    if not manifest.is_file():
        pytest.skip("models/manifest.json missing")
    entry: dict[str, Any] = json.loads(manifest.read_text())["models"].get("detector", {})
    if not entry or not (MODELS / entry["file"]).is_file():
        pytest.skip("no shipped detector model")
    return entry


def _frame(entry: dict[str, Any]) -> np.ndarray:
    h, w = entry["input"]["height"], entry["input"]["width"]
    return np.random.default_rng(0).random((1, 3, h, w), dtype=np.float32)


def _report(benchmark: Any, name: str) -> None:
    stats = benchmark.stats.stats if benchmark.stats else None
    if stats is not None:
        print(f"\n{name}: median {stats.median * 1000:.1f} ms/frame ({THREADS} threads)")


@pytest.mark.parametrize("variant", ["fp32", "int8", "fp16"])
def test_detector_onnxruntime(benchmark: Callable[..., Any], variant: str) -> None:
    entry = _entry()
    var = entry.get("variants", {}).get(variant)
    file = entry["file"] if variant == "fp32" else (var["file"] if isinstance(var, dict) else var)
    if not file or not (MODELS / file).is_file():
        pytest.skip(f"no {variant} variant shipped")
    so = ort.SessionOptions()
    so.intra_op_num_threads = THREADS
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(MODELS / file), so, providers=["CPUExecutionProvider"])
    x = _frame(entry)
    out = benchmark(sess.run, None, {entry["input"]["name"]: x})
    assert out[0].shape[:2] == (1, 13)
    _report(benchmark, f"ort {variant}")


def test_detector_torch_eager_baseline(benchmark: Callable[..., Any]) -> None:
    torch = pytest.importorskip("torch")
    from alpr.train.detector import PlateDetector

    entry = _entry()
    # Same architecture; weights do not change the cost, so the untrained network is timed.
    model = PlateDetector().eval()
    before = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    x = torch.from_numpy(_frame(entry))
    try:
        with torch.inference_mode():
            out = benchmark(model, x)
    finally:
        torch.set_num_threads(before)
    assert out.shape[0] == 1 and out.shape[2] == 13
    _report(benchmark, "torch eager")
