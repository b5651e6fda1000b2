"""Extra reads per image on real scenes where every plate is labelled (phantom plates, end to end).

The detector set's valid split (YOLO labels mark every plate in a frame) is read by the default
``alpr.Pipeline``; a read whose box lies in no labelled plate (less than 30 % of the smaller box) is
an extra read. Sources without a licence are left out::

    python benches/extra_reads.py --detect ../shared/data/detect [--show 30]
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter
from pathlib import Path

import cv2

import alpr

UNLICENSED = ("qanastek", "yoavmai")


def _labels(path: Path, w: int, h: int) -> list[tuple[float, float, float, float]]:
    out = []
    for line in path.read_text().splitlines():
        v = line.split()
        if len(v) >= 5:
            cx, cy, bw, bh = (float(x) for x in v[1:5])
            out.append(((cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h))
    return out


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return ix * iy / max(smaller, 1e-9)


def main(argv: list[str] | None = None) -> int:
    """Count reads, labelled plates and extra reads over the valid split."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--detect", type=Path, required=True)
    ap.add_argument("--show", type=int, default=0, help="print this many extra reads")
    args = ap.parse_args(argv)
    pipe = alpr.Pipeline()
    n: Counter[str] = Counter()
    shown = 0
    with (args.detect / "manifest.csv").open(newline="") as f:
        for r in csv.DictReader(f):
            if r["split"] != "valid" or r["source"] in UNLICENSED:
                continue
            img = cv2.imread(str(args.detect / r["image"]))
            if img is None:
                continue
            h, w = img.shape[:2]
            rel = Path(r["image"]).relative_to("images").with_suffix(".txt")
            gt = _labels(args.detect / "labels" / rel, w, h)
            reads = pipe(img)
            n["images"] += 1
            n["plates"] += len(gt)
            n["reads"] += len(reads)
            for rd in reads:
                if max((_overlap(rd.box, g) for g in gt), default=0.0) < 0.3:
                    n["extra"] += 1
                    if shown < args.show:
                        shown += 1
                        print(r["image"], rd.text, f"conf {rd.confidence:.2f} det {rd.detector_score:.2f}")
    print(dict(n), f"extra reads per image {n['extra'] / max(1, n['images']):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
