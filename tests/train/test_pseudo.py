"""Pseudo-labelling: candidates from crop folders and YOLO detector sets, and the keep/drop filter."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")

from alpr.train import pseudo  # noqa: E402
from alpr.train.ocr.data import read_label_tsv  # noqa: E402


def _image(path: Path, w: int, h: int, value: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((h, w, 3), value, np.uint8))


def _detect_set(root: Path) -> None:
    """Two sources; the first image has a tall and a too-low box, the second source is excluded."""
    root.mkdir(parents=True, exist_ok=True)
    rows = [
        ("good", "images/good/a.jpg", 200, 100, "train", "MIT", ["0 0.5 0.5 0.4 0.3", "0 0.2 0.2 0.1 0.05"]),
        ("bad", "images/bad/b.jpg", 200, 100, "train", "none-declared", ["0 0.5 0.5 0.4 0.3"]),
        ("good", "images/good/c.jpg", 200, 100, "valid", "MIT", ["0 0.5 0.5 0.4 0.3"]),
    ]
    with open(root / "manifest.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["source", "image", "width", "height", "n_plates", "split", "licence", "orig_path"])
        for src, img, iw, ih, split, lic, boxes in rows:
            _image(root / img, iw, ih, 128)
            label = root / img.replace("images/", "labels/").replace(".jpg", ".txt")
            label.parent.mkdir(parents=True, exist_ok=True)
            label.write_text("\n".join(boxes) + "\n")
            w.writerow([src, img, iw, ih, len(boxes), split, lic, img])


def test_detect_candidates_boxes_heights_and_exclusions(tmp_path: Path) -> None:
    _detect_set(tmp_path)
    cands = pseudo.detect_candidates(tmp_path, exclude_sources=["bad"], min_height=12)
    # a.jpg: the 30 px box kept, the 5 px box dropped; b.jpg excluded; c.jpg (valid) kept
    assert [(c.image.name, c.source, c.licence) for c in cands] == [
        ("a.jpg", "good", "MIT"),
        ("c.jpg", "good", "MIT"),
    ]
    assert cands[0].box == pytest.approx((60.0, 35.0, 140.0, 65.0))
    assert len({c.key for c in cands}) == 2
    assert len(pseudo.detect_candidates(tmp_path, min_height=1)) == 4
    assert len(pseudo.detect_candidates(tmp_path, splits=["train"], min_height=1)) == 3


def test_folder_candidates_reads_the_manifest_relative_to_its_parent(tmp_path: Path) -> None:
    # ocr/unlabeled/manifest.tsv names paths relative to ocr/ (unlabeled/eu/x.jpg)
    _image(tmp_path / "unlabeled" / "eu" / "x.jpg", 60, 20, 200)
    (tmp_path / "unlabeled" / "manifest.tsv").write_text(
        "path\tregion\tsource\tlicence\nunlabeled/eu/x.jpg\tEU\tsrc-eu\tAGPL-3.0\n"
    )
    (c,) = pseudo.folder_candidates(tmp_path / "unlabeled")
    assert c.image.is_file() and (c.region, c.source, c.licence, c.box) == ("EU", "src-eu", "AGPL-3.0", None)
    # no manifest: every image, no region
    _image(tmp_path / "plain" / "y.png", 60, 20, 200)
    (d,) = pseudo.folder_candidates(tmp_path / "plain")
    assert d.image.name == "y.png" and d.region == ""


def _reader(table: dict[int, list[tuple[str, float]]]) -> pseudo.Reader:
    """A fake teacher keyed by the crop's pixel value: reads i-th call for that value from ``table``."""
    calls: dict[int, int] = {}

    def read(crops: Sequence[np.ndarray]) -> list[tuple[str, np.ndarray]]:
        out = []
        for c in crops:
            v = int(c[0, 0, 0])
            k = calls.get(v, 0)
            calls[v] = k + 1
            text, conf = table[v][k]
            out.append((text, np.full(len(text), conf, np.float32)))
        return out

    return read


