"""Augmentation for OCR training crops: geometry (crop jitter, perspective, rotation) and photometry.

Geometry is one perspective warp straight to the model's input size (:func:`warp_crop`): the source
quadrilateral is the plate's outline grown or shrunk by a random margin per side (the crop a detector
box or corner regression would give, loose or tight) with each corner moved a little (perspective and
rotation). Warping to the small output in one step is cheap and never resamples twice.

Photometry is an Albumentations pipeline (:func:`photometric`) run on the small output: brightness,
contrast, gamma, colour, motion / Gaussian / defocus blur, sensor noise, JPEG artefacts, down-scaling,
rain, fog, snow, shadows, night-ish darkening, partial occlusion.
"""

from __future__ import annotations

import os

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")  # never phone home for a version check

import albumentations as A
import cv2
import numpy as np

__all__ = ["photometric", "plate_on_background", "warp_crop"]


def warp_crop(
    image: np.ndarray,
    quad: np.ndarray,
    out_size: tuple[int, int],
    rng: np.random.Generator,
    *,
    margin: tuple[float, float] = (-0.04, 0.12),
    jitter: float = 0.04,
) -> np.ndarray:
    """Cut a randomly jittered, perspective-warped crop of the plate outlined by ``quad``.

    Args:
        image: uint8 (H, W, 3) RGB source.
        quad: float32 (4, 2) plate corners TL, TR, BR, BL in source pixels.
        out_size: (width, height) of the result.
        rng: random generator.
        margin: range of the extra border per side, as a fraction of the plate's width (left/right) or
            height (top/bottom); negative values cut into the plate.
        jitter: each corner moves up to this fraction of the plate's size (perspective / rotation).

    Returns:
        uint8 (out_h, out_w, 3) RGB. Pixels beyond the source are filled by reflection.
    """
    q = np.asarray(quad, dtype=np.float32).reshape(4, 2)
    w = float(np.linalg.norm(q[1] - q[0]) + np.linalg.norm(q[2] - q[3])) / 2
    h = float(np.linalg.norm(q[3] - q[0]) + np.linalg.norm(q[2] - q[1])) / 2
    left, right = rng.uniform(*margin, size=2) * w
    top, bottom = rng.uniform(*margin, size=2) * h
    # Uniform margins on top and bottom keep two-line plates centred; a small skew is allowed.
    src = q + np.array([[-left, -top], [right, -top], [right, bottom], [-left, bottom]], dtype=np.float32)
    src += rng.uniform(-jitter, jitter, size=(4, 2)).astype(np.float32) * np.array([w, h], dtype=np.float32)
    ow, oh = out_size
    dst = np.array([[0, 0], [ow, 0], [ow, oh], [0, oh]], dtype=np.float32)
    m = cv2.getPerspectiveTransform(src.astype(np.float32), dst)
    # Pre-shrink big sources so the warp (bilinear, no area filter) does not alias.
    scale = oh / max(h, 1.0)
    if scale < 0.5:
        f = min(1.0, 2 * scale)
        small = cv2.resize(image, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        m = m @ np.diag([1 / f, 1 / f, 1.0])
        image = small
    return cv2.warpPerspective(image, m, (ow, oh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


def plate_on_background(
    plate: np.ndarray, background: np.ndarray | None, rng: np.random.Generator, pad: float = 0.4
) -> tuple[np.ndarray, np.ndarray]:
    """Put a rendered plate on a background with room around it for :func:`warp_crop`.

    Args:
        plate: uint8 (h, w, 3) RGB plate.
        background: uint8 (H, W, 3) RGB scene to take a random patch from, or None for a random colour.
        rng: random generator.
        pad: border on each side, as a fraction of the plate's height.

    Returns:
        ``(canvas, quad)``: uint8 RGB canvas and float32 (4, 2) plate corners TL, TR, BR, BL in it.
    """
    h, w = plate.shape[:2]
    p = round(pad * h)
    ch, cw = h + 2 * p, w + 2 * p
    if background is not None and background.shape[0] >= 16 and background.shape[1] >= 16:
        bh, bw = background.shape[:2]
        # A patch of random size and place, stretched to the canvas.
        sh = int(rng.integers(min(bh, 16), bh + 1))
        sw = min(bw, max(16, int(sh * cw / ch * rng.uniform(0.7, 1.4))))
        y, x = int(rng.integers(0, bh - sh + 1)), int(rng.integers(0, bw - sw + 1))
        canvas = cv2.resize(background[y : y + sh, x : x + sw], (cw, ch), interpolation=cv2.INTER_LINEAR)
        if canvas.ndim == 2:
            canvas = cv2.cvtColor(canvas, cv2.COLOR_GRAY2RGB)
    else:
        colour = rng.integers(0, 256, size=3).astype(np.uint8)
        canvas = np.empty((ch, cw, 3), dtype=np.uint8)
        canvas[:] = colour
    canvas = canvas.copy()
    canvas[p : p + h, p : p + w] = plate
    quad = np.array([[p, p], [p + w, p], [p + w, p + h], [p, p + h]], dtype=np.float32)
    return canvas, quad


def photometric(strength: float = 1.0) -> A.Compose:
    """The photometric Albumentations pipeline, applied to uint8 RGB crops at model input size.

    Args:
        strength: scales every probability (0 disables all but keeps the pipeline's shape).
    """
    s = float(np.clip(strength, 0.0, 1.0))
    return A.Compose(
        [
            A.OneOf(
                [
                    A.MotionBlur(blur_limit=(3, 5)),
                    A.GaussianBlur(blur_limit=(3, 5)),
                    A.Defocus(radius=(1, 2), alias_blur=(0.1, 0.3)),
                ],
                p=0.35 * s,
            ),
            A.Downscale(
                scale_range=(0.35, 0.8),
                interpolation_pair={"downscale": cv2.INTER_AREA, "upscale": cv2.INTER_LINEAR},
                p=0.3 * s,
            ),
            A.RandomBrightnessContrast(brightness_limit=0.3, contrast_limit=0.4, p=0.6 * s),
            A.RandomGamma(gamma_limit=(60, 160), p=0.3 * s),
            A.HueSaturationValue(hue_shift_limit=15, sat_shift_limit=30, val_shift_limit=20, p=0.3 * s),
            A.OneOf(
                [
                    A.RandomRain(
                        drop_length=4, blur_value=3, brightness_coefficient=0.8, slant_range=(-10, 10)
                    ),
                    A.RandomFog(fog_coef_range=(0.1, 0.35), alpha_coef=0.08),
                    A.RandomSnow(snow_point_range=(0.05, 0.2), brightness_coeff=1.5),
                    A.RandomShadow(shadow_roi=(0, 0, 1, 1), num_shadows_limit=(1, 2), shadow_dimension=4),
                ],
                p=0.12 * s,
            ),
            A.ToGray(p=0.1 * s),
            A.InvertImg(p=0.03 * s),
            A.OneOf(
                [
                    A.GaussNoise(std_range=(0.02, 0.1)),
                    A.ISONoise(color_shift=(0.01, 0.04), intensity=(0.1, 0.4)),
                ],
                p=0.3 * s,
            ),
            A.CoarseDropout(
                num_holes_range=(1, 2),
                hole_height_range=(0.2, 0.6),
                hole_width_range=(0.03, 0.08),
                fill="random",
                p=0.08 * s,
            ),
            A.ImageCompression(quality_range=(25, 90), p=0.35 * s),
        ]
    )
