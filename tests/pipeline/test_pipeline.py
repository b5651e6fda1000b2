from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from models import CHARSET, ctc_probs, detector_output, make_detector, make_ocr, write_models
from onnx import TensorProto

import alpr
from alpr.config import PipelineConfig, load_config
from alpr.errors import DecodeError, ModelLoadError
from alpr.pipeline import Detector, Pipeline, PpOcrRecognizer, SlotRecognizer


def test_default_pipeline_reads_and_maps_boxes(models_dir: Path) -> None:
    pipe = alpr.Pipeline()
    frame = np.full((480, 640, 3), 90, np.uint8)
    before = frame.copy()
    reads = pipe(frame)
    assert np.array_equal(frame, before), "the caller's frame must not change"
    assert len(reads) == 1
    r = reads[0]
    assert isinstance(r, alpr.PlateRead)
    assert r.text == "ABC1234"
    assert r.char_confidences == pytest.approx((0.9,) * 7, abs=1e-5)
    assert r.confidence == pytest.approx(0.9, abs=1e-5)
    # plate (22..42, 28..36) in the 64 px letterbox of a 640x480 frame: scale 0.1, pad_y 8
    assert r.box == pytest.approx((220, 200, 420, 280), abs=1.0)
    assert r.corners is not None and r.corners[2] == pytest.approx((420, 280), abs=1.0)
    assert r.detector_score == pytest.approx(0.9, abs=1e-5)
    assert r.region is not None  # labelled by the built-in formats
    assert r.crop is None
    with pytest.raises(AttributeError):
        r.text = "X"  # type: ignore[misc]
    assert set(pipe.times) >= {"det_pre", "det_infer", "det_post", "ocr_pre", "ocr_infer", "ocr_post"}


def test_batch_matches_single_frames(models_dir: Path) -> None:
    pipe = Pipeline()
    frames = [
        np.zeros((480, 640, 3), np.uint8),
        np.zeros((300, 300, 3), np.uint8),
        np.zeros((64, 64), np.uint8),
    ]
    batched = pipe.batch(frames)
    assert [len(b) for b in batched] == [1, 1, 1]
    for f, b in zip(frames, batched, strict=True):
        assert pipe(f) == b
    assert batched[1][0].box == pytest.approx(
        (22 * 300 / 64, 28 * 300 / 64, 42 * 300 / 64, 36 * 300 / 64), abs=1
    )


def test_crops_requested(models_dir: Path) -> None:
    pipe = Pipeline(config=PipelineConfig(return_crops=True))
    frame = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    (r,) = pipe(frame)
    assert r.crop is not None and r.crop.shape == (80, 200, 3)
    assert np.array_equal(r.crop, frame[200:280, 220:420])


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((10, 10, 3), np.float32),
        np.zeros((10, 10, 4), np.uint8),
        np.zeros((0, 5, 3), np.uint8),
        "img",
        None,
    ],
)
def test_bad_frames(models_dir: Path, bad: object) -> None:
    pipe = Pipeline()
    with pytest.raises(DecodeError, match="expected"):
        pipe(bad)  # type: ignore[arg-type]


def test_no_detection_below_threshold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_models(tmp_path / "m", scores=(0.2,))
    monkeypatch.setenv("ALPR_MODELS_DIR", str(root))
    assert Pipeline()(np.zeros((100, 100, 3), np.uint8)) == []
    low = Pipeline(config=load_config(detector={"conf_threshold": 0.1}))
    assert len(low(np.zeros((100, 100, 3), np.uint8))) == 1


def test_nms_and_several_plates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    boxes = ((16, 16, 10, 6), (17, 16, 10, 6), (48, 48, 12, 6))
    root = write_models(tmp_path / "m", boxes=boxes, scores=(0.8, 0.9, 0.7))
    monkeypatch.setenv("ALPR_MODELS_DIR", str(root))
    reads = Pipeline()(np.zeros((64, 64, 3), np.uint8))
    assert [round(r.detector_score, 2) for r in reads] == [0.9, 0.7]


