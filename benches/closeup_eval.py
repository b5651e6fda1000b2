"""Close-up plates vs the same plates at scene scale, end to end through ``alpr.Pipeline``.

Issue 9 asks that a plate filling most of the frame (gate cameras, user-cropped photos) reads as well
as the same plate at scene scale. This takes real labelled plate crops (the valid split of the OCR
label files named) and shows each one to the default pipeline three ways:

- ``scene``: pasted at its own size into a 1280x720 plate-free street frame (``negatives/``);
- ``closeup``: scaled so that it covers 70-95 % of the frame width, a thin border around it (a gate
  camera or a photo cropped to the plate);
- ``crop``: the crop as it is (a user's tight crop, usually 150-250 px wide).

A plate counts as read when the frame's most confident read equals its label (top-1 exact; the
other reads of the frame, if any, are counted as extra). Reported per region::

    python benches/closeup_eval.py --labels ../shared/data/ocr/labels.tsv \
        --labels ../shared/data/cn/labels.tsv --backgrounds ../shared/data/negatives/images
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

import alpr

VIEWS = ("scene", "closeup", "crop")


def _rows(paths: list[Path]) -> list[tuple[Path, str, str]]:
    out = []
    for p in paths:
        with p.open(newline="", encoding="utf-8") as f:
            for r in csv.DictReader(f, delimiter="\t"):
                if r.get("split") != "valid":
                    continue
                region = r.get("region") or "CN"
                out.append((p.parent / r["path"], r["text"], region))
    return out


def _scene(crop: np.ndarray, bg: np.ndarray, rng: random.Random) -> np.ndarray:
    frame = cv2.resize(bg, (1280, 720), interpolation=cv2.INTER_AREA).copy()
    h, w = crop.shape[:2]
    if w > 400:  # keep it at scene scale: 100-400 px wide
        crop = cv2.resize(crop, (400, max(1, round(h * 400 / w))), interpolation=cv2.INTER_AREA)
        h, w = crop.shape[:2]
    x = rng.randrange(100, 1280 - w - 100)
    y = rng.randrange(300, 720 - h - 40)
    frame[y : y + h, x : x + w] = crop
    return frame


def _closeup(crop: np.ndarray, rng: random.Random) -> np.ndarray:
    share = rng.uniform(0.70, 0.95)
    width = rng.choice((640, 960, 1280))
    h, w = crop.shape[:2]
    pw = round(width * share)
    ph = max(1, round(h * pw / w))
    big = cv2.resize(crop, (pw, ph), interpolation=cv2.INTER_CUBIC)
    mx = (width - pw) // 2
    my = max(4, round(ph * rng.uniform(0.05, 0.4)))
    grey = [int(v) for v in rng.choice(((90, 100, 110), (30, 30, 30), (160, 160, 150)))]
    return cv2.copyMakeBorder(big, my, my, mx, width - pw - mx, cv2.BORDER_CONSTANT, value=grey)


def main(argv: list[str] | None = None) -> int:
    """Run the three views over every valid crop and print per-region exact rates."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--labels", type=Path, action="append", required=True)
    ap.add_argument("--backgrounds", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=0, help="at most this many crops per region (0 = all)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)

    rng = random.Random(args.seed)
    rows = _rows(args.labels)
    if args.limit:
        per: dict[str, int] = defaultdict(int)
        kept = []
        for r in rows:
            if per[r[2]] < args.limit:
                per[r[2]] += 1
                kept.append(r)
        rows = kept
    bgs = sorted(args.backgrounds.glob("*.jpg"))
    pipe = alpr.Pipeline()
    hits: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])  # read, n, extra
    for path, text, region in rows:
        crop = cv2.imread(str(path))
        if crop is None:
            continue
        frames = {
            "scene": _scene(crop, cv2.imread(str(rng.choice(bgs))), rng),
            "closeup": _closeup(crop, rng),
            "crop": crop,
        }
        for view, frame in frames.items():
            reads = sorted(pipe(frame), key=lambda r: -r.confidence)
            for key in ((region, view), ("all", view)):
                c = hits[key]
                c[0] += bool(reads) and reads[0].text == text
                c[1] += 1
                c[2] += max(0, len(reads) - 1)
    table = {
        f"{g}/{v}": {"exact": round(c[0] / c[1], 3), "n": c[1], "extra_per_image": round(c[2] / c[1], 3)}
        for (g, v), c in sorted(hits.items())
    }
    print(f"{'group':8} " + " ".join(f"{v:>16}" for v in VIEWS))
    for g in sorted({g for g, _ in hits}):
        cells = [f"{hits[(g, v)][0] / hits[(g, v)][1]:.3f} (n={hits[(g, v)][1]})" for v in VIEWS]
        print(f"{g:8} " + " ".join(f"{c:>16}" for c in cells))
    if args.json:
        args.json.write_text(json.dumps(table, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
