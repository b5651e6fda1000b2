"""OCR data: label readers, crop loading, preprocessing and the training batch sampler.

Readers:

* :func:`read_label_tsv` - the shared ``ocr/labels.tsv`` format (header row with ``path``, ``text``,
  ``region``, ``split``, ... columns) or a generic ``path<TAB>text`` TSV (no header, or a header that
  starts ``path<TAB>text``). Paths are relative to the TSV's folder.
* :func:`read_openalpr_dir` - OpenALPR benchmark folders (``<image>.txt`` beside each image, lines
  ``file x y w h text``), read as ground-truth crops.

:class:`OcrSampler` builds training batches that mix real crops (jittered with
:func:`~alpr.train.augment.warp_crop`) and synthetic plates from :func:`~alpr.train.synth.render_plate`
pasted on backgrounds, then augmented photometrically.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from alpr.train.augment import photometric, plate_on_background, warp_crop
from alpr.train.synth import render_plate
from alpr.types import normalize_plate

__all__ = [
    "GtCrop",
    "OcrSample",
    "OcrSampler",
    "crop_box",
    "load_rgb",
    "preprocess",
    "read_label_tsv",
    "read_openalpr_dir",
]


@dataclass(frozen=True, slots=True)
class OcrSample:
    """One labelled crop on disk.

    Attributes:
        path: the image file.
        text: the label, upper-case, letters and digits only.
        region: ``US``, ``EU``, ``BR``, ``INT``, ``CN`` (inferred when a TSV without a region column
            holds a plate that starts with a Chinese character) or ``""`` when unknown.
        split: ``train``, ``valid`` or ``""``.
        source: the data source name (``""`` when unknown).
        synthetic: True for rendered (not photographed) plates.
    """

    path: Path
    text: str
    region: str = ""
    split: str = ""
    source: str = ""
    synthetic: bool = False


@dataclass(frozen=True, slots=True)
class GtCrop:
    """A ground-truth plate box in a full image (OpenALPR benchmark format).

    Attributes:
        image: the image file.
        box: (x, y, w, h) in image pixels, top-left corner and size.
        text: the plate text, letters and digits only, upper-case.
        region: the folder name upper-cased (``US``, ``EU``, ``BR``).
    """

    image: Path
    box: tuple[int, int, int, int]
    text: str
    region: str


def _clean(text: str) -> str:
    return normalize_plate(text)


def read_label_tsv(
    path: str | os.PathLike[str], *, split: str | None = None, regions: Sequence[str] | None = None
) -> list[OcrSample]:
    """Read an OCR label TSV.

    Args:
        path: the TSV file.
        split: keep only rows of this split (``train`` / ``valid``); ignored for generic TSVs.
        regions: keep only these regions; ignored for generic TSVs.

    Raises:
        FileNotFoundError: ``path`` is missing.
        ValueError: a row has fewer than 2 columns or an empty text.
    """
    tsv = Path(path)
    if not tsv.is_file():
        raise FileNotFoundError(f"labels: expected a TSV file, got {str(tsv)!r} (not found)")
    root = tsv.parent
    with open(tsv, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh, delimiter="\t"))
    if not rows:
        return []
    header = [c.strip().lower() for c in rows[0]]
    out: list[OcrSample] = []
    if "path" in header and "text" in header:
        col = {name: i for i, name in enumerate(header)}
        body = rows[1:]
    else:
        col = {"path": 0, "text": 1}
        body = rows
    for lineno, row in enumerate(body, 2 if body is not rows else 1):
        if not row or not any(c.strip() for c in row):
            continue
        if len(row) < 2:
            raise ValueError(f"{tsv}:{lineno}: expected path<TAB>text, got {row!r}")

        def get(name: str, row: list[str] = row) -> str:
            i = col.get(name)
            return row[i].strip() if i is not None and i < len(row) else ""

        text = _clean(get("text"))
        if not text:
            raise ValueError(f"{tsv}:{lineno}: expected a non-empty text, got {get('text')!r}")
        sample = OcrSample(
            path=root / get("path"),
            text=text,
            region=get("region").upper() or ("CN" if not text[0].isascii() else ""),
            split=get("split").lower(),
            source=get("source"),
            synthetic=get("synthetic") in ("1", "true", "True"),
        )
        if split is not None and sample.split and sample.split != split:
            continue
        if regions is not None and sample.region and sample.region not in regions:
            continue
        out.append(sample)
    return out


def read_openalpr_dir(root: str | os.PathLike[str]) -> list[GtCrop]:
    """Read OpenALPR benchmark annotations under ``root`` (recursively): one ``.txt`` per image.

    The image is the file beside the ``.txt`` with the same stem (any of .jpg/.jpeg/.png), which
    tolerates annotation files that name the wrong extension.
    """
    base = Path(root)
    if not base.is_dir():
        raise FileNotFoundError(f"openalpr: expected a folder, got {str(base)!r} (not found)")
    out: list[GtCrop] = []
    for txt in sorted(base.rglob("*.txt")):
        image = next(
            (txt.with_suffix(e) for e in (".jpg", ".jpeg", ".png", ".JPG") if txt.with_suffix(e).is_file()),
            None,
        )
        if image is None:
            continue
        for line in txt.read_text(encoding="utf-8", errors="replace").splitlines():
            parts = line.split()
            if len(parts) < 6:
                continue
            x, y, w, h = (int(float(v)) for v in parts[1:5])
            text = _clean("".join(parts[5:]))
            if text and w > 1 and h > 1:
                out.append(GtCrop(image=image, box=(x, y, w, h), text=text, region=txt.parent.name.upper()))
    return out


def load_rgb(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an image file as uint8 (H, W, 3) RGB.

    Raises:
        ValueError: the file cannot be decoded.
    """
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"image: expected a decodable image file, got {str(path)!r}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def crop_box(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The axis-aligned crop ``(x, y, w, h)`` of ``image``, clipped to it (uint8 RGB)."""
    x, y, w, h = box
    ih, iw = image.shape[:2]
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(iw, x + w), min(ih, y + h)
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"box: expected a box inside the {iw}x{ih} image, got {box}")
    return image[y0:y1, x0:x1]


