"""Synthetic detector samples: rendered plates pasted into real scenes with a perspective warp.

Real detection data carries axis-aligned boxes only; pasted plates carry exact corners, which is what
teaches the detector's corner head. Plates come from :func:`alpr.train.synth.render_plate`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import cv2
import numpy as np
import numpy.typing as npt

from alpr.types import iou_matrix

__all__ = ["PastedPlate", "paste_plates", "warp_plate"]

U8 = npt.NDArray[np.uint8]
F32 = npt.NDArray[np.float32]
PastedPlate = tuple[F32, F32]  # box xyxy (4,), corners TL, TR, BR, BL (4, 2)


def warp_plate(
    scene: U8,
    plate: U8,
    corners: F32,
    *,
    alpha_edge: float = 0.6,
    shade: float = 1.0,
) -> U8:
    """Warp ``plate`` (h, w, 3) onto ``scene`` (H, W, 3) in place so its corners land on ``corners``.

    Args:
        scene: uint8 (H, W, 3) destination, modified in place and returned.
        plate: uint8 (h, w, 3) plate image in the scene's channel order.
        corners: float32 (4, 2) destination TL, TR, BR, BL in scene px.
        alpha_edge: blur of the paste mask edge in px (anti-aliasing).
        shade: brightness multiplier applied to the plate (matches it to the scene's light).
    """
    h, w = plate.shape[:2]
    src = np.asarray([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    m = cv2.getPerspectiveTransform(src, corners.astype(np.float32))
    sh, sw = scene.shape[:2]
    warped = cv2.warpPerspective(plate, m, (sw, sh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    mask = cv2.warpPerspective(np.full((h, w), 255, np.uint8), m, (sw, sh), flags=cv2.INTER_LINEAR)
    if alpha_edge > 0:
        mask = cv2.GaussianBlur(mask, (3, 3), alpha_edge)
    a = mask.astype(np.float32)[..., None] / 255.0
    blended = scene.astype(np.float32) * (1 - a) + np.clip(warped.astype(np.float32) * shade, 0, 255) * a
    scene[:] = blended.astype(np.uint8)
    return scene


def paste_plates(
    scene: U8,
    rng: np.random.Generator,
    *,
    count: int,
    avoid: F32 | None = None,
    min_width: float = 16.0,
    max_width: float = 220.0,
    render: Callable[[np.random.Generator], U8] | None = None,
) -> list[PastedPlate]:
    """Paste up to ``count`` synthetic plates into ``scene`` (uint8 (H, W, 3) RGB, modified in place).

    Args:
        scene: the destination image.
        rng: the random generator.
        count: plates to try to place.
        avoid: float32 (M, 4) xyxy boxes (existing plates) that pasted plates must not overlap.
        min_width: smallest plate width in px.
        max_width: largest plate width in px (capped at 80 % of the scene width).
        render: ``rng -> uint8 (h, w, 3) RGB`` plate renderer; default :func:`alpr.train.synth.render_plate`.

    Returns:
        One ``(box xyxy, corners (4, 2))`` per pasted plate, both float32 in scene px.
    """
    if render is None:
        from alpr.train.synth import render_plate

        def render(r: np.random.Generator) -> U8:
            return render_plate(r).image

    sh, sw = scene.shape[:2]
    taken: list[F32] = [] if avoid is None else [np.asarray(b, np.float32) for b in avoid.reshape(-1, 4)]
    out: list[PastedPlate] = []
    max_w = min(max_width, 0.8 * sw)
    if max_w <= min_width:
        return out
    for _ in range(count):
        plate = render(rng)
        ph, pw = plate.shape[:2]
        width = float(math.exp(rng.uniform(math.log(min_width), math.log(max_w))))
        height = width * ph / pw * rng.uniform(0.85, 1.15)
        if height >= 0.8 * sh:
            continue
        cx = rng.uniform(width / 2, sw - width / 2)
        cy = rng.uniform(height / 2, sh - height / 2)
        angle = math.radians(rng.normal(0.0, 5.0))
        ca, sa = math.cos(angle), math.sin(angle)
        base = np.asarray([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float32) * np.asarray(
            [width / 2, height / 2]
        )
        # Perspective: shrink one side (yaw) and the top or bottom edge (pitch) a little.
        yaw = rng.uniform(-0.25, 0.25)
        pitch = rng.uniform(-0.12, 0.12)
        base[:, 1] *= 1 + yaw * np.sign(base[:, 0]) * 1.0
        base[:, 0] *= 1 + pitch * np.sign(base[:, 1])
        base += rng.normal(0, 0.02, base.shape) * np.asarray([width, height])
        rot = np.asarray([[ca, -sa], [sa, ca]], np.float32)
        corners = (base @ rot.T + np.asarray([cx, cy])).astype(np.float32)
        corners[:, 0] = np.clip(corners[:, 0], 0, sw - 1)
        corners[:, 1] = np.clip(corners[:, 1], 0, sh - 1)
        box = np.asarray([*corners.min(0), *corners.max(0)], np.float32)
        if box[2] - box[0] < 4 or box[3] - box[1] < 3:
            continue
        if taken and iou_matrix(box, np.asarray(taken)).max() > 0.0:
            continue
        warp_plate(scene, plate, corners, shade=float(rng.uniform(0.45, 1.1)))
        taken.append(box)
        out.append((box, corners))
    return out
