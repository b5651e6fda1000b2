"""ONNX export of the OCR (ORT == PyTorch), FP16 and INT8 variants, manifest entry, TensorRT builder, CLI."""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from alpr.train.ocr import CRNN, OcrConfig, predict_probs  # noqa: E402
from alpr.train.ocr.eval import onnx_config  # noqa: E402
from alpr.train.ocr.export import (  # noqa: E402
    export_fp16,
    export_ocr_onnx,
    manifest_entry,
    onnx_probs,
    verify_onnx,
)
from alpr.train.quantize import ArrayCalibrationReader, quantize_static_int8  # noqa: E402

TINY = OcrConfig(height=32, width=64, channels=(8, 16, 16, 24, 32), hidden=16)


@pytest.fixture(scope="module")
def model_and_onnx(tmp_path_factory: pytest.TempPathFactory) -> tuple[CRNN, Path]:
    torch.manual_seed(0)
    model = CRNN(TINY)
    # Give BatchNorm non-trivial statistics so the exported graph is not a near-identity.
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(16, 3, TINY.height, TINY.width))
    model.eval()
    path = export_ocr_onnx(model, tmp_path_factory.mktemp("onnx") / "ocr.onnx")
    return model, path


def test_ort_matches_pytorch_with_dynamic_batch(model_and_onnx: tuple[CRNN, Path]) -> None:
    model, path = model_and_onnx
    rng = np.random.default_rng(0)
    for n in (1, 5, 17):
        x = rng.normal(0, 1, (n, 3, TINY.height, TINY.width)).astype(np.float32)
        assert verify_onnx(model, path, x, atol=1e-4) <= 1e-4
        probs = onnx_probs(path, x)
        assert probs.shape == (n, TINY.seq_len, TINY.num_classes)
        np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)


def test_verify_onnx_detects_a_different_model(model_and_onnx: tuple[CRNN, Path]) -> None:
    _, path = model_and_onnx
    other = CRNN(TINY).eval()
    x = np.random.default_rng(1).normal(0, 1, (4, 3, TINY.height, TINY.width)).astype(np.float32)
    with pytest.raises(AssertionError, match="max"):
        verify_onnx(other, path, x)


def test_onnx_graph_contract(model_and_onnx: tuple[CRNN, Path]) -> None:
    import onnx

    _, path = model_and_onnx
    proto = onnx.load(str(path))
    assert max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) >= 17
    (inp,) = proto.graph.input
    assert inp.name == "images"
    dims = inp.type.tensor_type.shape.dim
    assert dims[0].dim_param and [d.dim_value for d in dims[1:]] == [3, TINY.height, TINY.width]
    assert proto.graph.output[0].name == "probs"
    cfg = onnx_config(path)
    assert (cfg.height, cfg.width, cfg.charset, cfg.mean, cfg.std) == (
        TINY.height,
        TINY.width,
        TINY.charset,
        TINY.mean,
        TINY.std,
    )


def test_fp16_variant_close_to_fp32(model_and_onnx: tuple[CRNN, Path], tmp_path: Path) -> None:
    _, path = model_and_onnx
    fp16 = export_fp16(path, tmp_path / "ocr.fp16.onnx")
    x = np.random.default_rng(2).normal(0, 1, (4, 3, TINY.height, TINY.width)).astype(np.float32)
    a, b = onnx_probs(path, x), onnx_probs(fp16, x)
    assert b.dtype == np.float32
    assert np.abs(a - b).max() < 1e-2
    assert fp16.stat().st_size < 0.7 * path.stat().st_size


def test_int8_static_quantization(model_and_onnx: tuple[CRNN, Path], tmp_path: Path) -> None:
    import onnx

    model, path = model_and_onnx
    rng = np.random.default_rng(3)
    calib = rng.normal(0, 1, (64, 3, TINY.height, TINY.width)).astype(np.float32)
    int8 = quantize_static_int8(path, tmp_path / "ocr.int8.onnx", calib)
    ops = {n.op_type for n in onnx.load(str(int8)).graph.node}
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops
    x = calib[:8]
    ref, got = predict_probs(model, x), onnx_probs(int8, x)
    assert got.shape == ref.shape
    np.testing.assert_allclose(got.sum(-1), 1.0, atol=1e-4)
    # Quantisation noise, not a different model: the probabilities stay close.
    assert np.abs(ref - got).mean() < 0.02
    with pytest.raises(ValueError, match="method"):
        quantize_static_int8(path, tmp_path / "x.onnx", calib, method="magic")


def test_int8_keeps_the_input_conv_in_fp32_when_asked(
    model_and_onnx: tuple[CRNN, Path], tmp_path: Path
) -> None:
    import onnx

    model, path = model_and_onnx
    calib = np.random.default_rng(4).normal(0, 1, (32, 3, TINY.height, TINY.width)).astype(np.float32)

    def input_conv_reads(model_path: Path) -> str:
        graph = onnx.load(str(model_path)).graph
        producers = {o: n.op_type for n in graph.node for o in n.output}
        first = next(n for n in graph.node if n.op_type == "Conv")
        return producers.get(first.input[0], "graph input")

    plain = quantize_static_int8(path, tmp_path / "plain.onnx", calib)
    kept = quantize_static_int8(path, tmp_path / "kept.onnx", calib, fp32_input_conv=True)
    # Fully quantized: the image goes through Quantize/DequantizeLinear before the first conv.
    assert input_conv_reads(plain) == "DequantizeLinear"
    # FP32 input conv: that conv reads the float image, later convs are still quantized.
    assert input_conv_reads(kept) == "graph input"
    ops = [n.op_type for n in onnx.load(str(kept)).graph.node]
    assert ops.count("QuantizeLinear") >= 2
    ref, got = predict_probs(model, calib[:8]), onnx_probs(kept, calib[:8])
    assert np.abs(ref - got).mean() < 0.02


