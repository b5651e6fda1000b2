"""benches/flops.py: MAC counts on a model small enough to count by hand, and the bundled models' figures
that deploy/README.md's FPS estimates use."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parents[1]


def _flops() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_flops", ROOT / "benches" / "flops.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_flops"] = mod
    spec.loader.exec_module(mod)
    return mod


def _tiny(path: Path) -> Path:
    """x (N, 3, 8, 8) -> Conv 4x3x3x3 pad 1 stride 2 -> (N, 4, 4, 4) -> grouped 1x1 Conv -> Reshape
    (T=N, B=4, I=16) -> GRU (H=5) -> Y_h @ (5, 7): each with a hand-countable cost."""
    f = np.float32
    inits = [
        numpy_helper.from_array(np.zeros((4, 3, 3, 3), f), "w1"),
        numpy_helper.from_array(np.zeros((4, 2, 1, 1), f), "w2"),  # group 2
        numpy_helper.from_array(np.array([0, 4, 16], np.int64), "shape"),  # (N, 4, 16) as (T=N, B=4, I=16)
        numpy_helper.from_array(np.zeros((1, 15, 16), f), "gw"),  # GRU: dirs 1, 3 gates * H=5, I=16
        numpy_helper.from_array(np.zeros((1, 15, 5), f), "gr"),
        numpy_helper.from_array(np.zeros((5, 7), f), "mw"),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Conv", ["c1", "w2"], ["c2"], group=2),
        helper.make_node("Reshape", ["c2", "shape"], ["seq"]),
        helper.make_node("GRU", ["seq", "gw", "gr"], ["", "h"], hidden_size=5),
        helper.make_node("MatMul", ["h", "mw"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path.write_bytes(model.SerializeToString())
    return path


def test_counts_conv_grouped_conv_gru_matmul(tmp_path: Path) -> None:
    r = _flops().count(_tiny(tmp_path / "tiny.onnx"))
    conv1 = 4 * 4 * 4 * (3 * 3 * 3)  # Cout * Hout * Wout * Cin * kH * kW
    conv2 = 4 * 4 * 4 * 2  # Cin / group = 2, 1x1
    gru = 1 * 1 * 4 * 15 * (16 + 5)  # dirs * T(=N=1) * B * gates*H * (I + H)
    matmul = 1 * 4 * 7 * 5  # Y_h (dirs 1, B 4, H 5) @ (5, 7)
    assert r["by_op"] == {"Conv": conv1 + conv2, "GRU": gru, "MatMul": matmul}
    assert r["macs"] == conv1 + conv2 + gru + matmul and r["input"] == [1, 3, 8, 8]
    assert r["gflops"] == round(2 * r["macs"] / 1e9, 4)


def test_onnx_runtime_fills_shapes_inference_left_unknown(tmp_path: Path) -> None:
    fl = _flops()
    path = _tiny(tmp_path / "tiny.onnx")
    full = fl.count(path)
    inferred = fl._known_shapes
    fl._known_shapes = lambda m: {k: v for k, v in inferred(m).items() if k not in ("c1", "seq", "y")}
    assert fl.count(path) == full


def test_bundled_model_figures() -> None:
    """The figures quoted in deploy/README.md and benches/RESULTS.md (change both if this changes)."""
    fl = _flops()
    det = fl.count(ROOT / "models" / "plate_detector.onnx")
    ocr = fl.count(ROOT / "models" / "plate_ocr.onnx")
    assert det["input"] == [1, 3, 480, 480] and det["gflops"] == 2.7068
    assert ocr["input"] == [1, 3, 48, 128] and ocr["gflops"] == 0.2281
    assert onnx.load(str(ROOT / "models" / "plate_ocr.onnx")).graph.input[0].name == "images"
