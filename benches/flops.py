"""Multiply-accumulates of the bundled ONNX models, per inference at batch 1.

Counts the layers that carry the arithmetic: ``Conv`` (``N * Cout * Hout * Wout * Cin / group * kH * kW``),
``Gemm`` / ``MatMul`` (output elements x the reduced dimension) and ``GRU`` / ``LSTM`` (per step and
direction ``gates * hidden * (input + hidden)``). Element-wise ops, pooling, resize and softmax are left out
(a few % of the convolutions here, and memory-bound rather than compute-bound). FLOPs = 2 x MACs.

Shapes come from ONNX shape inference with the batch axis fixed to 1; where inference leaves a shape
unknown (shape-computed ``Resize`` / ``Reshape``), one ONNX Runtime run on zeros fills it in.

    python benches/flops.py                  # table for models/plate_detector.onnx and models/plate_ocr.onnx
    python benches/flops.py --json a.onnx    # any ONNX files
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper, shape_inference

REPO = Path(__file__).resolve().parent.parent
DEFAULT = (REPO / "models" / "plate_detector.onnx", REPO / "models" / "plate_ocr.onnx")
_COUNTED = ("Conv", "Gemm", "MatMul", "GRU", "LSTM", "RNN")


def _fix_batch(model: onnx.ModelProto) -> None:
    """Every symbolic input dimension -> 1 (batch 1)."""
    for inp in model.graph.input:
        for d in inp.type.tensor_type.shape.dim:
            if not d.HasField("dim_value"):
                d.dim_value = 1


def _known_shapes(model: onnx.ModelProto) -> dict[str, list[int]]:
    inferred = shape_inference.infer_shapes(model, data_prop=True)
    out: dict[str, list[int]] = {}
    g = inferred.graph
    for vi in [*g.input, *g.value_info, *g.output]:
        dims = vi.type.tensor_type.shape.dim
        if dims and all(d.HasField("dim_value") for d in dims):
            out[vi.name] = [int(d.dim_value) for d in dims]
    for init in g.initializer:
        out[init.name] = list(init.dims)
    return out


def _run_shapes(model: onnx.ModelProto, names: set[str]) -> dict[str, list[int]]:
    """Shapes of ``names`` from one ONNX Runtime run on zeros (for what inference could not resolve)."""
    import onnxruntime as ort

    m = onnx.ModelProto()
    m.CopyFrom(model)
    existing = {o.name for o in m.graph.output}
    for n in sorted(names - existing):
        m.graph.output.append(onnx.helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, None))
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    feed = {}
    for i in sess.get_inputs():
        shape = [d if isinstance(d, int) else 1 for d in i.shape]
        feed[i.name] = np.zeros(shape, np.float32)
    outs = sess.run(None, feed)
    return {o.name: list(v.shape) for o, v in zip(sess.get_outputs(), outs, strict=True) if o.name in names}


def count(path: Path) -> dict[str, Any]:
    """MACs and parameters of one ONNX file at batch 1.

    Returns:
        ``{"model", "input", "params", "macs", "gflops", "by_op": {op: macs}}``.
    """
    model = onnx.load(str(path))
    _fix_batch(model)
    shapes = _known_shapes(model)
    needed = {n.output[0] for n in model.graph.node if n.op_type in _COUNTED}
    needed |= {n.input[0] for n in model.graph.node if n.op_type in _COUNTED}
    missing = {n for n in needed if n and n not in shapes}
    if missing:
        shapes.update(_run_shapes(model, missing))
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    by_op: dict[str, int] = {}
    for node in model.graph.node:
        op = node.op_type
        if op not in _COUNTED:
            continue
        if op == "Conv":
            w = shapes[node.input[1]]  # (Cout, Cin / group, kH, kW)
            macs = math.prod(shapes[node.output[0]]) * math.prod(w[1:])
        elif op in ("Gemm", "MatMul"):
            a = shapes[node.input[0]]
            trans_a = any(at.name == "transA" and at.i for at in node.attribute)
            k = a[-2] if (op == "Gemm" and trans_a) else a[-1]
            macs = math.prod(shapes[node.output[0]]) * k
        else:  # GRU / LSTM / RNN: X (T, B, I), W (dirs, gates * H, I), R (dirs, gates * H, H)
            x, w, r = shapes[node.input[0]], inits[node.input[1]].shape, inits[node.input[2]].shape
            t, b = x[0], x[1]
            macs = int(w[0]) * t * b * int(w[1]) * (int(w[2]) + int(r[2]))
        by_op[op] = by_op.get(op, 0) + int(macs)
    total = sum(by_op.values())
    inp = model.graph.input[0]
    return {
        "model": path.name,
        "input": [int(d.dim_value) for d in inp.type.tensor_type.shape.dim],
        "params": int(sum(v.size for v in inits.values())),
        "macs": total,
        "gflops": round(2 * total / 1e9, 4),
        "by_op": by_op,
    }


def main(argv: list[str] | None = None) -> int:
    """Print the table (or JSON lines with ``--json``)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="*", type=Path, default=list(DEFAULT))
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    rows = [count(m) for m in args.models]
    if args.json:
        for r in rows:
            print(json.dumps(r))
        return 0
    print(f"{'model':<24} {'input':<16} {'params':>10} {'GMACs':>8} {'GFLOPs':>8}  by op (GMACs)")
    for r in rows:
        ops = ", ".join(f"{k} {v / 1e9:.4f}" for k, v in r["by_op"].items())
        size = "x".join(str(d) for d in r["input"])
        gmacs = r["macs"] / 1e9
        print(f"{r['model']:<24} {size:<16} {r['params']:>10,} {gmacs:>8.4f} {r['gflops']:>8.4f}  {ops}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
