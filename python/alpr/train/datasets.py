"""Readers for plate-detection annotation formats: YOLO txt, Pascal VOC xml, COCO json, CCPD file names.

Torch-free at import. Every reader returns :class:`Annotation` records: boxes float32 (M, 4) xyxy in image
pixels, optional corners float32 (M, 4, 2) (TL, TR, BR, BL, image px) and optional plate texts.
"""

from __future__ import annotations

import csv
import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = [
    "CCPD_ADS",
    "CCPD_ALPHABETS",
    "CCPD_PROVINCES",
    "Annotation",
    "box_corners",
    "parse_ccpd_name",
    "read_coco",
    "read_voc",
    "read_yolo",
    "read_yolo_dir",
    "read_yolo_manifest",
]

F32 = npt.NDArray[np.float32]

# CCPD (Xu et al., ECCV 2018) index tables for the 7 characters of a plate name.
CCPD_PROVINCES: tuple[str, ...] = (*"皖沪津渝冀晋蒙辽吉黑苏浙京闽赣鲁豫鄂湘粤桂琼川贵云藏陕甘青宁新警学", "O")
CCPD_ALPHABETS: tuple[str, ...] = (*"ABCDEFGHJKLMNPQRSTUVWXYZ", "O")
CCPD_ADS: tuple[str, ...] = (*"ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", "O")


@dataclass(frozen=True)
class Annotation:
    """Plates annotated in one image.

    Attributes:
        image: path of the image file.
        boxes: float32 (M, 4) xyxy in image px.
        width: image width in px (0 when unknown).
        height: image height in px (0 when unknown).
        corners: float32 (M, 4, 2) corners TL, TR, BR, BL in image px, or None.
        texts: one plate text per box, or None.
        split: the split name when the source gives one, else "".
        meta: free-form source fields (e.g. a manifest row).
    """

    image: str
    boxes: F32
    width: int = 0
    height: int = 0
    corners: F32 | None = None
    texts: tuple[str, ...] | None = None
    split: str = ""
    meta: dict[str, str] = field(default_factory=dict)


def box_corners(boxes: F32) -> F32:
    """The corners TL, TR, BR, BL of axis-aligned boxes: (M, 4) xyxy -> float32 (M, 4, 2)."""
    b = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    x0, y0, x1, y1 = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    return np.stack(
        [np.stack([x0, y0], -1), np.stack([x1, y0], -1), np.stack([x1, y1], -1), np.stack([x0, y1], -1)], 1
    )