def test_calibration_reader_protocol() -> None:
    x = np.zeros((10, 3, 4, 4), np.float32)
    reader = ArrayCalibrationReader(x, batch_size=4)
    sizes = []
    while (b := reader.get_next()) is not None:
        sizes.append(len(b["images"]))
    assert sizes == [4, 4, 2]
    reader.rewind()
    assert reader.get_next() is not None
    with pytest.raises(ValueError, match="float32"):
        ArrayCalibrationReader(np.zeros((2, 3, 4, 4), np.float64))


def test_manifest_entry(model_and_onnx: tuple[CRNN, Path]) -> None:
    _, path = model_and_onnx
    entry = manifest_entry(TINY, path, variants={"int8": "ocr.int8.onnx"})
    assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert entry["format"] == "ctc" and entry["output"]["blank"] == 0
    assert entry["input"] == {
        "name": "images",
        "width": 64,
        "height": 32,
        "channels": 3,
        "color": "RGB",
        "mean": 0.5,
        "std": 0.5,
        "keep_aspect": False,
    }
    assert entry["charset"] == TINY.charset and entry["variants"]["int8"]["file"] == "ocr.int8.onnx"
    json.dumps(entry)


def test_cli_registers_commands_without_importing_torch() -> None:
    code = (
        "import argparse, sys\n"
        "from alpr.train.cli import add_parsers\n"
        "p = argparse.ArgumentParser(); add_parsers(p.add_subparsers(dest='cmd'))\n"
        "a = p.parse_args(['train', 'ocr', '--labels', 'x.tsv', '--epochs', '3'])\n"
        "assert a.model == 'ocr' and a.epochs == 3 and a.labels == ['x.tsv'] and callable(a.func)\n"
        "a = p.parse_args(['export', 'ocr', '--checkpoint', 'c.pt'])\n"
        "assert a.checkpoint == 'c.pt' and a.out == 'models'\n"
        "p.parse_args(['train', 'detector', '--data', 'd']); p.parse_args(['export', 'detector'])\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_cli_rejects_unknown_model() -> None:
    from alpr.train.cli import add_parsers

    parser = argparse.ArgumentParser()
    add_parsers(parser.add_subparsers(dest="cmd"))
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "segmenter"])


def test_export_all_writes_variants_manifest_and_matching_metrics(
    model_and_onnx: tuple[CRNN, Path], tmp_path: Path
) -> None:
    import csv

    import cv2

    from alpr.train import common
    from alpr.train.ocr.eval import evaluate_model, export_all, format_table

    model, _ = model_and_onnx
    ckpt = common.save_checkpoint(
        tmp_path / "best.pt", {"model": model.state_dict(), "config": TINY.to_dict()}
    )
    rng = np.random.default_rng(0)
    tsv = tmp_path / "labels.tsv"
    with open(tsv, "w", newline="") as fh:
        w = csv.writer(fh, delimiter="\t")
        w.writerow(["path", "text", "region", "split"])
        for i in range(8):
            img = rng.integers(0, 256, (24, 80, 3), dtype=np.uint8)
            cv2.imwrite(str(tmp_path / f"{i}.png"), img)
            w.writerow([f"{i}.png", f"AB{i}", "EU", "valid" if i < 3 else "train"])
    man = tmp_path / "models" / "manifest.json"
    man.parent.mkdir()
    man.write_text(json.dumps({"version": "0.1.0", "models": {"detector": {"file": "d.onnx"}}}))
    report = export_all(ckpt, man.parent, calib_labels=[str(tsv)], calib_size=4, fp16=True)
    assert report["max_abs_diff_torch_vs_ort"] <= 1e-4
    for kind in ("fp32", "fp16", "int8"):
        assert (man.parent / report[kind]["file"]).is_file()
        assert report[kind]["valid"]["all"]["n"] == 3
    manifest = json.loads(man.read_text())
    assert manifest["models"]["detector"] == {"file": "d.onnx"}  # other entries are kept
    variants = manifest["models"]["ocr"]["variants"]
    assert {k: v["file"] for k, v in variants.items()} == {
        "fp16": "plate_ocr.fp16.onnx",
        "int8": "plate_ocr.int8.onnx",
    }
    for v in variants.values():  # every variant carries its sha256, checked when it is loaded
        assert v["sha256"] == hashlib.sha256((man.parent / v["file"]).read_bytes()).hexdigest()
    # The ONNX file and the checkpoint read the same crops the same way.
    a = evaluate_model(man.parent / "plate_ocr.onnx", labels=[str(tsv)], plots_dir=tmp_path / "plots")
    b = evaluate_model(ckpt, labels=[str(tsv)])
    assert a["valid"]["all"]["char_acc"] == pytest.approx(b["valid"]["all"]["char_acc"])
    assert (tmp_path / "plots" / "confusion_valid.png").is_file()
    assert "valid" in format_table(a)
