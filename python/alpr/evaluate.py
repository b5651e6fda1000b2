"""End-to-end evaluation on OpenALPR benchmark-format data, with OpenALPR's criteria.

Layout: ``DATADIR/<region>/<image>`` with a ``.txt`` beside each image holding one line per plate:
``file x y w h plate_text`` (tab- or space-separated; ``x y`` the top-left corner, ``w h`` the size,
in image pixels). A plate is *found* when some read's box has IoU > 0.4 with it; it is *read* when the
most confident of the overlapping reads equals the ground truth (letters and digits only, upper case).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from alpr.errors import SourceError
from alpr.types import Box, PlateRead, box_iou, normalize_plate

__all__ = [
    "GroundTruth",
    "RegionScore",
    "Sample",
    "evaluate",
    "evaluate_ocr",
    "format_table",
    "normalize",
    "read_openalpr",
]

_IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".JPG", ".JPEG", ".PNG")


def normalize(text: str) -> str:
    """Letters and digits only, upper case (:func:`alpr.types.normalize_plate`)."""
    return normalize_plate(text)


@dataclass(frozen=True, slots=True)
class GroundTruth:
    """One annotated plate: box ``(x1, y1, x2, y2)`` in image px and its normalised text."""

    box: Box
    text: str


@dataclass(frozen=True, slots=True)
class Sample:
    """One benchmark image and its plates; ``region`` is the sub-folder (``us``, ``eu``, ``br``)."""

    image: Path
    region: str
    plates: tuple[GroundTruth, ...]


def _find_image(folder: Path, name: str, txt: Path) -> Path | None:
    cand = folder / name
    if cand.is_file():
        return cand
    for stem in (Path(name).stem, txt.stem):
        for ext in _IMAGE_EXTS:
            if (folder / (stem + ext)).is_file():
                return folder / (stem + ext)
    return None


def read_openalpr(root: str | Path) -> list[Sample]:
    """Read an OpenALPR-format benchmark folder (``root/<region>/*.txt`` and their images).

    A label naming a missing file falls back to an image with the label's stem (the benchmark has one
    ``.png`` label for a ``.jpg``). Malformed lines are skipped.

    Raises:
        SourceError: ``root`` does not exist or holds no labels.
    """
    base = Path(root)
    if not base.is_dir():
        raise SourceError(f"not a folder: {base}")
    samples: dict[Path, tuple[str, list[GroundTruth]]] = {}
    txts = sorted(base.rglob("*.txt"))
    for txt in txts:
        region = txt.parent.name if txt.parent != base else ""
        for line in txt.read_text(encoding="utf-8", errors="replace").splitlines():
            parts = line.strip().split("\t") if "\t" in line else line.split()
            if len(parts) < 6:
                continue
            try:
                x, y, w, h = (float(v) for v in parts[1:5])
            except ValueError:
                continue
            img = _find_image(txt.parent, parts[0].strip(), txt)
            if img is None:
                continue
            entry = samples.setdefault(img, (region, []))
            entry[1].append(GroundTruth((x, y, x + w, y + h), normalize(" ".join(parts[5:]))))
    if not samples:
        raise SourceError(f"no OpenALPR labels (<region>/<image>.txt) under {base}")
    return [Sample(img, reg, tuple(gts)) for img, (reg, gts) in sorted(samples.items())]


@dataclass
class RegionScore:
    """Counts for one region."""

    images: int = 0
    """Images scored; an unreadable one counts, with none of its plates found."""
    plates: int = 0
    """Ground-truth plates in those images."""
    found: int = 0
    """Ground-truth plates a read overlaps (IoU > 0.4); every plate in :func:`evaluate_ocr`."""
    read: int = 0
    """Plates whose most confident overlapping read is the ground-truth text (end-to-end top-1)."""
    extra: int = 0
    """Reads that overlap no ground-truth plate (IoU <= 0.4): phantom plates, or plates the ground truth
    does not list."""
    ms: list[float] = field(default_factory=list)
    """Time to read each readable image, in milliseconds."""
    misreads: list[tuple[str, str, str]] = field(default_factory=list)
    """``(image name, expected, read)`` of each plate not read exactly (read ``""``: no overlapping read)."""

    @classmethod
    def total(cls, parts: Iterable[RegionScore]) -> RegionScore:
        """The sum of ``parts`` (every count, the timings and the misreads)."""
        out = cls()
        for sc in parts:
            for f in fields(cls):
                setattr(out, f.name, getattr(out, f.name) + getattr(sc, f.name))
        return out

    @property
    def detection_rate(self) -> float:
        """Share of ground-truth plates found (found / plates)."""
        return self.found / self.plates if self.plates else 0.0

    @property
    def extra_per_image(self) -> float:
        """Reads that overlap no ground-truth plate (IoU <= 0.4), per image.

        These are phantom plates, or plates the ground truth does not list.
        """
        return self.extra / self.images if self.images else 0.0

    @property
    def read_rate(self) -> float:
        """Share of plates read exactly (read / plates, end-to-end top-1)."""
        return self.read / self.plates if self.plates else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "images": self.images,
            "plates": self.plates,
            "found": self.found,
            "read": self.read,
            "detection_rate": round(self.detection_rate, 4),
            "read_rate": round(self.read_rate, 4),
            "extra": self.extra,
            "extra_per_image": round(self.extra_per_image, 4),
            "median_ms": round(statistics.median(self.ms), 1) if self.ms else None,
        }


def score_image(
    reads: Sequence[PlateRead], plates: Iterable[GroundTruth], iou: float = 0.4
) -> list[tuple[bool, str]]:
    """For each ground-truth plate: (found, most confident overlapping read text or "")."""
    out = []
    for gt in plates:
        hits = [r for r in reads if box_iou(r.box, gt.box) > iou]
        if not hits:
            out.append((False, ""))
            continue
        best = max(hits, key=lambda r: r.confidence)
        out.append((True, normalize(best.text)))
    return out


def _score_samples(
    samples: Sequence[Sample],
    score: Callable[[RegionScore, Sample, Any], None],
    *,
    desc: str,
    progress: bool,
) -> dict[str, RegionScore]:
    """Shared loop of the evaluations.

    Counts images and plates per region, reads each image (an unreadable one scores no plate), lets ``score``
    fill in the rest, and adds the ``"all"`` total.
    """
    from alpr.sources import read_image

    scores: dict[str, RegionScore] = {}
    it: Iterable[Sample] = samples
    if progress:
        from tqdm import tqdm

        it = tqdm(samples, desc=desc, unit="img")
    for s in it:
        sc = scores.setdefault(s.region, RegionScore())
        sc.images += 1
        sc.plates += len(s.plates)
        try:
            img = read_image(s.image)
        except SourceError:
            continue
        score(sc, s, img)
    scores["all"] = RegionScore.total(scores.values())
    return scores


def evaluate(
    read: Callable[[Any], list[PlateRead]],
    samples: Sequence[Sample],
    *,
    progress: bool = False,
) -> dict[str, RegionScore]:
    """Run ``read`` (e.g. a :class:`~alpr.Pipeline`) on every sample; returns scores per region + ``"all"``.

    Unreadable images count as images whose plates were not found.
    """

    def score(sc: RegionScore, s: Sample, img: Any) -> None:
        t0 = time.perf_counter()
        reads = read(img)
        sc.ms.append((time.perf_counter() - t0) * 1000)
        for gt, (found, text) in zip(s.plates, score_image(reads, s.plates), strict=True):
            sc.found += found
            if found and text == gt.text:
                sc.read += 1
            else:
                sc.misreads.append((s.image.name, gt.text, text))
        sc.extra += sum(1 for r in reads if all(box_iou(r.box, gt.box) <= 0.4 for gt in s.plates))

    return _score_samples(samples, score, desc="eval", progress=progress)


def evaluate_ocr(
    pipeline: Any, samples: Sequence[Sample], *, progress: bool = False
) -> dict[str, RegionScore]:
    """OCR only: read every ground-truth box with ``pipeline.read`` (no detector); ``found`` = plates."""
    import numpy as np

    from alpr import ops

    def score(sc: RegionScore, s: Sample, img: Any) -> None:
        h, w = img.shape[:2]
        boxes = np.asarray([gt.box for gt in s.plates], np.float32).reshape(-1, 4)
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)
        n = len(boxes)
        det = ops.Detections(
            boxes=boxes,
            scores=np.ones(n, np.float32),
            class_ids=np.zeros(n, np.int64),
            keypoints=np.zeros((n, 0, 2), np.float32),
        )
        t0 = time.perf_counter()
        (reads,) = pipeline.read([img], [det])
        sc.ms.append((time.perf_counter() - t0) * 1000)
        sc.found += n
        by_box = {tuple(round(v, 1) for v in r.box): r.text for r in reads}
        for gt, b in zip(s.plates, boxes, strict=True):
            got = by_box.get(tuple(round(float(v), 1) for v in b), "")
            if normalize(got) == gt.text:
                sc.read += 1
            else:
                sc.misreads.append((s.image.name, gt.text, got))

    return _score_samples(samples, score, desc="eval-ocr", progress=progress)


def format_table(scores: dict[str, RegionScore]) -> str:
    """Format ``scores`` as a plain-text table.

    Columns: region, images, plates, detection rate, top-1 read rate, extra reads per image, median ms.
    """
    rows = [f"{'region':<8}{'images':>8}{'plates':>8}{'det':>8}{'top-1':>8}{'extra':>8}{'ms/img':>9}"]
    for name, sc in scores.items():
        d = sc.to_dict()
        ms = f"{d['median_ms']:.0f}" if d["median_ms"] is not None else "-"
        rows.append(
            f"{name:<8}{sc.images:>8}{sc.plates:>8}{sc.detection_rate:>8.3f}{sc.read_rate:>8.3f}"
            f"{sc.extra_per_image:>8.3f}{ms:>9}"
        )
    return "\n".join(rows)