def read_yolo(label_path: str | os.PathLike[str], width: int, height: int, *, image: str = "") -> Annotation:
    """Read one YOLO label file (``cls cx cy w h`` normalised per line; extra columns ignored).

    Args:
        label_path: the ``.txt`` file; a missing file means no plates (a background image).
        width: image width in px.
        height: image height in px.
        image: the image path to record.

    Raises:
        ValueError: a line does not hold at least 5 numbers, or the size is not positive.
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"image size: expected positive width/height, got {width}x{height}")
    rows: list[list[float]] = []
    path = Path(label_path)
    if path.is_file():
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            parts = line.split()
            if not parts:
                continue
            try:
                values = [float(v) for v in parts[:5]]
            except ValueError as exc:
                raise ValueError(f"{path}:{n}: expected 'cls cx cy w h' numbers, got {line!r}") from exc
            if len(values) < 5:
                raise ValueError(f"{path}:{n}: expected 5 columns 'cls cx cy w h', got {len(parts)}")
            rows.append(values)
    arr = np.asarray(rows, dtype=np.float32).reshape(-1, 5)
    cx, cy, w, h = arr[:, 1] * width, arr[:, 2] * height, arr[:, 3] * width, arr[:, 4] * height
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1).astype(np.float32).reshape(-1, 4)
    return Annotation(image=image, boxes=boxes, width=width, height=height)


def read_yolo_manifest(root: str | os.PathLike[str], split: str | None = None) -> list[Annotation]:
    """Read a YOLO set described by ``root/manifest.csv`` (columns ``image, width, height, split, ...``).

    Labels live at ``root/labels/<same relative path>.txt`` when images are under ``root/images/``.

    Args:
        root: the dataset folder.
        split: keep only rows of this split (None = all).
    """
    root = Path(root)
    out: list[Annotation] = []
    with open(root / "manifest.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if split is not None and row.get("split", "") != split:
                continue
            rel = Path(row["image"])
            parts = list(rel.parts)
            if parts and parts[0] == "images":
                parts[0] = "labels"
            label = (root / Path(*parts)).with_suffix(".txt")
            ann = read_yolo(label, int(row["width"]), int(row["height"]), image=str(root / rel))
            out.append(
                Annotation(
                    image=ann.image,
                    boxes=ann.boxes,
                    width=ann.width,
                    height=ann.height,
                    split=row.get("split", ""),
                    meta=dict(row),
                )
            )
    return out


def read_yolo_dir(images: str | os.PathLike[str], labels: str | os.PathLike[str]) -> list[Annotation]:
    """Read every image under ``images`` with its label of the same relative stem under ``labels``."""
    import cv2

    images, labels = Path(images), Path(labels)
    out: list[Annotation] = []
    for img in sorted(p for p in images.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".bmp"}):
        frame = cv2.imread(str(img), cv2.IMREAD_UNCHANGED)
        if frame is None:
            raise ValueError(f"{img}: expected a readable image, got undecodable data")
        h, w = frame.shape[:2]
        out.append(read_yolo((labels / img.relative_to(images)).with_suffix(".txt"), w, h, image=str(img)))
    return out


def read_voc(xml_path: str | os.PathLike[str], *, names: Sequence[str] | None = None) -> Annotation:
    """Read one Pascal VOC xml file.

    Args:
        xml_path: the annotation.
        names: keep only objects with these class names (None = all).

    Raises:
        ValueError: malformed xml or an object without a complete ``bndbox``.
    """
    path = Path(xml_path)
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise ValueError(f"{path}: expected Pascal VOC xml, got a parse error ({exc})") from exc
    size = root.find("size")
    width = int(float(size.findtext("width", "0"))) if size is not None else 0
    height = int(float(size.findtext("height", "0"))) if size is not None else 0
    boxes: list[list[float]] = []
    for obj in root.iter("object"):
        name = obj.findtext("name", "")
        if names is not None and name not in names:
            continue
        bb = obj.find("bndbox")
        if bb is None:
            raise ValueError(f"{path}: expected a bndbox in object {name!r}, got none")
        try:
            boxes.append([float(bb.findtext(k, "")) for k in ("xmin", "ymin", "xmax", "ymax")])
        except ValueError as exc:
            raise ValueError(f"{path}: expected numeric xmin/ymin/xmax/ymax in object {name!r}") from exc
    image = root.findtext("filename", "")
    if image:
        image = str(path.parent / image)
    arr = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    return Annotation(image=image, boxes=arr, width=width, height=height)


def read_coco(json_path: str | os.PathLike[str], *, category: str | None = None) -> list[Annotation]:
    """Read a COCO detection json (``bbox`` = x, y, w, h); keypoints (4 x (x, y, v)) become corners.

    Args:
        json_path: the annotation file.
        category: keep only this category name (None = all).
    """
    path = Path(json_path)
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or "images" not in data or "annotations" not in data:
        raise ValueError(
            f"{path}: expected a COCO json with 'images' and 'annotations', got {type(data).__name__}"
        )
    cats = {c["id"]: c.get("name", "") for c in data.get("categories", [])}
    per_image: dict[int, list[dict[str, object]]] = {}
    for a in data["annotations"]:
        if category is not None and cats.get(a.get("category_id")) != category:
            continue
        per_image.setdefault(int(a["image_id"]), []).append(a)
    out: list[Annotation] = []
    for img in data["images"]:
        anns = per_image.get(int(img["id"]), [])
        boxes = np.asarray(
            [[float(v) for v in a["bbox"]] for a in anns],  # type: ignore[attr-defined]
            dtype=np.float32,
        ).reshape(-1, 4)
        boxes[:, 2:] += boxes[:, :2]
        corners: F32 | None = None
        kps = [a.get("keypoints") for a in anns]
        if anns and all(isinstance(k, list) and len(k) >= 12 for k in kps):
            corners = np.asarray([np.asarray(k, dtype=np.float32)[:12].reshape(4, 3)[:, :2] for k in kps])
        out.append(
            Annotation(
                image=str(path.parent / img.get("file_name", "")),
                boxes=boxes,
                width=int(img.get("width", 0)),
                height=int(img.get("height", 0)),
                corners=corners,
            )
        )
    return out


def parse_ccpd_name(name: str) -> Annotation:
    """Parse a CCPD file name: ``area-tilt-x1&y1_x2&y2-corners-indices-brightness-blur.jpg``.

    The third field is the box (top-left, bottom-right); the fourth the 4 corners starting at the
    bottom-right and going clockwise (BR, BL, TL, TR), reordered here to TL, TR, BR, BL; the fifth the
    character indices (province, alphabet, then ads).

    Raises:
        ValueError: the name does not follow the CCPD pattern.
    """
    stem = Path(name).stem
    fields = stem.split("-")
    if len(fields) < 5:
        raise ValueError(f"CCPD name: expected 7 '-'-separated fields, got {len(fields)} in {name!r}")
    try:
        (x0, y0), (x1, y1) = ([float(v) for v in p.split("&")] for p in fields[2].split("_"))
        pts = [[float(v) for v in p.split("&")] for p in fields[3].split("_")]
        idx = [int(v) for v in fields[4].split("_")]
    except ValueError as exc:
        raise ValueError(f"CCPD name: expected numeric box/corner/index fields, got {name!r}") from exc
    if len(pts) != 4 or any(len(p) != 2 for p in pts) or len(idx) < 2:
        raise ValueError(f"CCPD name: expected 4 corners and >= 2 indices, got {name!r}")
    try:
        text = CCPD_PROVINCES[idx[0]] + CCPD_ALPHABETS[idx[1]] + "".join(CCPD_ADS[i] for i in idx[2:])
    except IndexError as exc:
        raise ValueError(f"CCPD name: character index out of range in {name!r}") from exc
    br, bl, tl, tr = pts
    corners = np.asarray([[tl, tr, br, bl]], dtype=np.float32)
    boxes = np.asarray([[x0, y0, x1, y1]], dtype=np.float32)
    return Annotation(image=name, boxes=boxes, corners=corners, texts=(text,))
