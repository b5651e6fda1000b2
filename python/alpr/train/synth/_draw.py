"""Fonts and drawing helpers shared by the plate renderers."""

from __future__ import annotations

import functools
import os
import string
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

LETTERS = string.ascii_uppercase
DIGITS = string.digits

# Text patterns per region (L = letter, 9 = digit, * = either). Separators are drawn, never labelled.


class FontsMissingError(FileNotFoundError):
    """The plate fonts are not installed."""


@dataclass(frozen=True, slots=True)
class SynthPlate:
    """One rendered plate.

    Attributes:
        image: uint8 (H, W, 3) RGB; the plate's outline is the image border.
        text: the label, upper-case A-Z0-9 only (no separators).
        region: ``"US"``, ``"EU"`` or ``"BR"``.
        two_line: True for two-row layouts (motorcycle / square plates); line 1 then line 2 in ``text``.
        layout: finer layout name, e.g. ``"us"``, ``"eu"``, ``"br-old"``, ``"br-mercosur"``.
    """

    image: np.ndarray
    text: str
    region: str
    two_line: bool
    layout: str = ""


@dataclass(frozen=True, slots=True)
class _Fonts:
    highway: tuple[str, ...]
    din: tuple[str, ...]
    extra: tuple[str, ...]
    cjk: tuple[str, ...] = ()


def _font_dirs() -> list[Path]:
    dirs = [Path(os.environ["ALPR_FONT_DIR"])] if os.environ.get("ALPR_FONT_DIR") else []
    return [*dirs, Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), Path.home() / ".fonts"]


@functools.cache
def find_fonts() -> _Fonts:
    """Locate the plate fonts.

    Raises:
        FontsMissingError: highway gothic (fonts-roadgeek) or DIN (fonts-opendin) is missing.
    """
    found: dict[str, Path] = {}
    for root in _font_dirs():
        if root.is_dir():
            for path in sorted(root.rglob("*.tt[fc]")):
                found.setdefault(path.name, path)
    highway = tuple(str(p) for n, p in sorted(found.items()) if n.startswith("RG2014"))
    din = tuple(str(p) for n, p in sorted(found.items()) if n.startswith("OSP-DIN"))
    extra_names = ("DejaVuSans-Bold.ttf", "DejaVuSansCondensed-Bold.ttf", "DejaVuSansMono-Bold.ttf")
    extra = tuple(str(found[n]) for n in extra_names if n in found)
    missing = [pkg for pkg, fonts in (("fonts-roadgeek", highway), ("fonts-opendin", din)) if not fonts]
    if missing:
        raise FontsMissingError(
            f"plate fonts: expected {' and '.join(missing)} under /usr/share/fonts (or $ALPR_FONT_DIR), "
            f"got none; install with: apt-get install -y {' '.join(missing)}"
        )
    cjk_names = ("wqy-microhei.ttc", "wqy-zenhei.ttc", "NotoSansCJK-Bold.ttc", "NotoSansCJK-Regular.ttc")
    cjk = tuple(str(found[n]) for n in cjk_names if n in found)
    return _Fonts(highway, din, extra, cjk)


@functools.lru_cache(maxsize=256)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


def _label(shown: str) -> str:
    return "".join(ch for ch in shown.upper() if ch.isalnum())


def _colour(rng: np.random.Generator, base: tuple[int, ...], jitter: int = 20) -> tuple[int, int, int]:
    r, g, b = (int(np.clip(c + rng.integers(-jitter, jitter + 1), 0, 255)) for c in base)
    return (r, g, b)


def _text_layer(text: str, font_path: str, box_w: int, box_h: int, rng: np.random.Generator) -> Image.Image:
    """Render ``text`` as an L-mode mask stretched to fit (box_w, box_h), keeping some aspect freedom."""
    font = _font(font_path, 96)
    left, top, right, bottom = font.getbbox(text)
    w, h = max(1, int(right - left)), max(1, int(bottom - top))
    mask = Image.new("L", (w + 8, h + 8), 0)
    ImageDraw.Draw(mask).text((4 - left, 4 - top), text, font=font, fill=255)
    # Fit the height, then squeeze / stretch the width within limits so plates vary like real fonts do.
    target_h = box_h
    target_w = round(mask.width * target_h / mask.height * rng.uniform(0.85, 1.2))
    if target_w > box_w:
        target_w = box_w
    return mask.resize((max(1, target_w), max(1, target_h)), Image.Resampling.BILINEAR)


