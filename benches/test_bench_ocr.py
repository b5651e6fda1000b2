"""Plate OCR throughput on the CPU: the shipped ONNX model (FP32 and INT8) in ONNX Runtime, batched.

What is timed: one ``session.run`` on a batch of 64 preprocessed crops, float32 (64, 3, H, W) -> softmax
(64, T, 37) (no cropping, no CTC decoding; those are the native kernels' benchmarks). Two intra-op
threads (the dev machine has 2 cores).

Baseline, same run, same architecture: PyTorch eager inference of the same recognizer (CRNN or ViT; what
a user of the training code would otherwise run), also on 2 threads. Targets: >= 1,000 plates/s (issue 3),
>= 500 plates/s for the larger 0.3.0 recognizers (issue 9).

    python -m pytest benches/test_bench_ocr.py -s -p no:cacheprovider --benchmark-enable
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
BATCH = 64
THREADS = 2


def _ocr_entry() -> dict[str, Any]:
    manifest = MODELS / "manifest.json"
    if not manifest.is_file():
        pytest.skip("models/manifest.json missing")
    entry: dict[str, Any] = json.loads(manifest.read_text())["models"].get("ocr", {})
    if not entry or not (MODELS / entry["file"]).is_file():
        pytest.skip("no shipped OCR model")
    return entry


def _session(path: Path) -> Any:
    so = ort.SessionOptions()
    so.intra_op_num_threads = THREADS
    so.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def _batch(entry: dict[str, Any]) -> np.ndarray:
    h, w = entry["input"]["height"], entry["input"]["width"]
    rng = np.random.default_rng(0)
    return rng.normal(0, 0.5, (BATCH, 3, h, w)).astype(np.float32)


def _report(benchmark: Any, name: str) -> None:
    mean = benchmark.stats.stats.mean if benchmark.stats else float("nan")
    print(f"\n{name}: {BATCH / mean:,.0f} plates/s (batch {BATCH}, {THREADS} threads)")


@pytest.mark.parametrize("variant", ["fp32", "int8"])
def test_ocr_onnxruntime(benchmark: Callable[..., Any], variant: str) -> None:
    entry = _ocr_entry()
    var = entry.get("variants", {}).get(variant)
    file = entry["file"] if variant == "fp32" else (var["file"] if isinstance(var, dict) else var)
    if not file or not (MODELS / file).is_file():
        pytest.skip(f"no {variant} variant shipped")
    sess = _session(MODELS / file)
    x = _batch(entry)
    feed = {entry["input"]["name"]: x}
    out = benchmark(sess.run, None, feed)
    assert out[0].shape[0] == BATCH and out[0].shape[2] == len(entry["charset"]) + 1
    _report(benchmark, f"ort {variant}")


def test_ocr_torch_eager_baseline(benchmark: Callable[..., Any]) -> None:
    torch = pytest.importorskip("torch")
    onnx = pytest.importorskip("onnx")
    from alpr.train.ocr import CRNN, OcrConfig, build_model

    entry = _ocr_entry()
    proto = onnx.load(str(MODELS / entry["file"]))
    meta = {p.key: p.value for p in proto.metadata_props}
    if "config" in meta:  # 0.3.0+: the whole model config is in the metadata
        model = build_model(OcrConfig.from_dict(json.loads(meta["config"]))).eval()
    else:  # older exports: rebuild the CRNN shape from the ONNX weights
        convs = [n for n in proto.graph.node if n.op_type == "Conv"]
        inits = {i.name: i for i in proto.graph.initializer}
        channels = tuple(int(inits[c.input[1]].dims[0]) for c in convs if c.input[1] in inits)
        stage = (channels[0], channels[1], channels[2], channels[4], channels[6])
        gru = next(n for n in proto.graph.node if n.op_type == "GRU")
        hidden = next(int(a.i) for a in gru.attribute if a.name == "hidden_size")
        cfg = OcrConfig(
            height=entry["input"]["height"], width=entry["input"]["width"], channels=stage, hidden=hidden
        )
        model = CRNN(cfg).eval()
    # (same architecture and size as the shipped file; the weights do not change the cost)
    model.softmax = True
    torch.set_num_threads(THREADS)
    x = torch.from_numpy(_batch(entry))

    def run() -> Any:
        with torch.inference_mode():
            return model(x)

    out = benchmark(run)
    assert out.shape[0] == BATCH
    _report(benchmark, "torch eager")
