"""Detector export: ONNX == PyTorch in ONNX Runtime, dynamic batch, metadata, INT8, decode and evaluation."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
import torch

from alpr.train.detector import PlateDetector
from alpr.train.detector.export import (
    decode_output,
    evaluate_onnx,
    export_detector_int8,
    export_detector_onnx,
    manifest_entry,
    onnx_session,
    verify_detector_onnx,
)

SIZE = 64


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[PlateDetector, Path]:
    torch.manual_seed(0)
    model = PlateDetector()
    # Non-trivial BN statistics so that eval-mode folding is exercised.
    model.train()
    with torch.no_grad():
        for _ in range(2):
            model(torch.rand(4, 3, SIZE, SIZE))
    model.eval()
    path = export_detector_onnx(model, tmp_path_factory.mktemp("onnx") / "det.onnx", SIZE)
    return model, path


def test_onnx_matches_pytorch_with_dynamic_batch(exported: tuple[PlateDetector, Path]) -> None:
    model, path = exported
    x = np.random.default_rng(0).random((3, 3, SIZE, SIZE), dtype=np.float32)
    diff = verify_detector_onnx(model, path, x, atol=1e-3)
    assert diff < 1e-3
    out = onnx_session(path).run(None, {"images": x[:1]})[0]
    assert out.shape == (1, 13, 8 * 8 + 4 * 4 + 2 * 2)


def test_onnx_metadata_and_io_names(exported: tuple[PlateDetector, Path]) -> None:
    _, path = exported
    proto = onnx.load(str(path))
    meta = {p.key: p.value for p in proto.metadata_props}
    assert (
        meta["format"] == "yolov8" and meta["kpt_shape"] == "[4, 2]" and meta["corner_order"] == "TL,TR,BR,BL"
    )
    assert [i.name for i in proto.graph.input] == ["images"]
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert min(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) >= 17
    entry = manifest_entry(path, SIZE, variants={"int8": "x.onnx"})
    assert entry["input"]["width"] == SIZE and entry["output"]["num_keypoints"] == 4
    assert len(entry["sha256"]) == 64 and entry["format"] == "yolov8"


def test_int8_model_runs_with_the_same_layout(exported: tuple[PlateDetector, Path], tmp_path: Path) -> None:
    _, path = exported
    calib = np.random.default_rng(1).random((4, 3, SIZE, SIZE), dtype=np.float32)
    q = export_detector_int8(path, tmp_path / "det.int8.onnx", calib)
    ops = {n.op_type for n in onnx.load(str(q)).graph.node}
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops
    ref = onnx_session(path).run(None, {"images": calib})[0]
    got = onnx_session(q).run(None, {"images": calib})[0]
    assert got.shape == ref.shape
    # Scores stay probabilities and widths positive after quantization.
    assert float(got[:, 4].min()) >= 0.0 and float(got[:, 4].max()) <= 1.0
    assert bool((got[:, 2:4] > 0).all())


def test_decode_output_nms_and_threshold() -> None:
    out = np.zeros((1, 13, 4), np.float32)
    # Two overlapping boxes (the weaker is suppressed), one separate, one under the threshold.
    out[0, :5, 0] = [20, 20, 10, 6, 0.9]
    out[0, :5, 1] = [21, 20, 10, 6, 0.8]
    out[0, :5, 2] = [50, 40, 12, 6, 0.6]
    out[0, :5, 3] = [10, 50, 12, 6, 0.1]
    out[0, 5:, 0] = [15, 17, 25, 17, 25, 23, 15, 23]
    (pred,) = decode_output(out, conf_threshold=0.25)
    np.testing.assert_allclose(pred.scores, [0.9, 0.6])
    np.testing.assert_allclose(pred.boxes[0], [15, 17, 25, 23])
    np.testing.assert_allclose(pred.corners[0], [[15, 17], [25, 17], [25, 23], [15, 23]])


def test_evaluate_onnx_reads_detect_and_openalpr_folders(
    exported: tuple[PlateDetector, Path], tmp_path: Path
) -> None:
    _, path = exported
    rng = np.random.default_rng(3)
    data = tmp_path / "detect"
    (data / "images" / "s").mkdir(parents=True)
    (data / "labels" / "s").mkdir(parents=True)
    bench = tmp_path / "bench" / "us"
    bench.mkdir(parents=True)
    rows = []
    for i in range(3):
        img = rng.integers(0, 255, (48, 80, 3), dtype=np.uint8)
        cv2.imwrite(str(data / "images" / "s" / f"{i}.jpg"), img)
        (data / "labels" / "s" / f"{i}.txt").write_text("0 0.5 0.5 0.25 0.2\n", encoding="utf-8")
        rows.append(["s", f"images/s/{i}.jpg", 80, 48, 1, "valid"])
        cv2.imwrite(str(bench / f"b{i}.jpg"), img)
        (bench / f"b{i}.txt").write_text(f"b{i}.jpg\t30\t19\t20\t10\tABC123\n", encoding="utf-8")
    with open(data / "manifest.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["source", "image", "width", "height", "n_plates", "split"])
        w.writerows(rows)
    report = evaluate_onnx(path, imgsz=SIZE, data=str(data), openalpr=str(tmp_path / "bench"))
    assert report["valid"]["objects"] == 3 and report["valid"]["images"] == 3
    assert 0.0 <= report["valid"]["map50"] <= 1.0
    assert report["valid"]["map50_by_height"]["h<16"]["objects"] == 3  # 48 px image, 9.6 px plates
    assert report["openalpr"]["total"] == 3 and report["openalpr"]["per_region"]["us"]["total"] == 3
    clean = evaluate_onnx(path, imgsz=SIZE, data=str(data), openalpr=None, exclude_sources=("s",))
    assert clean["valid"]["images"] == 0 and "openalpr" not in clean