def preprocess(
    crops: Sequence[np.ndarray], width: int, height: int, mean: float = 0.5, std: float = 0.5
) -> np.ndarray:
    """Resize crops (uint8 RGB) to the model input and normalise: float32 (N, 3, height, width).

    Same as ``alpr.ops.crop_plates(frame, boxes, height=, width=, mean=, std=)`` on the full frame
    (bilinear stretch, no aspect keeping; area filter when shrinking a lot).
    """
    out = np.empty((len(crops), 3, height, width), dtype=np.float32)
    for i, c in enumerate(crops):
        interp = cv2.INTER_AREA if c.shape[0] > 2 * height else cv2.INTER_LINEAR
        r = cv2.resize(c, (width, height), interpolation=interp)
        out[i] = ((r.astype(np.float32) / 255.0 - mean) / std).transpose(2, 0, 1)
    return out


def _shrink(image: np.ndarray, max_height: int) -> np.ndarray:
    if image.shape[0] <= max_height:
        return image
    f = max_height / image.shape[0]
    return cv2.resize(image, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)


class OcrSampler:
    """Random training batches of real and synthetic plates, augmented, at model input size.

    Args:
        crops: real crops, uint8 (h, w, 3) RGB (the whole crop is taken as the plate outline).
        texts: their labels.
        weights: sampling weight per crop (e.g. to oversample a rare region); None = uniform.
        width: model input width.
        height: model input height.
        synth_fraction: share of each batch drawn from the renderer.
        synth_regions: region -> weight for synthetic plates.
        backgrounds: uint8 RGB scenes to put synthetic plates on (None = random colours only).
        charset: characters the labels may use (others are rejected up front).
        mean: normalisation mean.
        std: normalisation std.
        aug_strength: photometric augmentation strength (0..1).
    """

    def __init__(  # noqa: PLR0913 (keyword-only dataset options, documented under Args)
        self,
        crops: Sequence[np.ndarray],
        texts: Sequence[str],
        *,
        weights: Sequence[float] | None = None,
        width: int,
        height: int,
        synth_fraction: float = 0.5,
        synth_regions: dict[str, float] | None = None,
        backgrounds: Sequence[np.ndarray] | None = None,
        charset: str,
        mean: float = 0.5,
        std: float = 0.5,
        aug_strength: float = 1.0,
    ) -> None:
        if len(crops) != len(texts):
            raise ValueError(f"crops/texts: expected equal lengths, got {len(crops)} and {len(texts)}")
        allowed = set(charset)
        for t in texts:
            if not t or set(t) - allowed:
                raise ValueError(f"texts: expected non-empty strings over {charset!r}, got {t!r}")
        self.crops = [_shrink(c, 3 * height) for c in crops]
        self.texts = list(texts)
        w = np.ones(len(crops)) if weights is None else np.asarray(weights, dtype=np.float64)
        self.p = w / w.sum() if len(crops) else w
        self.width, self.height = width, height
        self.synth_fraction = synth_fraction if len(crops) else 1.0
        regions = synth_regions or {"US": 1.0, "EU": 1.0, "BR": 1.0}
        self.synth_names = list(regions)
        sp = np.asarray([regions[k] for k in self.synth_names], dtype=np.float64)
        self.synth_p = sp / sp.sum()
        self.backgrounds = list(backgrounds or [])
        self.mean, self.std = mean, std
        self.aug = photometric(aug_strength)

    def real(self, rng: np.random.Generator, i: int) -> np.ndarray:
        """One augmented real crop (uint8 RGB at input size) - crop ``i``."""
        c = self.crops[i]
        h, w = c.shape[:2]
        quad = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
        # Real crops already carry a margin: jitter mostly inwards/outwards a little.
        return warp_crop(c, quad, (self.width, self.height), rng, margin=(-0.05, 0.06), jitter=0.03)

    def synthetic(self, rng: np.random.Generator) -> tuple[np.ndarray, str]:
        """One augmented synthetic plate (uint8 RGB at input size) and its text."""
        region = self.synth_names[int(rng.choice(len(self.synth_names), p=self.synth_p))]
        plate = render_plate(rng, region)
        img = _shrink(plate.image, 2 * self.height if not plate.two_line else 3 * self.height)
        bg = (
            self.backgrounds[int(rng.integers(len(self.backgrounds)))]
            if self.backgrounds and rng.random() < 0.8
            else None
        )
        canvas, quad = plate_on_background(img, bg, rng)
        out = warp_crop(canvas, quad, (self.width, self.height), rng, margin=(-0.02, 0.12), jitter=0.05)
        return out, plate.text

    def batch(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, list[str]]:
        """``n`` samples: float32 (n, 3, H, W) normalised RGB and their texts."""
        x = np.empty((n, 3, self.height, self.width), dtype=np.float32)
        texts: list[str] = []
        n_synth = int(rng.binomial(n, self.synth_fraction))
        idx = (
            rng.choice(len(self.crops), size=n - n_synth, p=self.p) if n - n_synth else np.zeros(0, np.int64)
        )
        for k in range(n):
            if k < n_synth:
                img, text = self.synthetic(rng)
            else:
                i = int(idx[k - n_synth])
                img, text = self.real(rng, i), self.texts[i]
            img = self.aug(image=img)["image"]
            x[k] = ((img.astype(np.float32) / 255.0 - self.mean) / self.std).transpose(2, 0, 1)
            texts.append(text)
        return x, texts
