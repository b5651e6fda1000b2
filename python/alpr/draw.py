"""Overlays for reads and events. Drawing never touches the caller's frame: it returns a copy."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from alpr.types import PlateRead

__all__ = ["draw_reads"]


def draw_reads(
    frame: np.ndarray,
    reads: Sequence[PlateRead],
    *,
    color: tuple[int, int, int] = (0, 255, 0),
    label: bool = True,
) -> np.ndarray:
    """Return a copy of ``frame`` (BGR ``uint8 (H, W, 3)``) with each read's box, corners and text drawn."""
    import cv2

    out: np.ndarray = frame.copy()
    thick = max(1, round(min(out.shape[:2]) / 400))
    for r in reads:
        x1, y1, x2, y2 = (round(v) for v in r.box)
        cv2.rectangle(out, (x1, y1), (x2, y2), color, thick)
        if r.corners is not None:
            pts = np.round(np.asarray(r.corners, np.float32)).astype(np.int32).reshape(-1, 1, 2)
            cv2.polylines(out, [pts], True, (0, 200, 255), thick)
        if label and r.text:
            text = f"{r.text} {r.confidence:.2f}"
            scale = max(0.5, (y2 - y1) / 40)
            (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
            ty = max(th + base, y1 - 4)
            cv2.rectangle(out, (x1, ty - th - base), (x1 + tw, ty + base // 2), (0, 0, 0), -1)
            cv2.putText(
                out, text, (x1, ty - base // 2), cv2.FONT_HERSHEY_SIMPLEX, scale, color, thick, cv2.LINE_AA
            )
    return out
