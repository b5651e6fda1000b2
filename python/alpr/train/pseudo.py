r"""Pseudo-labelling: read unlabelled plate crops with a teacher recognizer, keep only the sure reads.

The curated data has text for Brazilian plates and a few others, but thousands of plates without text:
``ocr/unlabeled/eu`` (EU crops) and every box of the detector set. A teacher reads them; a read is kept
only when

* it is read the same way twice (the crop as given and a second crop with a different margin),
* every character's confidence is at least ``min_char_conf`` (both reads),
* it fits one of the plate formats of ``regions`` (``alpr/regions/*.toml``; only those of the crop's
  region when its source names one),

and the kept crops are written as an OCR label TSV (the shared ``labels.tsv`` columns; about 10 % of
the texts in the ``valid`` split), ready for ``alpr train ocr --labels``. The teacher is a PP-OCR
recognizer ONNX; the default is the one in the ``rapidocr`` wheel (Apache-2.0), a general text model
that knows nothing about plates - which is why the agreement, confidence and format filters are there.

::

    alpr train pseudo-label --crops DATA/ocr/unlabeled --detect DATA/detect \
        --exclude-sources qanastek,yoavmai --out runs/pseudo

``--check LABELS.tsv`` measures the filter on crops whose text is known instead (how many are kept and
how many of the kept labels are right), which is how ``min_char_conf`` is chosen.
"""

from __future__ import annotations

import csv
import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from alpr.recognizers import Recognizer

__all__ = [
    "Candidate",
    "PseudoLabel",
    "alpr_reader",
    "detect_candidates",
    "folder_candidates",
    "label_candidates",
]

LABEL_COLUMNS = ("path", "text", "region", "source", "licence", "split", "synthetic", "width", "height")


@dataclass(frozen=True, slots=True)
class Candidate:
    """An unlabelled plate: an image file and the plate's box in it (x0, y0, x1, y1 pixels).

    Attributes:
        image: the image file.
        box: the plate box; ``None`` = the whole image is the plate crop.
        region: ``US``/``EU``/``BR`` when the source says so, else ``""``.
        source: the data source name.
        licence: the source's licence token.
        key: a unique, file-name-safe id for the written crop.
    """

    image: Path
    box: tuple[float, float, float, float] | None
    region: str
    source: str
    licence: str
    key: str


@dataclass(frozen=True, slots=True)
class PseudoLabel:
    """A kept read: the candidate, its text, the matched format id and the lowest character confidence."""

    candidate: Candidate
    text: str
    format_id: str
    min_conf: float


def folder_candidates(root: str | os.PathLike[str]) -> list[Candidate]:
    """Crops listed by a ``manifest.tsv``, as in ``ocr/unlabeled``; else every image under ``root``.

    The manifest's columns are ``path, region, source, licence, ...``, paths relative to it.
    """
    base = Path(root)
    manifest = base / "manifest.tsv"
    out: list[Candidate] = []
    if manifest.is_file():
        with open(manifest, encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh, delimiter="\t"):
                p = base / row["path"]
                if not p.is_file() and (base.parent / row["path"]).is_file():
                    p = base.parent / row["path"]  # ocr/unlabeled's paths are relative to ocr/
                out.append(
                    Candidate(
                        p,
                        None,
                        row.get("region", "").upper(),
                        row.get("source", base.name),
                        row.get("licence", ""),
                        _key(row.get("source", base.name), p.stem),
                    )
                )
        return out
    for p in sorted(base.rglob("*")):
        if p.suffix.lower() in (".jpg", ".jpeg", ".png"):
            out.append(Candidate(p, None, "", base.name, "", _key(base.name, p.stem)))
    return out


def detect_candidates(
    root: str | os.PathLike[str],
    *,
    exclude_sources: Sequence[str] = (),
    min_height: float = 12.0,
    splits: Sequence[str] = ("train", "valid"),
) -> list[Candidate]:
    """Every plate box at least ``min_height`` px tall of a YOLO detector set with a ``manifest.csv``.

    The manifest (``source, image, width, height, split, licence``) is read by
    :func:`~alpr.train.datasets.read_yolo_manifest`. A row without a split counts as ``train``.
    """
    from alpr.train.datasets import read_yolo_manifest

    out: list[Candidate] = []
    for ann in read_yolo_manifest(root):
        source = ann.meta.get("source", "")
        if source in exclude_sources or (ann.split or "train") not in splits:
            continue
        image = Path(ann.image)
        for k, (x0, y0, x1, y1) in enumerate(ann.boxes.tolist()):
            if y1 - y0 < min_height:
                continue
            key = _key(source, f"{image.stem}_{k}")
            out.append(Candidate(image, (x0, y0, x1, y1), "", source, ann.meta.get("licence", ""), key))
    return out


def _key(source: str, stem: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in f"{source}_{stem}")