def test_corrupt_bundled_model(models_dir: Path) -> None:
    (models_dir / "plate_ocr.onnx").write_bytes(b"garbage")
    with pytest.raises(ModelLoadError, match="sha256"):
        Pipeline()


def test_wrong_model_file(tmp_path: Path, models_dir: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(ModelLoadError, match="cannot load ONNX model"):
        Pipeline(config=load_config(detector={"model": str(bad)}))


def test_missing_manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALPR_MODELS_DIR", str(tmp_path))
    import alpr._models as m

    monkeypatch.setattr(m, "_candidates", lambda: [tmp_path])
    with pytest.raises(ModelLoadError, match="no bundled models"):
        Pipeline()


def test_charset_mismatch_names_both_numbers(tmp_path: Path, models_dir: Path) -> None:
    ocr = make_ocr(tmp_path / "ocr20.onnx", ctc_probs("AB", charset="ABCDEFGHIJKLMNOPQRS"))
    with pytest.raises(ModelLoadError, match=r"outputs 20 classes.*implies 37"):
        Pipeline(config=load_config(ocr={"model": str(ocr), "charset": CHARSET}))


def test_constrained_regions_label_reads(models_dir: Path) -> None:
    pipe = Pipeline(config=load_config(regions={"enabled": ["br"]}))
    (r,) = pipe(np.zeros((64, 64, 3), np.uint8))
    assert (r.text, r.region) == ("ABC1234", "br-old")
    # Constrained to California, the read fits no format: it is kept as read (a hint only re-ranks),
    # with its own confidence, instead of being forced into 9LLL999.
    (kept,) = Pipeline(config=load_config(regions={"enabled": ["us-ca"]}))(np.zeros((64, 64, 3), np.uint8))
    assert (kept.text, kept.region) == ("ABC1234", None) and kept.confidence > 0.85
    strict = load_config(ocr={"min_confidence": 0.5}, regions={"enabled": ["us-ca"]})
    assert [r.text for r in Pipeline(config=strict)(np.zeros((64, 64, 3), np.uint8))] == ["ABC1234"]
    # Unconstrained with require_match: reads that fit no enabled format are dropped.
    flag = load_config(regions={"enabled": ["us-ca"], "constrain": False, "require_match": True})
    assert Pipeline(config=flag)(np.zeros((64, 64, 3), np.uint8)) == []


def test_yolov8_export_with_plate_class(tmp_path: Path, models_dir: Path) -> None:
    # An 80-class Ultralytics-style head with no keypoints: class 3 is the plate class.
    out = np.zeros((1, 84, 8), np.float32)
    out[0, :4, 0] = (32, 32, 20, 8)
    out[0, 4 + 3, 0] = 0.8
    out[0, :4, 1] = (10, 10, 8, 8)
    out[0, 4 + 0, 1] = 0.95  # a "person": not a plate
    det = make_detector(tmp_path / "yolo.onnx", 64, out)
    cfg = load_config(detector={"model": str(det), "format": "yolov8", "plate_classes": [3]})
    pipe = Pipeline(config=cfg)
    assert pipe.detector.num_keypoints == 0
    (r,) = pipe(np.zeros((64, 64, 3), np.uint8))
    assert r.corners is None and r.box == pytest.approx((22, 28, 42, 36), abs=0.5)
    assert r.text == "ABC1234"


def test_slot_recognizer(tmp_path: Path, models_dir: Path) -> None:
    alphabet = CHARSET + "_"
    slots = 9
    probs = np.full((1, slots, len(alphabet)), 0.001, np.float32)
    for i, ch in enumerate("XY12O"):
        probs[0, i, alphabet.index(ch)] = 0.95
    probs[0, 5:, alphabet.index("_")] = 0.99
    from models import _constant_model

    model = _constant_model(
        tmp_path / "slot.onnx", "input", ["N", 70, 140, 1], probs.reshape(1, -1), "out", TensorProto.UINT8
    )
    rec = SlotRecognizer.from_config(
        load_config(ocr={"model": str(model), "format": "slot", "alphabet": alphabet}).ocr, None
    )
    assert (rec.crop.height, rec.crop.width, rec.crop.gray) == (70, 140, True)
    pipe = Pipeline(recognizer=rec, config=load_config(regions={"enabled": ["eu-de"]}))
    (r,) = pipe(np.zeros((64, 64, 3), np.uint8))
    # The slot model read "XY12O"; the German format fixes the trailing O to 0 (digits only there).
    assert (r.text, r.region) == ("XY120", "eu-de")
    assert len(r.char_confidences) == 5


def test_ppocr_recognizer_with_dictionary(tmp_path: Path, models_dir: Path) -> None:
    dictionary = list("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-")
    charset = "".join(dictionary) + " "
    probs = ctc_probs("AB-12 3", charset=charset, steps=20)
    model = make_ocr(tmp_path / "rec.onnx", probs, 48, 320)
    dict_path = tmp_path / "keys.txt"
    dict_path.write_text("\n".join(dictionary) + "\n")
    cfg = load_config(ocr={"model": str(model), "format": "ppocr", "dict_path": str(dict_path)})
    pipe = Pipeline(config=cfg)
    assert isinstance(pipe.recognizer, PpOcrRecognizer)
    (r,) = pipe(np.zeros((64, 64, 3), np.uint8))
    assert r.text == "AB123" and len(r.char_confidences) == 5


def test_ppocr_dictionary_mismatch(tmp_path: Path, models_dir: Path) -> None:
    probs = ctc_probs("A", charset="AB ", steps=8)
    model = make_ocr(tmp_path / "rec.onnx", probs, 48, 320)
    dict_path = tmp_path / "keys.txt"
    dict_path.write_text("A\nB\nC\nD\n")
    with pytest.raises(ModelLoadError, match=r"outputs 4 classes.*implies 6"):
        Pipeline(
            config=load_config(ocr={"model": str(model), "format": "ppocr", "dict_path": str(dict_path)})
        )


def test_detector_channel_check(tmp_path: Path) -> None:
    from alpr.engines import create_engine

    det = make_detector(tmp_path / "d.onnx", 64, np.zeros((1, 6, 4), np.float32))
    with pytest.raises(ModelLoadError, match="6 channels"):
        Detector(create_engine(det), input_size=(64, 64), num_keypoints=4)


def test_manifest_variant(models_dir: Path) -> None:
    manifest = json.loads((models_dir / "manifest.json").read_text())
    manifest["models"]["detector"]["variants"] = {"int8": "plate_detector.onnx"}  # pre-0.3.0 form: a name
    (models_dir / "manifest.json").write_text(json.dumps(manifest))
    assert (
        len(Pipeline(config=load_config(detector={"variant": "int8"}))(np.zeros((64, 64, 3), np.uint8))) == 1
    )
    with pytest.raises(ModelLoadError, match="no variant 'fp8'"):
        Pipeline(config=load_config(detector={"variant": "fp8"}))


def test_detector_output_helper_is_consistent() -> None:
    out = detector_output(64, [(10, 10, 4, 2)], [0.5])
    assert out.shape == (1, 13, 16) and out[0, 4, 0] == 0.5 and out[0, 5, 0] == 8


def test_soft_format_constraint(models_dir: Path) -> None:
    frame = np.zeros((64, 64, 3), np.uint8)
    for ratio in (0.0, 0.01):
        pipe = Pipeline(config=load_config(regions={"enabled": ["us-ca"], "min_format_ratio": ratio}))
        assert [(r.text, r.region) for r in pipe(frame)] == [("ABC1234", None)]
    ok = Pipeline(config=load_config(regions={"enabled": ["br"], "min_format_ratio": 0.01}))
    assert [(r.text, r.region) for r in ok(frame)] == [("ABC1234", "br-old")]


@pytest.mark.parametrize(
    ("read", "twins", "regions", "expected"),
    [
        # the model half-saw the twin (8 vs B, 2 vs Z): the format settles the confusable
        ("A8C1234", {1: ("B", 0.35)}, ["br"], ("ABC1234", "br-old")),
        ("ABC1Z34", {4: ("2", 0.3)}, ["br-old"], ("ABC1234", "br-old")),
        # the model was sure: a read that fits no format is kept as read, never forced (was UF24959)
        ("7BSAMP", None, ["us"], ("7BSAMP", None)),
        ("A8C1234", None, ["br"], ("A8C1234", None)),
        ("ABC12345", {7: ("S", 0.4)}, ["br"], ("ABC12345", None)),  # a length change never re-ranks
    ],
)
def test_region_hint_only_reranks(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    read: str,
    twins: dict[int, tuple[str, float]] | None,
    regions: list[str],
    expected: tuple[str, str | None],
) -> None:
    from models import write_models

    monkeypatch.setenv("ALPR_MODELS_DIR", str(write_models(tmp_path / "m", text=read, twins=twins)))
    pipe = Pipeline(config=load_config(regions={"enabled": regions}))
    assert [(r.text, r.region) for r in pipe(np.zeros((64, 64, 3), np.uint8))] == [expected]
    # and without the hint the read is what the model said
    assert [r.text for r in Pipeline(config=load_config())(np.zeros((64, 64, 3), np.uint8))] == [read]


def test_vote_picks_the_majority_then_the_surest() -> None:
    from alpr.recognizers import vote

    def r(text: str, conf: float) -> tuple[str, np.ndarray, str | None]:
        return (text, np.full(len(text), conf, np.float32), None)

    assert vote([r("ABC123", 0.6), r("A8C123", 0.9), r("ABC123", 0.7)])[0] == "ABC123"
    best = vote([r("ABC123", 0.6), r("ABC123", 0.8)])
    assert best[1][0] == pytest.approx(0.8)  # the most confident read of the winning text
    assert vote([r("ABC123", 0.6), r("A8C123", 0.9)])[0] == "A8C123"  # tie: higher confidence


def test_vote_pads_read_each_plate_once_per_margin(models_dir: Path) -> None:
    frame = np.zeros((64, 64, 3), np.uint8)
    pipe = Pipeline(config=load_config(ocr={"vote_pads": [0.0, 0.12]}))
    assert [r.text for r in pipe(frame)] == ["ABC1234"]
    assert pipe.times["ocr_infer"][1] == 1  # all margins in one OCR batch
    with pytest.raises(ValueError):
        load_config(ocr={"vote_pads": [0.1] * 5})


def test_variants_are_sha256_checked(models_dir: Path) -> None:
    import hashlib
    import json

    from alpr._models import bundled

    manifest = json.loads((models_dir / "manifest.json").read_text())
    good = hashlib.sha256((models_dir / "plate_detector.onnx").read_bytes()).hexdigest()
    manifest["models"]["detector"]["variants"] = {
        "int8": {"file": "plate_detector.onnx", "sha256": good},
        "bad": {"file": "plate_detector.onnx", "sha256": "0" * 64},
    }
    (models_dir / "manifest.json").write_text(json.dumps(manifest))
    path, entry = bundled("detector", "int8")
    assert path.name == "plate_detector.onnx" and entry.variants["int8"].sha256 == good
    with pytest.raises(ModelLoadError, match="sha256"):
        bundled("detector", "bad")
    manifest["models"]["detector"]["variants"] = {"x": {"file": 3}}
    (models_dir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelLoadError, match="invalid 'detector' entry"):
        bundled("detector", None)