def _paste_text(  # noqa: PLR0913 (the text, its font, box and colour, and its look)
    img: Image.Image,
    text: str,
    font_path: str,
    box: tuple[int, int, int, int],
    colour: tuple[int, int, int],
    rng: np.random.Generator,
    align: str = "center",
    emboss: float = 0.0,
) -> None:
    """Paste ``text`` fitted into ``box``.

    With probability ``emboss``, a raised-character look: a dark drop shadow and a light rim offset by a few
    per cent of the text height.
    """
    x0, y0, x1, y1 = box
    layer = _text_layer(text, font_path, x1 - x0, y1 - y0, rng)
    x = x0 + (x1 - x0 - layer.width) // 2 if align == "center" else x0
    y = y0 + (y1 - y0 - layer.height) // 2
    if emboss and rng.random() < emboss:
        d = max(1, round(layer.height * rng.uniform(0.015, 0.05)))
        dark = tuple(max(0, c - 90) for c in colour) if sum(colour) > 200 else (70, 70, 70)
        img.paste(Image.new("RGB", layer.size, dark), (x + d, y + d), layer)
        img.paste(Image.new("RGB", layer.size, (235, 235, 235)), (x - d // 2, y - d // 2), layer)
    img.paste(Image.new("RGB", layer.size, colour), (x, y), layer)


def _small_text(
    draw: ImageDraw.ImageDraw,
    text: str,
    font_path: str,
    centre: tuple[int, int],
    size: int,
    fill: tuple[int, ...],
) -> None:
    if not text:
        return
    font = _font(font_path, max(6, size))
    left, top, right, bottom = font.getbbox(text)
    draw.text(
        (centre[0] - (right - left) // 2 - left, centre[1] - (bottom - top) // 2 - top),
        text,
        font=font,
        fill=fill,
    )


def _bolts(draw: ImageDraw.ImageDraw, w: int, h: int, rng: np.random.Generator) -> None:
    r = max(2, h // 25)
    shade = int(rng.integers(90, 200))
    for fx, fy in ((0.2, 0.12), (0.8, 0.12), (0.2, 0.88), (0.8, 0.88))[: 2 if rng.random() < 0.5 else 4]:
        cx, cy = int(w * fx), int(h * fy)
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(shade, shade, shade), outline=(60, 60, 60))


def _sticker(draw: ImageDraw.ImageDraw, w: int, h: int, rng: np.random.Generator, font_path: str) -> None:
    sw, sh = int(w * rng.uniform(0.08, 0.14)), int(h * rng.uniform(0.14, 0.22))
    x = int(rng.choice([rng.uniform(0.02, 0.08), rng.uniform(0.80, 0.88)]) * w)
    y = int(rng.choice([rng.uniform(0.03, 0.08), rng.uniform(0.72, 0.80)]) * h)
    col = tuple(int(c) for c in rng.integers(0, 256, 3))
    draw.rectangle((x, y, x + sw, y + sh), fill=col)
    _small_text(
        draw,
        f"{rng.integers(0, 99):02d}",
        font_path,
        (x + sw // 2, y + sh // 2),
        sh * 2 // 3,
        (255, 255, 255),
    )


def _split_two_lines(shown: str, rng: np.random.Generator) -> tuple[str, str]:
    compact = shown.replace(" ", "-")
    parts = [p for p in compact.split("-") if p]
    if len(parts) >= 2:
        cut = 1 if len(parts) == 2 else int(rng.integers(1, len(parts)))
        return "".join(parts[:cut]), "".join(parts[cut:])
    label = _label(shown)
    cut = len(label) // 2 if len(label) < 6 else int(rng.integers(2, len(label) - 2))
    return label[:cut], label[cut:]
