"""CRNN + CTC OCR: shapes, the two-row unroll, decoding, metrics, data readers and a few training steps."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
cv2 = pytest.importorskip("cv2")

from alpr.train import common  # noqa: E402
from alpr.train.ocr import (  # noqa: E402
    CHARSET,
    CRNN,
    OcrConfig,
    TrainOcrOptions,
    auroc,
    char_accuracy,
    ctc_loss,
    edit_distance,
    encode_texts,
    evaluate_reads,
    greedy_decode,
    load_model,
    predict_probs,
    train_ocr,
)
from alpr.train.ocr.data import OcrSampler, preprocess, read_label_tsv, read_openalpr_dir  # noqa: E402

TINY = OcrConfig(height=32, width=64, channels=(8, 16, 16, 24, 32), hidden=16)


def test_shipped_config_size_and_output_shape() -> None:
    model = CRNN(OcrConfig(32, 128, (24, 48, 80, 112, 144), 80)).eval()
    n = sum(p.numel() for p in model.parameters())
    assert 300_000 <= n <= 1_000_000
    out = model(torch.zeros(3, 3, 32, 128))
    assert out.shape == (3, 64, len(CHARSET) + 1)
    model.softmax = True
    probs = model(torch.rand(2, 3, 32, 128))
    assert torch.allclose(probs.sum(-1), torch.ones(2, 64), atol=1e-5)


@pytest.mark.parametrize(("h", "w"), [(32, 64), (48, 96), (64, 128)])
def test_feature_map_has_two_rows_for_any_height(h: int, w: int) -> None:
    cfg = OcrConfig(height=h, width=w, channels=(8, 8, 8, 8, 8), hidden=0)
    feats = CRNN(cfg).cnn(torch.zeros(1, 3, h, w))
    assert feats.shape[2:] == (2, w // 4)
    assert cfg.seq_len == 2 * (w // 4)


def test_sequence_is_top_row_then_bottom_row() -> None:
    cfg = OcrConfig(height=32, width=16, channels=(4, 4, 4, 4, 4), hidden=0)
    model = CRNN(cfg).eval()
    # Replace the CNN by a known feature map: channel 0 = 1 on the top row, channel 1 = 1 on the bottom.
    feats = torch.zeros(1, 4, 2, 4)
    feats[0, 0, 0, :] = 1.0
    feats[0, 1, 1, :] = 1.0
    model.cnn = torch.nn.Sequential()  # identity
    model.head = torch.nn.Identity()  # type: ignore[assignment]
    seq = model(feats)
    assert seq.shape == (1, 8, 4)
    assert torch.equal(seq[0, :4, 0], torch.ones(4)) and torch.equal(seq[0, 4:, 1], torch.ones(4))
    assert torch.equal(seq[0, :4, 1], torch.zeros(4)) and torch.equal(seq[0, 4:, 0], torch.zeros(4))


def _onehot(path: list[int], c: int = len(CHARSET) + 1, p: float = 0.9) -> np.ndarray:
    probs = np.full((len(path), c), (1 - p) / (c - 1), dtype=np.float32)
    probs[np.arange(len(path)), path] = p
    return probs


def test_greedy_decode_merges_repeats_and_drops_blanks() -> None:
    a, b = CHARSET.index("A") + 1, CHARSET.index("B") + 1
    probs = _onehot([0, a, a, 0, a, b, b, 0])
    probs[2, a] = 0.95  # the run's best frame gives the confidence
    probs[5, b] = 0.5
    ((text, conf),) = greedy_decode(probs[None])
    assert text == "AAB"
    assert conf.dtype == np.float32 and conf.shape == (3,)
    np.testing.assert_allclose(conf, [0.95, 0.9, 0.9], atol=1e-6)
    ((empty, econf),) = greedy_decode(_onehot([0, 0, 0])[None])
    assert empty == "" and econf.shape == (0,)
    with pytest.raises(ValueError, match="expected"):
        greedy_decode(np.zeros((1, 4, 5), dtype=np.float32))


def test_encode_texts_and_errors() -> None:
    targets, lengths = encode_texts(["AB1", "Z"])
    assert targets.tolist() == [11, 12, 2, 36] and lengths.tolist() == [3, 1]
    with pytest.raises(ValueError, match="expected characters"):
        encode_texts(["AB-1"])
    with pytest.raises(ValueError, match="non-empty"):
        encode_texts([""])


def test_metrics() -> None:
    assert (
        edit_distance("ABC", "ABC") == 0 and edit_distance("ABC", "AXC") == 1 and edit_distance("", "AB") == 2
    )
    assert char_accuracy(["ABC", "12"], ["ABC", "123"]) == pytest.approx(1 - 1 / 6)
    assert auroc([0.9, 0.8, 0.3, 0.1], [True, True, False, False]) == 1.0
    assert auroc([0.1, 0.2], [True, False]) == 0.0
    assert auroc([0.5, 0.5], [True, False]) == 0.5
    assert np.isnan(auroc([0.5], [True]))
    reads = [
        ("ABC", np.array([0.99, 0.98, 0.97], np.float32)),
        ("AXC", np.array([0.9, 0.4, 0.9], np.float32)),
    ]
    res = evaluate_reads(reads, ["ABC", "ABC"], ["US", "EU"])
    assert (
        res["all"]["exact"] == 0.5
        and res["US"]["exact"] == 1.0
        and res["EU"]["char_acc"] == pytest.approx(2 / 3)
    )
    assert res["all"]["auroc_min_conf"] == 1.0
    assert res["all"]["exact_at"]["0.5"] == {"coverage": 0.5, "exact": 1.0}


def _write_crops(root: Path, texts: list[str]) -> list[Path]:
    from alpr.train.synth import find_fonts, render_plate

    try:
        find_fonts()
    except FileNotFoundError:
        pytest.skip("plate fonts not installed")
    paths = []
    for i, t in enumerate(texts):
        plate = render_plate(np.random.default_rng(i), "EU", t)
        p = root / f"{t}_{i}.jpg"
        cv2.imwrite(str(p), cv2.cvtColor(plate.image, cv2.COLOR_RGB2BGR))
        paths.append(p)
    return paths


def test_read_label_tsv_shared_and_generic(tmp_path: Path) -> None:
    shared = tmp_path / "labels.tsv"
    with open(shared, "w", newline="") as fh:
        w = csv.writer(fh, delimiter="\t")
        w.writerow(["path", "text", "region", "source", "split", "synthetic"])
        w.writerow(["images/a.jpg", "ab12cd", "EU", "x", "train", "0"])
        w.writerow(["images/b.jpg", "XY-999", "US", "x", "valid", "1"])
    rows = read_label_tsv(shared)
    assert [(r.text, r.region, r.split, r.synthetic) for r in rows] == [
        ("AB12CD", "EU", "train", False),
        ("XY999", "US", "valid", True),
    ]
    assert rows[0].path == tmp_path / "images/a.jpg"
    assert [r.text for r in read_label_tsv(shared, split="valid")] == ["XY999"]
    assert [r.text for r in read_label_tsv(shared, regions=["EU"])] == ["AB12CD"]
    generic = tmp_path / "gen.tsv"
    generic.write_text("c.png\tQQ1\nd.png\tzz 22\n")
    assert [(r.path.name, r.text) for r in read_label_tsv(generic)] == [("c.png", "QQ1"), ("d.png", "ZZ22")]
    bad = tmp_path / "bad.tsv"
    bad.write_text("only-one-column\n")
    with pytest.raises(ValueError, match="expected path<TAB>text"):
        read_label_tsv(bad)
    with pytest.raises(FileNotFoundError):
        read_label_tsv(tmp_path / "missing.tsv")


def test_read_openalpr_dir_tolerates_wrong_extension(tmp_path: Path) -> None:
    (tmp_path / "br").mkdir()
    cv2.imwrite(str(tmp_path / "br" / "P1.jpg"), np.zeros((50, 80, 3), np.uint8))
    (tmp_path / "br" / "P1.txt").write_text("P1.png\t10\t5\t40\t20\tPAG5219\n")
    (gt,) = read_openalpr_dir(tmp_path)
    assert (
        gt.image.name == "P1.jpg" and gt.box == (10, 5, 40, 20) and gt.text == "PAG5219" and gt.region == "BR"
    )


def test_sampler_batches(tmp_path: Path) -> None:
    crops = [np.full((40, 120, 3), 200, np.uint8)]
    sampler = OcrSampler(crops, ["AB12"], width=64, height=32, synth_fraction=0.5, charset=CHARSET)
    x, texts = sampler.batch(np.random.default_rng(0), 16)
    assert x.shape == (16, 3, 32, 64) and x.dtype == np.float32 and len(texts) == 16
    assert x.min() >= -1.0 and x.max() <= 1.0
    assert "AB12" in texts and any(t != "AB12" for t in texts)
    with pytest.raises(ValueError, match="expected non-empty strings"):
        OcrSampler(crops, ["ab"], width=64, height=32, charset=CHARSET)


def test_loss_goes_down_on_a_fixed_batch() -> None:
    common.seed_everything(0)
    from alpr.train.synth import find_fonts, render_plate

    try:
        find_fonts()
    except FileNotFoundError:
        pytest.skip("plate fonts not installed")
    rng = np.random.default_rng(0)
    plates = [render_plate(rng, "BR") for _ in range(8)]
    x = torch.from_numpy(preprocess([p.image for p in plates], TINY.width, TINY.height))
    texts = [p.text for p in plates]
    model = CRNN(TINY)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        loss = ctc_loss(model(x), texts)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert np.mean(losses[-5:]) < 0.6 * np.mean(losses[:5])


def test_train_ocr_end_to_end_and_resume(tmp_path: Path) -> None:
    texts = ["AB123CD", "XY987ZT", "QW456ER", "MN321BV"]
    paths = _write_crops(tmp_path, texts)
    tsv = tmp_path / "labels.tsv"
    with open(tsv, "w", newline="") as fh:
        w = csv.writer(fh, delimiter="\t")
        w.writerow(["path", "text", "region", "split"])
        for i, (p, t) in enumerate(zip(paths, texts, strict=True)):
            w.writerow([p.name, t, "EU", "valid" if i == 0 else "train"])
    out = tmp_path / "run"
    opts = TrainOcrOptions(
        labels=[str(tsv)], out=str(out), epochs=2, steps_per_epoch=2, batch_size=4, config=TINY, threads=1
    )
    summary = train_ocr(opts)
    assert summary["epoch"] == 1
    for name in ("last.pt", "best.pt", "metrics.csv", "metrics.jsonl", "summary.json", "loss.png"):
        assert (out / name).is_file(), name
    assert len(common.MetricsLog(out).rows) == 2
    # Resume: picks up at epoch 2 and appends to the same log.
    opts.epochs = 3
    assert train_ocr(opts)["epoch"] == 2
    rows = common.MetricsLog(out).rows
    assert [r["epoch"] for r in rows] == [0, 1, 2]
    assert "valid/EU/exact" in rows[-1]
    # Each start records its options: the two starts differ only in the epochs asked for.
    starts = common.read_json(out / "options.json")
    assert [s["epochs"] for s in starts] == [2, 3]
    assert starts[0]["labels"] == [str(tsv)] and starts[0]["config"]["height"] == TINY.height
    model = load_model(out / "best.pt")
    probs = predict_probs(model, preprocess([cv2.imread(str(paths[0]))[..., ::-1]], TINY.width, TINY.height))
    assert probs.shape == (1, TINY.seq_len, TINY.num_classes)


def test_common_checkpoint_and_log_roundtrip(tmp_path: Path) -> None:
    path = common.save_checkpoint(tmp_path / "ck" / "x.pt", {"a": torch.arange(3), "epoch": 4})
    state = common.load_checkpoint(path)
    assert state["epoch"] == 4 and state["a"].tolist() == [0, 1, 2]
    with pytest.raises(FileNotFoundError, match="expected a file"):
        common.load_checkpoint(tmp_path / "nope.pt")
    log = common.MetricsLog(tmp_path / "run")
    log.log(epoch=0, loss=torch.tensor(1.5))
    log.log(epoch=1, loss=np.float32(0.5), extra="x")
    text = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    assert text[0] == "epoch,loss,extra" and text[2] == "1,0.5,x"
    assert common.MetricsLog(tmp_path / "run").column("loss") == [1.5, 0.5]
    assert common.MetricsLog(tmp_path / "run", resume=False).rows == []
    assert common.select_device("cpu").type == "cpu"
    assert common.amp_dtype(torch.device("cpu")) is None
    with pytest.raises(ValueError, match="amp"):
        common.amp_dtype(torch.device("cpu"), "fp8")
    assert common.auto_batch_size(1 << 20, torch.device("cpu"), maximum=64) in (8, 16, 32, 64)


def test_excluded_sources_stay_out_of_validation(tmp_path: Path) -> None:
    from alpr.train.ocr.train import _load_valid_sets

    texts = ["AB123CD", "XY987ZT", "QW456ER"]
    paths = _write_crops(tmp_path, texts)
    tsv = tmp_path / "labels.tsv"
    with open(tsv, "w", newline="") as fh:
        w = csv.writer(fh, delimiter="\t")
        w.writerow(["path", "text", "region", "source", "split"])
        for p, t, src in zip(paths, texts, ["ok", "nolicence", "ok"], strict=True):
            w.writerow([p.name, t, "EU", src, "valid"])
    opts = TrainOcrOptions(labels=[str(tsv)], exclude_sources=["nolicence"])
    x, got, groups = _load_valid_sets(opts, TINY)["valid"]
    assert got == ["AB123CD", "QW456ER"] and x.shape[0] == 2 and groups == ["EU", "EU"]
    opts.exclude_sources = []
    assert _load_valid_sets(opts, TINY)["valid"][1] == texts


def test_transformer_recognizer_has_the_crnn_contract() -> None:
    from alpr.train.ocr import PlateViT, build_model

    cfg = OcrConfig(height=32, width=64, arch="vit", dim=32, depth=2, heads=2)
    model = build_model(cfg)
    assert isinstance(model, PlateViT)
    out = model.eval()(torch.zeros(3, 3, 32, 64))
    assert out.shape == (3, cfg.seq_len, cfg.num_classes)  # same (N, T, C) as the CRNN
    # Global attention: a change at the left edge reaches the last output step.
    x = torch.zeros(1, 3, 32, 64)
    y = x.clone()
    y[..., :4] = 1.0
    assert not torch.allclose(model(x)[0, -1], model(y)[0, -1])
    with pytest.raises(ValueError, match="arch"):
        OcrConfig(arch="lstm")
    cfg2 = OcrConfig.from_dict(cfg.to_dict())
    assert cfg2 == cfg


def test_init_from_onnx_reproduces_the_export_and_grows_the_charset(tmp_path: Path) -> None:
    from alpr.train.ocr import init_from_onnx
    from alpr.train.ocr.export import export_ocr_onnx, onnx_probs

    torch.manual_seed(0)
    src = CRNN(TINY)
    src.train()
    with torch.no_grad():  # non-trivial BatchNorm statistics, folded into the convs by the export
        for _ in range(3):
            src(torch.randn(16, 3, TINY.height, TINY.width))
    src.eval()
    path = export_ocr_onnx(src, tmp_path / "ocr.onnx")
    x = np.random.default_rng(0).normal(0, 1, (24, 3, TINY.height, TINY.width)).astype(np.float32)
    ref = onnx_probs(path, x)
    grown = OcrConfig(
        height=TINY.height,
        width=TINY.width,
        channels=TINY.channels,
        hidden=TINY.hidden,
        charset=CHARSET + "皖京",
    )
    dst = CRNN(grown)
    info = init_from_onnx(dst, path, CHARSET, torch.from_numpy(x))
    assert info == {"convs": 7, "copied_classes": 37, "new_classes": 2}
    with torch.no_grad():
        logits = dst.eval()(torch.from_numpy(x))[..., :37]
    np.testing.assert_allclose(torch.softmax(logits, -1).numpy(), ref, atol=1e-4)
    with pytest.raises(ValueError, match="CRNN export"):
        init_from_onnx(CRNN(OcrConfig(height=32, width=64, channels=(8, 16, 16, 24, 32), hidden=0)), path,
                       CHARSET, torch.from_numpy(x))  # fmt: skip


def test_label_tsv_without_region_column_infers_chinese(tmp_path: Path) -> None:
    (tmp_path / "labels.tsv").write_text("path\ttext\tsplit\na.jpg\t皖AD55999\ttrain\nb.jpg\tABC123\ttrain\n")
    rows = read_label_tsv(tmp_path / "labels.tsv")
    assert [(r.text, r.region) for r in rows] == [("皖AD55999", "CN"), ("ABC123", "")]


def test_synthetic_eval_set_has_one_and_two_row_groups() -> None:
    from alpr.train.ocr.eval import synth_eval_set
    from alpr.train.synth import CN_CHARSET, FontsMissingError, find_fonts

    try:
        fonts = find_fonts()
    except FontsMissingError:  # pragma: no cover - CI installs the fonts
        pytest.skip("plate fonts not installed")
    cfg = OcrConfig(height=32, width=128, charset=CHARSET + CN_CHARSET)
    x, texts, groups = synth_eval_set(cfg, 3)
    regions = ["US", "EU", "BR"] + (["CN"] if fonts.cjk else [])
    assert sorted(set(groups)) == sorted(f"{r}-{k}" for r in regions for k in ("1row", "2row"))
    assert x.shape == (len(texts), 3, 32, 128) and len(texts) == 6 * len(regions)
    again = synth_eval_set(cfg, 3)
    assert again[1] == texts and np.array_equal(again[0], x)  # fixed seed: the same set every time
    assert synth_eval_set(OcrConfig(height=32, width=128), 1)[2].count("CN-1row") == 0  # charset can't spell