def test_filter_keeps_only_agreeing_confident_plate_shaped_reads(tmp_path: Path) -> None:
    table = {
        10: [("ABC1234", 0.99), ("ABC1234", 0.98)],  # kept (BR old format)
        20: [("ABC1234", 0.99), ("ABC1284", 0.99)],  # the two margins disagree
        30: [("ABC1234", 0.99), ("ABC1234", 0.50)],  # one read unsure
        40: [("HELLOWORLD", 0.99), ("HELLOWORLD", 0.99)],  # no plate format fits
        50: [("ABCD123", 0.99), ("ABCD123", 0.99)],  # fits a US format, but the source says BR
        60: [("AB123CD", 0.99), ("AB123CD", 0.99)],  # no region given: any format (EU here)
    }
    cands = []
    for v in table:
        p = tmp_path / f"{v}.png"
        _image(p, 80, 24, v)
        cands.append(pseudo.Candidate(p, None, "" if v == 60 else "BR", "s", "MIT", str(v)))
    cands.append(pseudo.Candidate(tmp_path / "missing.png", None, "BR", "s", "MIT", "missing"))
    res = list(pseudo.label_candidates(cands, _reader(table), min_char_conf=0.9, batch=4, progress=False))
    kept = {c.key: lab for c, _, lab in res if lab is not None}
    assert len(res) == 6  # the unreadable file is skipped, not fatal
    assert sorted(kept) == ["10", "60"]
    assert kept["10"].text == "ABC1234" and kept["10"].format_id.startswith("br")
    assert kept["60"].format_id.startswith("eu") and kept["10"].min_conf == pytest.approx(0.98)


def test_run_writes_a_trainable_label_tsv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _detect_set(tmp_path / "detect")

    def fake_reader(_teacher: object) -> pseudo.Reader:
        def read(crops: Sequence[np.ndarray]) -> list[tuple[str, np.ndarray]]:
            return [("AB123CD", np.full(7, 0.99, np.float32)) for _ in crops]

        return read

    monkeypatch.setattr(pseudo, "ppocr_reader", fake_reader)
    summary = pseudo.run(
        crops=[],
        detect=[str(tmp_path / "detect")],
        exclude_sources=["bad"],
        out=tmp_path / "out",
        teacher=None,
        regions=["us", "eu", "br"],
        min_char_conf=0.9,
        min_height=12,
        valid_share=0.0,
    )
    assert summary["kept"] == {"good": 2} and summary["candidates"] == {"good": 2}
    rows = read_label_tsv(tmp_path / "out" / "labels.tsv")
    assert [(r.text, r.source, r.split, r.region) for r in rows] == [
        ("AB123CD", "pseudo-good", "train", "EU")
    ] * 2
    for r in rows:  # the 8 % margin crop of an 80 x 30 box
        assert cv2.imread(str(r.path)).shape == (34, 92, 3)


def test_split_is_by_text_and_roughly_the_share() -> None:
    texts = [f"AB{i:05d}" for i in range(2000)]
    share = sum(pseudo.split_of(t, 0.1) == "valid" for t in texts) / len(texts)
    assert 0.07 < share < 0.13
    assert all(pseudo.split_of(t, 0.1) == pseudo.split_of(t, 0.1) for t in texts[:50])
    assert pseudo.split_of("ABC1234", 0.0) == "train"


def test_ocr_cli_region_weight_options() -> None:
    from alpr.train import cli

    assert cli._weights("us=4, EU=2", "--x") == {"US": 4.0, "EU": 2.0}
    assert cli._weights("", "--x") == {}
    for bad in ("US", "US=x", "=2", "US=-1"):
        with pytest.raises(SystemExit, match="--x: expected REGION=WEIGHT"):
            cli._weights(bad, "--x")
    assert cli._synth_regions("US=2,EU=1,BR=0") == {"US": 2.0, "EU": 1.0, "BR": 0.0}
    assert cli._synth_regions("CN=1") == {"CN": 1.0}  # Chinese plates render since 0.3.0
    for bad in ("XX=1", "US=0,EU=0"):
        with pytest.raises(SystemExit, match="--synth-regions"):
            cli._synth_regions(bad)


def test_second_teacher_agreement_keeps_reads_the_first_was_unsure_of(tmp_path: Path) -> None:
    first = {
        10: [
            ("ABC1234", 0.7),
            ("ABC1284", 0.6),
        ],  # margins disagree, unsure: kept only if both teachers agree
        20: [("ABC1234", 0.7), ("ABC1234", 0.7)],  # the second teacher reads something else
        30: [("ABC1234", 0.4), ("ABC1234", 0.4)],  # they agree, but below agree_conf
        40: [("HELLOWORLD", 0.9), ("HELLOWORLD", 0.9)],  # agreement never rescues a non-plate
    }
    second = {
        10: [("ABC1234", 0.8)],
        20: [("ABD1234", 0.9)],
        30: [("ABC1234", 0.9)],
        40: [("HELLOWORLD", 0.9)],
    }
    cands = []
    for v in first:
        p = tmp_path / f"{v}.png"
        _image(p, 80, 24, v)
        cands.append(pseudo.Candidate(p, None, "BR", "s", "MIT", str(v)))
    res = pseudo.label_candidates(
        cands, _reader(first), second=_reader(second), agree_conf=0.5, batch=4, progress=False
    )
    kept = {c.key: lab for c, _, lab in res if lab is not None}
    assert sorted(kept) == ["10"] and kept["10"].text == "ABC1234"
    assert kept["10"].min_conf == pytest.approx(0.7)