def _crop(image: np.ndarray, box: tuple[float, float, float, float] | None, pad: float) -> np.ndarray:
    """The plate with a margin of ``pad`` x its size on each side (clipped).

    For a whole-image crop, a negative ``pad`` trims instead.
    """
    ih, iw = image.shape[:2]
    x0, y0, x1, y1 = (0.0, 0.0, float(iw), float(ih)) if box is None else box
    bw, bh = x1 - x0, y1 - y0
    xa, ya = max(0, round(x0 - pad * bw)), max(0, round(y0 - pad * bh))
    xb, yb = min(iw, round(x1 + pad * bw)), min(ih, round(y1 + pad * bh))
    return image[ya:yb, xa:xb]


Reader = Callable[[Sequence[np.ndarray]], list[tuple[str, np.ndarray]]]


def ppocr_reader(model: str | os.PathLike[str] | None = None) -> Reader:
    """A PP-OCR recognizer (default: the ``rapidocr`` wheel's) as a reader of BGR crops.

    The reader maps a crop to ``(text, confs)``, text upper-case letters and digits only.
    """
    from alpr.config import PpOcrConfig
    from alpr.pipeline import PpOcrRecognizer

    if model is None:
        import rapidocr  # the dev/train extra ships it

        found = sorted(Path(rapidocr.__file__).parent.glob("models/*rec*.onnx"))
        if not found:
            raise FileNotFoundError("the rapidocr wheel ships no recognizer ONNX: pass --teacher")
        model = found[-1]
    rec = PpOcrRecognizer.from_config(PpOcrConfig(model=Path(model), format="ppocr"), None)

    return _whole_crop_reader(rec)


def alpr_reader(model: str | os.PathLike[str] | None = None) -> Reader:
    """The project's own CTC OCR (default: the bundled model) as a reader of BGR crops.

    The reader maps a crop to ``(text, confs)``, read freely (no plate formats): the second, independent
    teacher of :func:`label_candidates`.
    """
    from alpr.config import CtcOcrConfig
    from alpr.recognizers import CtcRecognizer

    cfg = CtcOcrConfig() if model is None else CtcOcrConfig(model=Path(model))
    rec = CtcRecognizer.from_config(cfg, None, constrain=False)

    return _whole_crop_reader(rec)


def label_candidates(  # noqa: PLR0913 (keyword-only teacher and filter options)
    candidates: Sequence[Candidate],
    reader: Reader,
    *,
    regions: Sequence[str] = ("us", "eu", "br"),
    min_char_conf: float = 0.9,
    batch: int = 32,
    progress: bool = True,
    second: Reader | None = None,
    agree_conf: float = 0.5,
) -> Iterator[tuple[Candidate, np.ndarray, PseudoLabel | None]]:
    """Read every candidate twice; yield ``(candidate, the 8 % crop, kept label or None)``.

    The two reads use margins 8 % and 3 %, or the crop as given and trimmed 3 %. Unreadable images are
    skipped.

    A read is kept when the teacher reads both crops alike with every character at ``min_char_conf`` or
    more, or - with a ``second`` teacher (e.g. :func:`alpr_reader`) - when the two teachers, which share
    neither training data nor architecture, read the 8 % crop alike with every character at
    ``agree_conf`` or more. Either way the text must fit a plate format.
    """
    from alpr.regions import RegionSet
    from alpr.train.common import progress as bar

    formats = RegionSet.from_names(list(regions))
    # A source that names its region (e.g. ocr/unlabeled/eu) is held to that region's formats.
    by_region = {r.upper(): RegionSet.from_names([r]) for r in regions}
    it = range(0, len(candidates), batch)
    for start in bar(it, desc="pseudo-label") if progress else it:
        chunk = candidates[start : start + batch]
        crops_a, crops_b, keep = [], [], []
        cache: dict[Path, np.ndarray | None] = {}
        for c in chunk:
            if c.image not in cache:
                cache[c.image] = cv2.imread(str(c.image), cv2.IMREAD_COLOR)
            img = cache[c.image]
            if img is None:
                continue
            a = _crop(img, c.box, 0.08 if c.box is not None else 0.0)
            b = _crop(img, c.box, 0.03 if c.box is not None else -0.03)
            if min(a.shape[:2]) < 4 or min(b.shape[:2]) < 4:
                continue
            crops_a.append(a)
            crops_b.append(b)
            keep.append(c)
        if not keep:
            continue
        reads = reader(crops_a + crops_b)
        others = second(crops_a) if second is not None else None
        n = len(keep)
        for i, c in enumerate(keep):
            (ta, ca), (tb, cb) = reads[i], reads[n + i]
            label = None
            fmt = by_region.get(c.region, formats).match(ta) if ta and 4 <= len(ta) <= 8 else None
            if fmt is not None and ta == tb:
                low = float(min(ca.min(), cb.min()))
                if low >= min_char_conf:
                    label = PseudoLabel(c, ta, fmt, low)
            if label is None and fmt is not None and others is not None:
                to, co = others[i]
                low = float(min(ca.min(), co.min())) if len(co) else 0.0
                if to == ta and low >= agree_conf:
                    label = PseudoLabel(c, ta, fmt, low)
            yield c, crops_a[i], label


