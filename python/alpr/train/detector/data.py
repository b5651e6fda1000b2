"""Detector training data: image cache, letterbox, augmentation, pasted plates, collation.

Augmentation is mosaic, flips and photometric changes; synthetic plates are pasted into scenes; batches are
collated into :class:`~alpr.train.detector.Targets`.

Images are cached once, resized so their longest side equals the network input size (the scale the
model sees at inference after letterboxing), as uint8 RGB.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import torch

from alpr.train.datasets import box_corners, read_yolo
from alpr.train.detector.loss import Targets

__all__ = ["DetectionDataset", "Item", "Sample", "collate", "letterbox_image", "load_split"]

U8 = npt.NDArray[np.uint8]
F32 = npt.NDArray[np.float32]
PAD = 114
REAL_CORNER_WEIGHT = 0.05  # real data has no corners: box corners, weak weight
FLIP_ORDER = [1, 0, 3, 2]  # TL, TR, BR, BL mirrored horizontally


@dataclass(frozen=True)
class Item:
    """One image of a split: its path and plates (float32 (M, 4) xyxy in original image px)."""

    image: str
    boxes: F32
    width: int
    height: int


@dataclass
class Sample:
    """One network input: uint8 (S, S, 3) RGB, boxes (M, 4) xyxy px, corners (M, 4, 2), weights (M,)."""

    image: U8
    boxes: F32
    corners: F32
    corner_weight: F32


def load_split(
    data: str | Path,
    split: str,
    *,
    negatives: str | Path | None = None,
    limit: int = 0,
    exclude_sources: tuple[str, ...] = (),
) -> list[Item]:
    """The items of one split of a YOLO set with ``manifest.csv``, plus background images for training.

    Args:
        data: the dataset folder (``manifest.csv``, ``images/``, ``labels/``).
        split: ``train`` or ``valid``.
        negatives: a folder of plate-free ``*.jpg`` images to add (no boxes), or None.
        limit: keep at most this many labelled items (0 = all).
        exclude_sources: manifest ``source`` values to leave out (e.g. sources without a licence).
    """
    root = Path(data)
    items: list[Item] = []
    with open(root / "manifest.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["split"] != split or row.get("source", "") in exclude_sources:
                continue
            rel = Path(row["image"])
            label = (root / "labels" / Path(*rel.parts[1:])).with_suffix(".txt")
            w, h = int(row["width"]), int(row["height"])
            ann = read_yolo(label, w, h)
            items.append(Item(str(root / rel), ann.boxes, w, h))
    if limit:
        items = items[:limit]
    if negatives is not None and Path(negatives).is_dir():
        negs = sorted(Path(negatives).glob("*.jpg"))
        if limit:
            negs = negs[: max(1, limit // 4)]
        items.extend(Item(str(p), np.zeros((0, 4), np.float32), 0, 0) for p in negs)
    return items


def letterbox_image(image: U8, size: int) -> tuple[U8, float, tuple[int, int]]:
    """Letterbox (Ultralytics convention: centred, pad 114, bilinear) to ``size x size``.

    Returns:
        The uint8 (size, size, 3) image, the scale, and the (left, top) padding in px.
    """
    h, w = image.shape[:2]
    r = min(size / h, size / w)
    nw, nh = round(w * r), round(h * r)
    if (nw, nh) != (w, h):
        image = np.asarray(cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR), np.uint8)
    dw, dh = (size - nw) / 2, (size - nh) / 2
    top, left = round(dh - 0.1), round(dw - 0.1)
    out: U8 = np.asarray(
        cv2.copyMakeBorder(
            image, top, size - nh - top, left, size - nw - left, cv2.BORDER_CONSTANT, value=(PAD, PAD, PAD)
        ),
        np.uint8,
    )
    return out, r, (left, top)


def _photometric() -> Any:
    import albumentations as A

    return A.Compose(
        [
            A.RandomBrightnessContrast(brightness_limit=0.3, contrast_limit=0.3, p=0.6),
            A.HueSaturationValue(hue_shift_limit=10, sat_shift_limit=40, val_shift_limit=25, p=0.5),
            A.OneOf([A.MotionBlur(blur_limit=(3, 7)), A.GaussianBlur(blur_limit=(3, 5))], p=0.15),
            A.GaussNoise(std_range=(0.01, 0.05), p=0.15),
            A.ToGray(p=0.15),
            A.ImageCompression(quality_range=(35, 95), p=0.3),
        ]
    )


class DetectionDataset:
    """Cached images with boxes.

    :meth:`sample` draws an augmented training sample, :meth:`eval_sample` the letterboxed evaluation input.

    Args:
        items: from :func:`load_split`.
        imgsz: network input size; images are cached at longest side ``imgsz``.
        augment: training mode (mosaic, scale, flip, photometric, synthetic plates).
        crop: training canvas size (default ``imgsz``); smaller crops train faster at the same scale.
        synth_fraction: share of samples that get synthetic plates pasted in.
        mosaic: probability of a 4-image mosaic.
    """

    def __init__(
        self,
        items: list[Item],
        imgsz: int,
        *,
        augment: bool,
        crop: int | None = None,
        synth_fraction: float = 0.0,
        mosaic: float = 0.5,
    ) -> None:
        self.items = items
        self.imgsz = imgsz
        self.augment = augment
        self.crop = crop or imgsz
        self.synth_fraction = synth_fraction
        self.mosaic = mosaic
        self.images: list[U8] = []
        self.boxes: list[F32] = []
        for it in items:
            img = cv2.imread(it.image, cv2.IMREAD_COLOR)
            if img is None:
                raise ValueError(f"{it.image}: expected a readable image, got undecodable data")
            img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
            h, w = img.shape[:2]
            r = imgsz / max(h, w)
            nw, nh = round(w * r), round(h * r)
            img = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA if r < 1 else cv2.INTER_LINEAR)
            sx, sy = nw / w, nh / h
            b = it.boxes.copy()
            if it.width and it.height:  # boxes are in manifest px; the file may differ
                b *= np.asarray([w / it.width, h / it.height] * 2, np.float32)
            b *= np.asarray([sx, sy, sx, sy], np.float32)
            self.images.append(np.asarray(img, np.uint8))
            self.boxes.append(b.astype(np.float32))
        self.positive = [i for i, b in enumerate(self.boxes) if len(b)]
        self.background = [i for i, b in enumerate(self.boxes) if not len(b)]
        self._photo = _photometric() if augment else None

    def __len__(self) -> int:
        return len(self.items)

    def eval_sample(self, index: int) -> Sample:
        """The letterboxed ``imgsz`` input of item ``index`` and its boxes in input px."""
        img = self.images[index]
        out, r, (left, top) = letterbox_image(img, self.imgsz)
        b = self.boxes[index] * r + np.asarray([left, top, left, top], np.float32)
        return Sample(out, b, box_corners(b), np.zeros(len(b), np.float32))

    # -- training ----------------------------------------------------------------------------------

    def _place(
        self,
        canvas: U8,
        region: tuple[int, int, int, int],
        index: int,
        scale: float,
        rng: np.random.Generator,
    ) -> F32:
        """Fill ``region`` of ``canvas`` with a crop of image ``index`` scaled by ``scale``; return boxes."""
        x0, y0, x1, y1 = region
        rw, rh = x1 - x0, y1 - y0
        img = self.images[index]
        h, w = img.shape[:2]
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        boxes = self.boxes[index] * scale
        # Source offset (in the scaled image) of the region's top-left corner.
        if len(boxes) and rng.random() < 0.7:
            b = boxes[rng.integers(len(boxes))]
            cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
            ox = cx - rng.uniform(0.15, 0.85) * rw
            oy = cy - rng.uniform(0.15, 0.85) * rh
        else:
            ox = rng.uniform(min(0, nw - rw), max(0, nw - rw))
            oy = rng.uniform(min(0, nh - rh), max(0, nh - rh))
        ox, oy = round(ox), round(oy)
        # Translate (and, for shrinking, pre-resize with area averaging) only the visible part.
        if scale < 1.0:
            src = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA)
            m = np.asarray([[1, 0, -ox], [0, 1, -oy]], np.float32)
        else:
            src = img
            m = np.asarray([[scale, 0, -ox], [0, scale, -oy]], np.float32)
        patch = cv2.warpAffine(
            src,
            m,
            (rw, rh),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=(PAD, PAD, PAD),
        )
        if scale < 1.0:  # the resize rounded the size: keep boxes consistent with it
            boxes = self.boxes[index] * np.asarray([nw / w, nh / h, nw / w, nh / h], np.float32)
        canvas[y0:y1, x0:x1] = patch
        if not len(boxes):
            return np.zeros((0, 4), np.float32)
        b = boxes - np.asarray([ox, oy, ox, oy], np.float32)
        area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
        c = b.copy()
        c[:, [0, 2]] = c[:, [0, 2]].clip(0, rw)
        c[:, [1, 3]] = c[:, [1, 3]].clip(0, rh)
        carea = (c[:, 2] - c[:, 0]) * (c[:, 3] - c[:, 1])
        keep = (carea > 0.45 * np.maximum(area, 1e-6)) & (c[:, 2] - c[:, 0] >= 2) & (c[:, 3] - c[:, 1] >= 2)
        # Plates cut by more than 55 % are dropped from the targets (ambiguous either way).
        kept: F32 = (c[keep] + np.asarray([x0, y0, x0, y0], np.float32)).astype(np.float32)
        return kept

    def sample(self, index: int, rng: np.random.Generator) -> Sample:
        """A training sample built around item ``index``."""
        s = self.crop
        canvas = np.full((s, s, 3), PAD, np.uint8)
        boxes: list[F32] = []
        if rng.random() < self.mosaic:
            cx = int(rng.uniform(0.25, 0.75) * s)
            cy = int(rng.uniform(0.25, 0.75) * s)
            regions = [(0, 0, cx, cy), (cx, 0, s, cy), (0, cy, cx, s), (cx, cy, s, s)]
            picks = [index, *rng.integers(len(self.images), size=3).tolist()]
            for region, pick in zip(regions, picks, strict=True):
                if region[2] - region[0] < 8 or region[3] - region[1] < 8:
                    continue
                boxes.append(self._place(canvas, region, int(pick), self._scale(rng), rng))
        else:
            boxes.append(self._place(canvas, (0, 0, s, s), index, self._scale(rng), rng))
        b = np.concatenate(boxes) if boxes else np.zeros((0, 4), np.float32)
        corners = box_corners(b)
        cw = np.full(len(b), REAL_CORNER_WEIGHT, np.float32)
        if self.synth_fraction and rng.random() < self.synth_fraction:
            from alpr.train.scenes import paste_plates

            pasted = paste_plates(canvas, rng, count=int(rng.integers(1, 4)), avoid=b, max_width=0.6 * s)
            if pasted:
                b = np.concatenate([b, np.stack([p[0] for p in pasted])])
                corners = np.concatenate([corners, np.stack([p[1] for p in pasted])])
                cw = np.concatenate([cw, np.ones(len(pasted), np.float32)])
        if rng.random() < 0.5:
            canvas = np.ascontiguousarray(canvas[:, ::-1])
            b = np.stack([s - b[:, 2], b[:, 1], s - b[:, 0], b[:, 3]], 1).astype(np.float32).reshape(-1, 4)
            corners = corners[:, FLIP_ORDER].copy()
            corners[..., 0] = s - corners[..., 0]
        if self._photo is not None:
            canvas = self._photo(image=canvas)["image"]
        return Sample(canvas, b, corners.astype(np.float32), cw)

    @staticmethod
    def _scale(rng: np.random.Generator) -> float:
        return float(math.exp(rng.uniform(math.log(0.5), math.log(1.6))))


def collate(samples: list[Sample]) -> tuple[torch.Tensor, Targets]:
    """Stack samples into float32 (N, 3, S, S) 0..1 RGB and padded :class:`Targets`."""
    images = torch.from_numpy(np.stack([s.image for s in samples])).permute(0, 3, 1, 2).float().div_(255.0)
    m = max(1, max(len(s.boxes) for s in samples))
    n = len(samples)
    k = samples[0].corners.shape[1] if samples[0].corners.ndim == 3 else 4
    boxes = torch.zeros((n, m, 4))
    corners = torch.zeros((n, m, k, 2))
    weight = torch.zeros((n, m))
    mask = torch.zeros((n, m), dtype=torch.bool)
    for i, s in enumerate(samples):
        j = len(s.boxes)
        if j:
            boxes[i, :j] = torch.from_numpy(s.boxes)
            corners[i, :j] = torch.from_numpy(s.corners.reshape(j, k, 2))
            weight[i, :j] = torch.from_numpy(s.corner_weight)
            mask[i, :j] = True
    return images, Targets(boxes, corners, weight, mask)
