from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from models import ctc_probs, make_ocr

from alpr.config import EngineConfig
from alpr.engines import Engine, TensorSpec, create_engine
from alpr.engines.onnxruntime import OnnxRuntimeEngine, default_providers
from alpr.errors import EngineError, ModelLoadError


@pytest.fixture
def ocr_model(tmp_path: Path) -> Path:
    return make_ocr(tmp_path / "ocr.onnx", ctc_probs("AB12"), 16, 64)


def test_specs_and_infer(ocr_model: Path) -> None:
    eng = create_engine(ocr_model, EngineConfig(intra_op_threads=1, inter_op_threads=1))
    assert isinstance(eng, Engine)
    assert eng.inputs == [TensorSpec("images", ("N", 3, 16, 64), "float32")]
    assert eng.outputs[0].shape[1:] == (16, 37)
    assert eng.outputs[0].fixed(-1) == 37 and eng.inputs[0].fixed(0) is None
    x = np.zeros((3, 3, 16, 64), np.float32)
    (out,) = eng.infer(x)
    assert out.shape == (3, 16, 37)
    np.testing.assert_allclose(out[2], ctc_probs("AB12")[0], rtol=1e-6)
    (out2,) = eng.infer({"images": x[:1]})
    assert out2.shape == (1, 16, 37)
    eng.close()


def test_wrong_input_is_engine_error(ocr_model: Path) -> None:
    eng = OnnxRuntimeEngine(ocr_model)
    with pytest.raises(EngineError, match="inference failed"):
        eng.infer(np.zeros((1, 3, 8, 8), np.float32))
    with pytest.raises(EngineError, match="missing model inputs"):
        eng.infer({"x": np.zeros((1, 3, 16, 64), np.float32)})


@pytest.mark.parametrize("content", [b"", b"not an onnx model at all", b"\x08\x07" * 100])
def test_corrupt_model_is_model_load_error(tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(content)
    with pytest.raises(ModelLoadError, match="cannot load ONNX model"):
        create_engine(bad)


def test_missing_model(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="not found"):
        create_engine(tmp_path / "nope.onnx")


def test_truncated_model(tmp_path: Path, ocr_model: Path) -> None:
    data = ocr_model.read_bytes()
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelLoadError):
        create_engine(cut)


def test_default_providers_cpu_unless_opted_in(monkeypatch: pytest.MonkeyPatch) -> None:
    avail = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    monkeypatch.delenv("ALPR_ORT_GPU", raising=False)
    assert default_providers(avail) == ["CPUExecutionProvider"]
    monkeypatch.setenv("ALPR_ORT_GPU", "1")
    assert default_providers(avail) == avail
    assert default_providers(["CPUExecutionProvider"]) == ["CPUExecutionProvider"]


def test_unavailable_provider_falls_back_to_cpu(ocr_model: Path) -> None:
    eng = OnnxRuntimeEngine(ocr_model, providers=["NoSuchExecutionProvider"])
    assert eng.providers == ["CPUExecutionProvider"]


def test_shared_across_threads(ocr_model: Path) -> None:
    eng = OnnxRuntimeEngine(ocr_model)
    results: list[np.ndarray] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(20):
                results.append(eng.infer(np.zeros((2, 3, 16, 64), np.float32))[0])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 80 and all(r.shape == (2, 16, 37) for r in results)