def _second(spec: str | None) -> Reader | None:
    """``None`` -> no second teacher; ``"bundled"`` -> the bundled OCR; else an OCR ONNX path."""
    if spec is None:
        return None
    return alpr_reader(None if spec == "bundled" else spec)


def split_of(text: str, valid_share: float) -> str:
    """``valid`` for about ``valid_share`` of texts (by sha1 of the text), else ``train``."""
    h = int.from_bytes(hashlib.sha1(text.encode()).digest()[:4], "big") / 2**32
    return "valid" if h < valid_share else "train"


def _region_of(label: PseudoLabel) -> str:
    return label.candidate.region or label.format_id.split("-")[0].upper()


def run(  # noqa: PLR0913 (keyword-only options of `alpr train pseudo-label`)
    *,
    crops: Sequence[str],
    detect: Sequence[str],
    exclude_sources: Sequence[str],
    out: str | os.PathLike[str],
    teacher: str | None,
    regions: Sequence[str],
    min_char_conf: float,
    min_height: float,
    valid_share: float = 0.1,
    second_teacher: str | None = None,
    agree_conf: float = 0.5,
) -> dict[str, object]:
    """Label every candidate, write ``out/crops/*.jpg`` and ``out/labels.tsv``; returns counts.

    About ``valid_share`` of the texts go to the ``valid`` split (by sha1 of the text, so every crop of
    one plate sits in one split, as in the shared ``ocr/labels.tsv``).
    """
    cands: list[Candidate] = []
    for d in crops:
        cands += [c for c in folder_candidates(d) if c.source not in exclude_sources]
    for d in detect:
        cands += detect_candidates(d, exclude_sources=exclude_sources, min_height=min_height)
    reader = ppocr_reader(teacher)
    second = _second(second_teacher)
    dest = Path(out)
    (dest / "crops").mkdir(parents=True, exist_ok=True)
    kept: dict[str, int] = {}
    seen: dict[str, int] = {}
    with open(dest / "labels.tsv", "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, delimiter="\t", lineterminator="\n")
        w.writerow(LABEL_COLUMNS)
        for cand, crop, label in label_candidates(
            cands, reader, regions=regions, min_char_conf=min_char_conf, second=second, agree_conf=agree_conf
        ):
            seen[cand.source] = seen.get(cand.source, 0) + 1
            if label is None:
                continue
            kept[cand.source] = kept.get(cand.source, 0) + 1
            name = f"crops/{cand.key}.jpg"
            cv2.imwrite(str(dest / name), crop, [cv2.IMWRITE_JPEG_QUALITY, 95])
            w.writerow(
                [
                    name,
                    label.text,
                    _region_of(label),
                    "pseudo-" + cand.source,
                    cand.licence,
                    split_of(label.text, valid_share),
                    "0",
                    crop.shape[1],
                    crop.shape[0],
                ]
            )
    return {"candidates": seen, "kept": kept, "min_char_conf": min_char_conf}


def check(
    labels: str | os.PathLike[str],
    *,
    teacher: str | None,
    regions: Sequence[str],
    thresholds: Sequence[float] = (0.5, 0.7, 0.8, 0.9, 0.95),
    exclude_sources: Sequence[str] = (),
    second_teacher: str | None = None,
) -> list[dict[str, float]]:
    """The filter on labelled crops: per threshold, the share kept and the share of those right.

    The crops are read as whole-image candidates (as ``ocr/unlabeled`` crops are).
    """
    from alpr.train.ocr.data import read_label_tsv

    rows = [r for r in read_label_tsv(labels) if r.source not in exclude_sources and not r.synthetic]
    cands = [Candidate(r.path, None, r.region, r.source, "", str(i)) for i, r in enumerate(rows)]
    truth = {str(i): r.text for i, r in enumerate(rows)}
    reader = ppocr_reader(teacher)
    second = _second(second_teacher)
    reads = list(
        label_candidates(cands, reader, regions=regions, min_char_conf=0.0, second=second, agree_conf=0.0)
    )
    table = []
    for t in thresholds:
        kept = [lab for _, _, lab in reads if lab is not None and lab.min_conf >= t]
        right = sum(lab.text == truth[lab.candidate.key] for lab in kept)
        table.append(
            {
                "min_char_conf": t,
                "crops": len(reads),
                "kept": len(kept) / max(1, len(reads)),
                "precision": right / max(1, len(kept)),
            }
        )
    return table


def _whole_crop_reader(rec: Recognizer) -> Reader:
    """A reader of whole BGR crops (each crop is its own plate box) -> (text, confs), no formats."""

    def read(crops: Sequence[np.ndarray]) -> list[tuple[str, np.ndarray]]:
        boxes = [np.array([[0, 0, c.shape[1], c.shape[0]]], np.float32) for c in crops]
        res = rec.recognize(list(crops), boxes, [None] * len(crops), None)
        return [(r[0].text, r[0].confidences) for r in res]

    return read
