#!/usr/bin/env python
"""Render a video of vehicles passing one at a time, each carrying a synthetic plate.

    python scripts/make_demo_video.py demo.mp4 --count 8 --size 1920x1080 --fps 25

Writes ``demo.mp4`` and ``demo.json`` (the plates in order with their first/last frame). Plates come
from ``alpr.train.synth.render_plate`` when it is importable (it needs Pillow and the Debian fonts),
otherwise from a plain OpenCV text renderer. The cars approach the camera from the top of the frame
and grow as they come closer. PIL/NumPy/OpenCV only; no torch. Tests import :func:`render_demo_video`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"


def _fallback_plate(text: str) -> np.ndarray:
    """A white plate with black text (RGB), used when the synthetic renderer is unavailable."""
    img = np.full((110, 440, 3), 245, np.uint8)
    cv2.rectangle(img, (3, 3), (436, 106), (20, 20, 20), 4)
    scale, thick = 2.6, 7
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    cv2.putText(
        img, text, ((440 - tw) // 2, (110 + th) // 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (10, 10, 10), thick
    )
    return img


def make_plate(rng: np.random.Generator, text: str | None, region: str) -> tuple[np.ndarray, str]:
    """(RGB plate image, label text) for one vehicle; one-line layouts only."""
    try:
        from alpr.train.synth import render_plate

        for _ in range(20):
            plate = render_plate(rng, region, text)
            if not plate.two_line:
                return plate.image, plate.text
    except Exception:  # no Pillow / fonts: fall back to OpenCV text
        pass
    if text is None:
        text = "".join(rng.choice(list(_LETTERS), 3)) + "".join(rng.choice(list("0123456789"), 4))
    return _fallback_plate(text), text


def _background(w: int, h: int, rng: np.random.Generator) -> np.ndarray:
    """Grey road with lane marks and texture, sky band at the top (BGR)."""
    bg = np.empty((h, w, 3), np.uint8)
    ramp = np.linspace(70, 110, h, dtype=np.float32)[:, None]
    bg[:] = np.repeat(ramp, w, axis=1)[..., None].astype(np.uint8)
    bg[: h // 6] = (200, 170, 140)
    noise = rng.normal(0, 6, (h, w, 1)).astype(np.int16)
    bg = np.clip(bg.astype(np.int16) + noise, 0, 255).astype(np.uint8)
    for x in (w // 4, 3 * w // 4):
        cv2.line(bg, (w // 2 + (x - w // 2) // 5, h // 6), (x, h), (220, 220, 220), max(2, w // 300))
    return bg


def _draw_vehicle(frame: np.ndarray, plate_bgr: np.ndarray, cx: float, bottom: float, width: float,
                  color: tuple[int, int, int]) -> tuple[float, float, float, float]:  # fmt: skip
    """Draw a car seen from behind/front with the plate; returns the plate box (x1, y1, x2, y2)."""
    h, w = frame.shape[:2]
    cw, ch = width, width * 0.62
    x1, y1 = round(cx - cw / 2), round(bottom - ch)
    x2, y2 = round(cx + cw / 2), round(bottom)
    cv2.rectangle(frame, (x1, y1 + round(ch * 0.35)), (x2, y2), color, -1)
    roof = (round(x1 + cw * 0.15), y1, round(x2 - cw * 0.15), y1 + round(ch * 0.4))
    cv2.rectangle(frame, roof[:2], roof[2:], color, -1)
    cv2.rectangle(frame, (roof[0] + 6, roof[1] + 6), (roof[2] - 6, roof[3]), (60, 50, 40), -1)
    wheel = round(cw * 0.09)
    for wx in (x1 + wheel, x2 - wheel):
        cv2.rectangle(frame, (wx - wheel, y2 - wheel // 2), (wx + wheel, y2 + wheel // 3), (15, 15, 15), -1)
    pw = cw * 0.34
    ph = pw * plate_bgr.shape[0] / plate_bgr.shape[1]
    px1, py1 = cx - pw / 2, bottom - ch * 0.22 - ph
    rw, rh = max(2, round(pw)), max(2, round(ph))
    resized = cv2.resize(plate_bgr, (rw, rh), interpolation=cv2.INTER_AREA)
    ix, iy = round(px1), round(py1)
    sx0, sy0 = max(0, -ix), max(0, -iy)
    sx1, sy1 = min(rw, w - ix), min(rh, h - iy)
    if sx1 > sx0 and sy1 > sy0:
        frame[iy + sy0 : iy + sy1, ix + sx0 : ix + sx1] = resized[sy0:sy1, sx0:sx1]
    return (ix, iy, ix + rw, iy + rh)


def render_demo_video(
    path: str | Path,
    *,
    plates: Sequence[str] | None = None,
    count: int = 6,
    size: tuple[int, int] = (1920, 1080),
    fps: float = 25.0,
    frames_per_vehicle: int = 50,
    gap: int = 10,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Write the video; returns one dict per vehicle: plate, first_frame, last_frame, boxes (per frame).

    Args:
        path: Output file (``.mp4`` with the mp4v codec, ``.avi`` with MJPG).
        plates: Plate texts (default: ``count`` random texts cycling US / EU / BR layouts).
        size: ``(width, height)``.
        frames_per_vehicle: Frames each vehicle is visible; ``gap``: empty frames between vehicles.
    """
    rng = np.random.default_rng(seed)
    w, h = size
    regions = ["US", "EU", "BR"]
    texts: list[str | None] = list(plates) if plates is not None else [None] * count
    out = Path(path)
    fourcc = cv2.VideoWriter.fourcc(*("MJPG" if out.suffix.lower() == ".avi" else "mp4v"))
    writer = cv2.VideoWriter(str(out), fourcc, fps, (w, h))
    if not writer.isOpened():
        raise RuntimeError(f"cannot open a video writer for {out}")
    bg = _background(w, h, rng)
    truth: list[dict[str, Any]] = []
    index = 0
    try:
        for k, text in enumerate(texts):
            rgb, label = make_plate(rng, text, regions[k % 3])
            plate_bgr = np.ascontiguousarray(rgb[..., ::-1])
            color = tuple(int(c) for c in rng.integers(40, 220, 3))
            drift = float(rng.uniform(-0.08, 0.08)) * w
            entry: dict[str, Any] = {"plate": label, "first_frame": index, "boxes": []}
            for f in range(frames_per_vehicle):
                t = f / max(1, frames_per_vehicle - 1)
                width = w * (0.18 + 0.22 * t)
                bottom = h * (0.45 + 0.5 * t)
                cx = w / 2 + drift * t
                frame = bg.copy()
                box = _draw_vehicle(frame, plate_bgr, cx, bottom, width, color)  # type: ignore[arg-type]
                entry["boxes"].append(box)
                writer.write(frame)
                index += 1
            entry["last_frame"] = index - 1
            truth.append(entry)
            for _ in range(gap):
                writer.write(bg)
                index += 1
    finally:
        writer.release()
    return truth


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("output", help="video file to write (.mp4 or .avi)")
    ap.add_argument("--count", type=int, default=8, help="number of vehicles")
    ap.add_argument("--size", default="1920x1080", help="WIDTHxHEIGHT")
    ap.add_argument("--fps", type=float, default=25.0)
    ap.add_argument("--frames-per-vehicle", type=int, default=50)
    ap.add_argument("--gap", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--plates", help="comma-separated plate texts (overrides --count)")
    args = ap.parse_args(argv)
    w, h = (int(v) for v in args.size.lower().split("x"))
    plates = args.plates.split(",") if args.plates else None
    truth = render_demo_video(
        args.output, plates=plates, count=args.count, size=(w, h), fps=args.fps,
        frames_per_vehicle=args.frames_per_vehicle, gap=args.gap, seed=args.seed,
    )  # fmt: skip
    Path(args.output).with_suffix(".json").write_text(
        json.dumps([{k: v for k, v in e.items() if k != "boxes"} for e in truth], indent=1)
    )
    print(f"{args.output}: {len(truth)} vehicles: {', '.join(e['plate'] for e in truth)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
