"""``alpr export tensorrt`` and the one TensorRT builder, against a fake ``tensorrt`` module (no GPU here);
the real build is the ``gpu`` test at the end."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from fake_tensorrt import Recorder, make_cudart, make_module
from models import write_models

from alpr import ops
from alpr.config import load_config
from alpr.engines import tensorrt as trt_mod
from alpr.errors import ConfigError, EngineError
from alpr.export import export_tensorrt

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def models_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = write_models(tmp_path / "models")
    monkeypatch.setenv("ALPR_MODELS_DIR", str(root))
    return root


@pytest.fixture
def fake_trt(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    rec = Recorder()
    monkeypatch.setitem(sys.modules, "tensorrt", make_module(rec))
    cudart = make_cudart(rec)
    monkeypatch.setattr(trt_mod, "import_cudart", lambda: cudart)
    return rec


def _images(folder: Path, n: int, size: tuple[int, int]) -> list[np.ndarray]:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(n)
    out = []
    for i in range(n):
        img = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        cv2.imwrite(str(folder / f"{i:02d}.png"), img)
        out.append(img)
    return out


def test_fp16_export_builds_both_engines_once(models_dir: Path, fake_trt: Recorder, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    done = export_tensorrt(precision="fp16", cache_dir=cache, out_dir=tmp_path / "out")
    assert [(e.model, e.precision, e.built) for e in done] == [
        ("detector", "fp16", True),
        ("ocr", "fp16", True),
    ]
    assert [b.flags for b in fake_trt.builds] == [{"FP16"}, {"FP16"}]
    assert not any(b.calibrator for b in fake_trt.builds)
    det, ocr = fake_trt.builds
    # Dynamic batch axis: profile (1, max_batch // 2, max_batch) over the model's fixed C, H, W.
    assert det.profiles == [{"images": ([1, 3, 64, 64], [4, 3, 64, 64], [8, 3, 64, 64])}]
    assert ocr.profiles == [{"images": ([1, 3, 32, 128], [4, 3, 32, 128], [8, 3, 32, 128])}]
    assert det.workspace == 1024 << 20
    for e in done:
        assert e.engine.parent == cache and e.engine.is_file() and e.calibration_cache is None
        assert e.copied is not None and e.copied.read_bytes() == e.engine.read_bytes()
        assert "Fake-Orin-Nano-fp16-b8" in e.engine.name
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "plate_detector.fp16.engine",
        "plate_ocr.fp16.engine",
    ]
    again = export_tensorrt(precision="fp16", cache_dir=cache)
    assert [e.built for e in again] == [False, False] and len(fake_trt.builds) == 2


def test_exported_engines_are_what_the_backend_loads(
    models_dir: Path, fake_trt: Recorder, tmp_path: Path
) -> None:
    from alpr.pipeline import Pipeline

    cache = tmp_path / "cache"
    export_tensorrt(precision="fp16", cache_dir=cache)
    cfg = load_config(None, engine={"backend": "tensorrt", "precision": "fp16", "cache_dir": str(cache)})
    pipe = Pipeline(config=cfg)
    assert len(fake_trt.builds) == 2, "the backend found the exported engines in its cache"
    assert pipe.detector.engine.cache_path.parent == cache  # type: ignore[attr-defined]
    assert not pipe.detector.engine.built  # type: ignore[attr-defined]


def test_int8_calibrates_on_runtime_preprocessing_then_reuses_the_cache(
    models_dir: Path, fake_trt: Recorder, tmp_path: Path
) -> None:
    scenes = _images(tmp_path / "scenes", 10, (96, 72))
    crops = _images(tmp_path / "crops", 9, (60, 20))
    cache = tmp_path / "cache"
    done = export_tensorrt(
        precision="int8",
        cache_dir=cache,
        calibration_images={"detector": tmp_path / "scenes", "ocr": tmp_path / "crops"},
    )
    det, ocr = fake_trt.builds
    assert det.flags == ocr.flags == {"FP16", "INT8"} and det.calibrator and ocr.calibrator
    assert not det.cache_read and det.batch_size == 8
    # Batches of 8 images; the short last batch (2 / 1 images) does not fit the calibration profile.
    assert det.calibration_profile == {"images": ([8, 3, 64, 64],) * 3}
    assert [b.shape for b in det.batches] == [(8, 3, 64, 64)]
    np.testing.assert_array_equal(det.batches[0], ops.letterbox_batch(scenes[:8], 64)[0])
    assert [b.shape for b in ocr.batches] == [(8, 3, 32, 128)]
    full = [np.array([[0, 0, 60, 20]], np.float32)] * 8
    want = np.concatenate(
        [
            ops.crop_plates(c, b, height=32, width=128, mean=0.5, std=0.5)
            for c, b in zip(crops[:8], full, strict=True)
        ]
    )
    np.testing.assert_allclose(ocr.batches[0], want, atol=1e-6)
    for e in done:
        assert e.calibration_cache is not None and e.calibration_cache.read_bytes().startswith(b"FAKE-CALIB")
    # Another batch limit is another engine, but the calibration cache is reused: no images needed.
    again = export_tensorrt(precision="int8", cache_dir=cache, max_batch=4)
    assert [e.built for e in again] == [True, True]
    assert [(b.calibrator, b.cache_read, len(b.batches)) for b in fake_trt.builds[2:]] == [
        (True, True, 0)
    ] * 2
    assert fake_trt.builds[2].calibration_profile == {"images": ([1, 3, 64, 64],) * 3}


def test_int8_without_images_or_cache_says_what_is_missing(
    models_dir: Path, fake_trt: Recorder, tmp_path: Path
) -> None:
    with pytest.raises(EngineError, match="needs calibration images or a calibration cache"):
        export_tensorrt(models=["ocr"], precision="int8", cache_dir=tmp_path / "cache")
    assert not list((tmp_path / "cache").glob("*.engine"))


def test_qdq_model_builds_int8_without_calibrator(fake_trt: Recorder) -> None:
    trt = sys.modules["tensorrt"]
    plan = trt_mod.build_plan(
        trt, REPO / "models" / "plate_ocr.int8.onnx", logger=trt.Logger(trt.Logger.WARNING), precision="int8"
    )
    assert json.loads(plan)["flags"] == ["FP16", "INT8"]
    assert fake_trt.builds[-1].calibrator is False


def test_static_network_gets_no_profile_and_calibrates_at_its_shape(
    fake_trt: Recorder, tmp_path: Path
) -> None:
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "static",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3, 4, 4])],
    )
    path = tmp_path / "static.onnx"
    path.write_bytes(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
    )
    assert onnx.load(str(path)).graph.input[0].name == "x"
    trt = sys.modules["tensorrt"]
    cache = tmp_path / "s.calib"
    x = np.arange(96, dtype=np.float32).reshape(2, 3, 4, 4)
    cudart = trt_mod.import_cudart()
    trt_mod.build_plan(
        trt,
        path,
        logger=None,
        precision="int8",
        calibration=[x, x[:1], x + 1],
        calibration_cache=cache,
        cudart=cudart,
    )
    build = fake_trt.builds[-1]
    assert build.profiles == [] and build.calibration_profile is None and build.batch_size == 2
    assert len(build.batches) == 2 and np.array_equal(build.batches[1], x + 1)  # the (1, ...) batch skipped
    assert cache.read_bytes() == b"FAKE-CALIB:static"


def test_bad_arguments(models_dir: Path, fake_trt: Recorder, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="models: expected some of detector, ocr, got plates"):
        export_tensorrt(models=["plates"])
    with pytest.raises(ConfigError, match="precision"):
        export_tensorrt(precision="int4")
    trt = sys.modules["tensorrt"]
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"junk")
    with pytest.raises(Exception, match="cannot parse"):
        trt_mod.build_plan(trt, bad, logger=None, precision="fp16")


def test_cli_export_tensorrt(
    models_dir: Path, fake_trt: Recorder, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from alpr.cli import main

    _images(tmp_path / "crops", 8, (60, 20))
    args = ["export", "tensorrt", "--models", "ocr", "--cache-dir", str(tmp_path / "c"), "--json"]
    assert main([*args, "--precision", "int8", "--calib-crops", str(tmp_path / "crops")]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["model"] == "ocr" and row["precision"] == "int8" and row["built"] is True
    assert Path(row["engine"]).is_file() and Path(row["calibration_cache"]).is_file()
    assert main(["export", "tensorrt", "--models", "ocr", "--cache-dir", str(tmp_path / "c")]) == 0
    assert "ocr fp16:" in capsys.readouterr().out
    assert main([*args, "--precision", "int8", "--max-batch", "2"]) == 0  # the cache: no crops needed
    assert main(["export", "tensorrt", "--models", "lpr"]) == 1
    assert "alpr: error: models: expected" in capsys.readouterr().err


def test_cli_without_tensorrt_names_the_extra(
    models_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from alpr.cli import main

    monkeypatch.setitem(sys.modules, "tensorrt", None)
    assert main(["export", "tensorrt"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("alpr: error: the TensorRT backend needs the tensorrt package")
    assert "pip install 'alpr-engine[tensorrt]'" in err


@pytest.mark.gpu
def test_real_tensorrt_export_fp16_and_int8(tmp_path: Path) -> None:  # pragma: no cover - GPU machines
    pytest.importorskip("tensorrt")
    _images(tmp_path / "scenes", 16, (640, 480))
    _images(tmp_path / "crops", 16, (140, 40))
    images = {"detector": tmp_path / "scenes", "ocr": tmp_path / "crops"}
    for precision in ("fp16", "int8"):
        done = export_tensorrt(precision=precision, cache_dir=tmp_path / "c", calibration_images=images)
        assert all(e.built and e.engine.stat().st_size > 0 for e in done)
    again = export_tensorrt(precision="int8", cache_dir=tmp_path / "c", max_batch=4)
    assert all(e.built and e.calibration_cache and e.calibration_cache.is_file() for e in again)
