"""TensorRT / OpenVINO: import errors, cache keys and cache logic without a GPU; the real path is `gpu`."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from models import ctc_probs, make_ocr

from alpr.config import EngineConfig
from alpr.engines import create_engine
from alpr.engines import tensorrt as trt_mod
from alpr.errors import EngineError


def test_missing_tensorrt_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = make_ocr(tmp_path / "m.onnx", ctc_probs("A"), 16, 32)
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    with pytest.raises(ImportError, match=r"pip install 'alpr-engine\[tensorrt\]'"):
        create_engine(model, EngineConfig(backend="tensorrt"))


def test_missing_cuda_python_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cuda", None)
    monkeypatch.setitem(sys.modules, "cuda.bindings", None)
    with pytest.raises(ImportError, match=r"cuda-python: pip install 'alpr-engine\[tensorrt\]'"):
        trt_mod.import_cudart()


def test_missing_openvino_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = make_ocr(tmp_path / "m.onnx", ctc_probs("A"), 16, 32)
    monkeypatch.setitem(sys.modules, "openvino", None)
    with pytest.raises(ImportError, match=r"pip install 'alpr-engine\[openvino\]'"):
        create_engine(model, EngineConfig(backend="openvino"))


def test_importing_alpr_loads_no_runtime() -> None:
    import subprocess

    code = (
        "import sys, alpr, alpr.pipeline, alpr.cli; "
        "heavy = ('tensorrt', 'openvino', 'zmq', 'paho', 'fastapi', 'onnxruntime'); "
        "bad = [m for m in heavy if m in sys.modules]; "
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_cache_path_keys() -> None:
    base = dict(
        cache_dir="/c", trt_version="10.3.0", gpu_name="NVIDIA H100 80GB HBM3", precision="fp16", max_batch=8
    )
    p = trt_mod.engine_cache_path("ab" * 32, **base)  # type: ignore[arg-type]
    assert p.parent == Path("/c") and p.suffix == ".engine"
    assert "abababababababab" in p.name and "10.3.0" in p.name and "H100" in p.name and " " not in p.name
    variants = {
        trt_mod.engine_cache_path("cd" * 32, **base),  # type: ignore[arg-type]
        trt_mod.engine_cache_path("ab" * 32, **{**base, "trt_version": "10.4.0"}),  # type: ignore[arg-type]
        trt_mod.engine_cache_path("ab" * 32, **{**base, "gpu_name": "Orin"}),  # type: ignore[arg-type]
        trt_mod.engine_cache_path("ab" * 32, **{**base, "precision": "int8"}),  # type: ignore[arg-type]
        trt_mod.engine_cache_path("ab" * 32, **{**base, "max_batch": 1}),  # type: ignore[arg-type]
    }
    assert p not in variants and len(variants) == 5


def test_load_or_build_builds_once(tmp_path: Path) -> None:
    calls: list[int] = []

    def build() -> bytes:
        calls.append(1)
        return b"PLAN" * 10

    path = tmp_path / "sub" / "x.engine"
    plan, built = trt_mod.load_or_build(path, build)
    assert built and plan == b"PLAN" * 10 and path.read_bytes() == plan
    plan2, built2 = trt_mod.load_or_build(path, build)
    assert not built2 and plan2 == plan and len(calls) == 1
    assert not list(path.parent.glob("*.tmp*"))


def test_load_or_build_rejects_empty_plan(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="empty engine"):
        trt_mod.load_or_build(tmp_path / "y.engine", lambda: b"")
    assert not (tmp_path / "y.engine").exists()


class _FakeRuntime:
    """Just enough of tensorrt/cuda-python to reach the build-or-cache decision."""

    __version__ = "10.0.0-fake"


def test_bad_precision_is_refused_before_any_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = make_ocr(tmp_path / "m.onnx", ctc_probs("A"), 16, 32)
    monkeypatch.setattr(trt_mod, "import_tensorrt", lambda: _FakeRuntime())
    monkeypatch.setattr(trt_mod, "import_cudart", lambda: object())
    with pytest.raises(EngineError, match="expected fp32, fp16 or int8"):
        trt_mod.TensorRTEngine(model, precision="fp8")


@pytest.mark.gpu
def test_tensorrt_engine_on_gpu(tmp_path: Path) -> None:
    pytest.importorskip("tensorrt")
    model = make_ocr(tmp_path / "m.onnx", ctc_probs("AB1"), 16, 64)
    eng = trt_mod.TensorRTEngine(model, precision="fp32", cache_dir=tmp_path, max_batch=4)
    (out,) = eng.infer(np.zeros((3, 3, 16, 64), np.float32))
    np.testing.assert_allclose(out[1], ctc_probs("AB1")[0], atol=1e-3)
    eng.close()
    again = trt_mod.TensorRTEngine(model, precision="fp32", cache_dir=tmp_path, max_batch=4)
    assert again.cache_path.is_file()
    again.close()


def test_int8_calibration_batches_from_images(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import cv2

    from alpr.detector import calibration_batches

    for i in range(10):
        cv2.imwrite(str(tmp_path / f"c{i}.png"), np.full((40, 60, 3), i, np.uint8))
    cfg = EngineConfig(
        backend="tensorrt", precision="int8", calibration_images=tmp_path, calibration_batches=2
    )
    from alpr import ops

    batches = calibration_batches(cfg, lambda fs: ops.letterbox_batch(fs, 32)[0])
    assert batches is not None
    shapes = [b.shape for b in batches]
    assert shapes == [(8, 3, 32, 32), (2, 3, 32, 32)]
    assert calibration_batches(EngineConfig(), lambda fs: fs) is None


def test_openvino_engine_on_cpu(tmp_path: Path) -> None:
    pytest.importorskip("openvino")
    from alpr.engines.openvino import OpenVINOEngine

    model = make_ocr(tmp_path / "m.onnx", ctc_probs("AB1"), 16, 64)
    eng = create_engine(model, EngineConfig(backend="openvino", intra_op_threads=1))
    assert isinstance(eng, OpenVINOEngine)
    assert eng.inputs[0].name == "images" and eng.inputs[0].shape[1:] == (3, 16, 64)
    (out,) = eng.infer(np.zeros((2, 3, 16, 64), np.float32))
    assert out.shape == (2, 16, 37)
    np.testing.assert_allclose(out[1], ctc_probs("AB1")[0], atol=1e-5)
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"junk")
    from alpr.errors import ModelLoadError

    with pytest.raises(ModelLoadError, match="OpenVINO cannot load"):
        OpenVINOEngine(bad)


def test_pipeline_on_openvino(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("openvino")
    from models import write_models

    from alpr.config import load_config
    from alpr.pipeline import Pipeline

    monkeypatch.setenv("ALPR_MODELS_DIR", str(write_models(tmp_path / "m")))
    pipe = Pipeline(config=load_config(engine={"backend": "openvino"}))
    (r,) = pipe(np.zeros((480, 640, 3), np.uint8))
    assert r.text == "ABC1234" and r.box == pytest.approx((220, 200, 420, 280), abs=1)
