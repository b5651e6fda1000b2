"""Synthetic licence plates: US, EU, Brazilian (old grey and Mercosur) and mainland Chinese layouts,
one or two lines.

The public entry point is :func:`render_plate`, used by the OCR trainer (rendered plates as extra
training crops) and by the detector trainer (plates pasted into scenes with perspective)::

    rng = np.random.default_rng(0)
    plate = render_plate(rng, region="EU")
    plate.image  # uint8 (H, W, 3) RGB, the plate only (its outline fills the image)
    plate.text   # "AB123CD": the label, A-Z0-9 only

Fonts come from Debian packages, found under ``/usr/share/fonts`` (or ``$ALPR_FONT_DIR``):
``fonts-roadgeek`` (US highway gothic, MIT) and ``fonts-opendin`` (DIN, OFL; EU and Brazil). DejaVu
fonts, when present, add variety. Chinese plates need a CJK font (``fonts-wqy-microhei``, or
``fonts-noto-cjk``). Install with ``apt-get install -y fonts-roadgeek fonts-opendin fonts-wqy-microhei``.

Everything drawn besides the label (state names, slogans, stickers, bolts, the EU country code, the
French department badge, the "BRASIL" band, separators) is deliberately *not* in ``text``: the OCR has to
learn to ignore it, as on real plates.
"""

from __future__ import annotations

import functools
import os
import string
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

__all__ = [
    "CN_CHARSET",
    "REGIONS",
    "FontsMissingError",
    "SynthPlate",
    "find_fonts",
    "random_cn_text",
    "random_text",
    "render_plate",
]

REGIONS: tuple[str, ...] = ("US", "EU", "BR", "CN")
"""Regions :func:`render_plate` accepts (``None`` picks one at random)."""

LETTERS = string.ascii_uppercase
DIGITS = string.digits

# Text patterns per region (L = letter, 9 = digit, * = either). Separators are drawn, never labelled.
_US_PATTERNS = (
    "LLL9999", "LLL-9999", "9LLL999", "999-LLL", "LLL-999", "99L999", "L99-LLL", "9LL-L99",
    "LL9-999L", "999-9999", "LL-99999", "9LLL99", "T999999C", "LLL9L9", "99999LL", "L9999",
)  # fmt: skip
_EU_PATTERNS = (
    "LL-999-LL", "9999 LL 99", "999 LLL 99", "LL 999 LL", "9999 LLL", "LL-99-LLL", "LL 99 LLL",
    "LL 9999", "L-LL 999", "LL-LLL-99", "9-LLL-999", "LL99 LLL", "LLL 999", "LL 999-LL",
)  # fmt: skip
_BR_OLD = "LLL-9999"
_BR_MERCOSUR = "LLL9L99"

_US_STATES = (
    "NEW YORK", "New Jersey", "PENNSYLVANIA", "CALIFORNIA", "Connecticut", "TEXAS", "FLORIDA", "Ohio",
    "MASSACHUSETTS", "Virginia", "ILLINOIS", "MARYLAND", "Georgia", "ARIZONA", "Michigan", "DELAWARE",
)  # fmt: skip
_US_SLOGANS = (
    "EMPIRE STATE", "Garden State", "visitPA.com", "dmv.ca.gov", "Constitution State", "Sunshine State",
    "The Lone Star State", "TAXI", "Live Free or Die", "Virginia is for Lovers", "LAND OF LINCOLN", "",
)  # fmt: skip
_EU_CODES = ("F", "D", "I", "E", "NL", "B", "RO", "PL", "P", "A", "CZ", "H", "GR", "S")
_BR_CITIES = (
    "SP SAO PAULO", "RJ RIO DE JANEIRO", "MG BELO HORIZONTE", "PR CURITIBA", "RS PORTO ALEGRE",
    "SC FLORIANOPOLIS", "BA SALVADOR", "PE RECIFE", "SP CAMPINAS", "GO GOIANIA",
)  # fmt: skip


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


def _fill(rng: np.random.Generator, pattern: str) -> str:
    out = []
    for ch in pattern:
        if ch == "L":
            out.append(LETTERS[rng.integers(len(LETTERS))])
        elif ch == "9":
            out.append(DIGITS[rng.integers(10)])
        elif ch == "*":
            out.append((LETTERS + DIGITS)[rng.integers(36)])
        else:
            out.append(ch)
    return "".join(out)


def random_text(rng: np.random.Generator, region: str) -> str:
    """A random plate string for ``region`` with its separators (``"AB-123-CD"``); strip them for a label."""
    if region == "US":
        return _fill(rng, _US_PATTERNS[rng.integers(len(_US_PATTERNS))])
    if region == "EU":
        return _fill(rng, _EU_PATTERNS[rng.integers(len(_EU_PATTERNS))])
    if region == "BR":
        return _fill(rng, _BR_OLD if rng.random() < 0.6 else _BR_MERCOSUR)
    if region == "CN":
        return random_cn_text(rng)[0]
    raise ValueError(f"region: expected one of {REGIONS}, got {region!r}")


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


def _paste_text(
    img: Image.Image,
    text: str,
    font_path: str,
    box: tuple[int, int, int, int],
    colour: tuple[int, int, int],
    rng: np.random.Generator,
    align: str = "center",
    emboss: float = 0.0,
) -> None:
    """Paste ``text`` fitted into ``box``; with probability ``emboss`` a raised-character look: a dark
    drop shadow and a light rim offset by a few per cent of the text height."""
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


def _us_background(img: Image.Image, rng: np.random.Generator) -> None:
    """Plate art behind the characters: a soft vertical gradient, sky/hills/sun shapes, or diagonal
    stripes, in pale colours (many US plates are not plain white)."""
    w, h = img.size
    arr = np.asarray(img, dtype=np.float32)
    kind = rng.integers(3)
    tint = rng.integers(120, 256, 3).astype(np.float32)
    if kind == 0:  # gradient top->bottom toward a tint
        t = np.linspace(0, rng.uniform(0.2, 0.6), h, dtype=np.float32)[:, None, None]
        if rng.random() < 0.5:
            t = t[::-1]
        arr = arr * (1 - t) + tint * t
    elif kind == 1:  # hills / sun silhouettes
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        for _ in range(int(rng.integers(1, 4))):
            cx, cy = rng.uniform(0, w), rng.uniform(0.5 * h, 1.4 * h)
            r = rng.uniform(0.3, 0.9) * w
            inside = ((xx - cx) ** 2 + (yy - cy) ** 2) < r * r
            col = rng.integers(100, 256, 3).astype(np.float32)
            a = rng.uniform(0.15, 0.45)
            arr[inside] = arr[inside] * (1 - a) + col * a
    else:  # diagonal stripes
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        period = rng.uniform(0.1, 0.4) * w
        wave = 0.5 + 0.5 * np.sin((xx + yy * rng.uniform(-1, 1)) * 2 * np.pi / period)
        a = (wave * rng.uniform(0.1, 0.3))[..., None]
        arr = arr * (1 - a) + tint * a
    img.paste(Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)))


def _dealer_frame(img: Image.Image, rng: np.random.Generator, font_path: str) -> None:
    """A licence-plate frame: a dark or chrome border, thicker at the bottom (often over the slogan),
    sometimes with a dealer's name."""
    w, h = img.size
    draw = ImageDraw.Draw(img)
    col = _colour(rng, (25, 25, 25), 15) if rng.random() < 0.6 else _colour(rng, (185, 185, 190), 25)
    side = int(w * rng.uniform(0.01, 0.04))
    top = int(h * rng.uniform(0.02, 0.12))
    bottom = int(h * rng.uniform(0.08, 0.2))
    draw.rectangle((0, 0, w, top), fill=col)
    draw.rectangle((0, h - bottom, w, h), fill=col)
    draw.rectangle((0, 0, side, h), fill=col)
    draw.rectangle((w - side, 0, w, h), fill=col)
    if rng.random() < 0.6 and bottom > 8:
        name = (
            random_text(rng, "US")[:4]
            + " "
            + ("MOTORS", "AUTO", "FORD", "TOYOTA", "HONDA", "CHEVY")[int(rng.integers(6))]
        )
        ink = (230, 230, 230) if sum(col) < 300 else (30, 30, 30)
        _small_text(draw, name, font_path, (w // 2, h - bottom // 2), int(bottom * 0.7), ink)


def _render_us(rng: np.random.Generator, shown: str, two_line: bool, fonts: _Fonts) -> Image.Image:
    w, h = (200, 160) if two_line else (300, 150)
    light = rng.random() < 0.8
    bg = _colour(rng, (245, 245, 240) if light else tuple(int(c) for c in rng.integers(0, 256, 3)), 12)
    if light:
        fg = _colour(rng, [(20, 30, 110), (15, 15, 15), (150, 20, 20), (10, 80, 30)][rng.integers(4)], 20)
    else:
        fg = (20, 20, 20) if sum(bg) > 380 else (240, 240, 240)
    img = Image.new("RGB", (w, h), bg)
    if light and rng.random() < 0.45:
        _us_background(img, rng)
    draw = ImageDraw.Draw(img)
    if rng.random() < 0.5:  # coloured bands (NY/PA style)
        band = _colour(rng, tuple(int(c) for c in rng.integers(0, 256, 3)), 0)
        draw.rectangle((0, 0, w, int(h * rng.uniform(0.1, 0.2))), fill=band)
        if rng.random() < 0.5:
            draw.rectangle((0, int(h * rng.uniform(0.82, 0.9)), w, h), fill=band)
    small_font = fonts.highway[rng.integers(len(fonts.highway))]
    state = _US_STATES[rng.integers(len(_US_STATES))]
    top_fill = fg if rng.random() < 0.5 else _colour(rng, (40, 40, 140), 40)
    _small_text(draw, state, small_font, (w // 2, int(h * 0.12)), int(h * rng.uniform(0.11, 0.17)), top_fill)
    slogan = _US_SLOGANS[rng.integers(len(_US_SLOGANS))]
    _small_text(draw, slogan, small_font, (w // 2, int(h * 0.89)), int(h * rng.uniform(0.08, 0.12)), top_fill)
    choices = fonts.highway + fonts.extra
    font = choices[rng.integers(len(choices))] if rng.random() < 0.85 else fonts.din[0]
    if two_line:
        a, b = _split_two_lines(shown, rng)
        _paste_text(
            img, a, font, (int(w * 0.1), int(h * 0.22), int(w * 0.9), int(h * 0.5)), fg, rng, emboss=0.3
        )
        _paste_text(
            img, b, font, (int(w * 0.06), int(h * 0.54), int(w * 0.94), int(h * 0.82)), fg, rng, emboss=0.3
        )
    else:
        th = rng.uniform(0.44, 0.56)
        _paste_text(
            img,
            shown,
            font,
            (int(w * 0.05), int(h * (0.5 - th / 2)), int(w * 0.95), int(h * (0.5 + th / 2))),
            fg,
            rng,
            emboss=0.3,
        )
    if rng.random() < 0.5:
        _sticker(draw, w, h, rng, small_font)
    if rng.random() < 0.5:
        _bolts(draw, w, h, rng)
    if rng.random() < 0.7:
        draw.rectangle(
            (0, 0, w - 1, h - 1),
            outline=fg if rng.random() < 0.5 else (90, 90, 90),
            width=int(rng.integers(1, 5)),
        )
    if rng.random() < 0.3:
        _dealer_frame(img, rng, small_font)
    return img


def _render_eu(rng: np.random.Generator, shown: str, two_line: bool, fonts: _Fonts) -> Image.Image:
    w, h = (260, 200) if two_line else (520, 112)
    yellow = rng.random() < 0.15
    bg = _colour(rng, (240, 200, 20) if yellow else (245, 245, 245), 12)
    fg = _colour(rng, (15, 15, 15), 10)
    img = Image.new("RGB", (w, h), bg)
    draw = ImageDraw.Draw(img)
    strip = rng.random() < 0.85
    x0 = 0
    if strip:
        sw = int(h * 0.42) if not two_line else int(w * 0.16)
        draw.rectangle((0, 0, sw, h), fill=_colour(rng, (10, 50, 160), 15))
        # Circle of stars, then the country code.
        cx, cy, r = sw // 2, int(h * 0.3), max(3, sw // 4)
        for k in range(12):
            ang = 2 * np.pi * k / 12
            px, py = cx + r * np.cos(ang), cy + r * np.sin(ang)
            draw.ellipse((px - 1.5, py - 1.5, px + 1.5, py + 1.5), fill=(240, 210, 0))
        code = _EU_CODES[rng.integers(len(_EU_CODES))]
        _small_text(draw, code, fonts.din[0], (cx, int(h * 0.72)), int(sw * 0.5), (250, 250, 250))
        x0 = sw
    right = w
    if not two_line and rng.random() < 0.4:  # French-style department badge on the right
        bw = int(h * 0.42)
        draw.rectangle((w - bw, 0, w, h), fill=_colour(rng, (10, 50, 160), 15))
        _small_text(
            draw,
            f"{rng.integers(1, 96):02d}",
            fonts.din[0],
            (w - bw // 2, int(h * 0.7)),
            int(bw * 0.45),
            (250, 250, 250),
        )
        right = w - bw
    choices = fonts.din * 3 + fonts.extra + fonts.highway[:1]
    font = choices[rng.integers(len(choices))]
    if two_line:
        a, b = _split_two_lines(shown, rng)
        _paste_text(img, a, font, (x0 + 8, int(h * 0.08), right - 8, int(h * 0.46)), fg, rng)
        _paste_text(img, b, font, (x0 + 8, int(h * 0.54), right - 8, int(h * 0.92)), fg, rng)
    else:
        _paste_text(img, shown, font, (x0 + 6, int(h * 0.12), right - 6, int(h * 0.88)), fg, rng)
    if rng.random() < 0.3:
        _bolts(draw, w, h, rng)
    if rng.random() < 0.8:
        draw.rectangle((0, 0, w - 1, h - 1), outline=fg, width=int(rng.integers(1, 5)))
    return img


def _render_br(
    rng: np.random.Generator, shown: str, two_line: bool, fonts: _Fonts, mercosur: bool
) -> Image.Image:
    w, h = (200, 170) if two_line else (400, 130)
    font = (
        fonts.din[0] if rng.random() < 0.85 else (fonts.extra + fonts.din)[rng.integers(len(fonts.extra) + 1)]
    )
    if mercosur:
        img = Image.new("RGB", (w, h), _colour(rng, (245, 245, 245), 8))
        draw = ImageDraw.Draw(img)
        band_h = int(h * (0.22 if not two_line else 0.2))
        draw.rectangle((0, 0, w, band_h), fill=_colour(rng, (20, 60, 160), 15))
        _small_text(draw, "BRASIL", fonts.din[0], (w // 2, band_h // 2), int(band_h * 0.7), (250, 250, 250))
        if rng.random() < 0.7:
            draw.rectangle((6, 4, 6 + band_h, band_h - 4), fill=_colour(rng, (30, 130, 60), 30))
        fg = _colour(
            rng,
            [(15, 15, 15), (150, 20, 20), (20, 40, 140), (20, 100, 40)][
                rng.integers(4) if rng.random() < 0.3 else 0
            ],
            10,
        )
        top = band_h + 4
    else:
        red = rng.random() < 0.12
        bg = _colour(rng, (170, 30, 30) if red else (195, 195, 190), 18)
        fg = (240, 240, 240) if red else _colour(rng, (25, 25, 25), 10)
        img = Image.new("RGB", (w, h), bg)
        draw = ImageDraw.Draw(img)
        city = _BR_CITIES[rng.integers(len(_BR_CITIES))]
        band_h = int(h * 0.2)
        _small_text(draw, city, fonts.din[0], (w // 2, band_h // 2 + 2), int(band_h * 0.75), fg)
        top = band_h + 2
    if two_line:
        label = _label(shown)
        a, b = (label[:3], label[3:]) if not mercosur or rng.random() < 0.5 else (label[:4], label[4:])
        mid = top + (h - top) // 2
        _paste_text(img, a, font, (int(w * 0.12), top + 2, int(w * 0.88), mid - 2), fg, rng)
        _paste_text(img, b, font, (int(w * 0.08), mid + 2, int(w * 0.92), h - 6), fg, rng)
    else:
        _paste_text(img, shown, font, (int(w * 0.05), top + 2, int(w * 0.95), h - int(h * 0.08)), fg, rng)
    if rng.random() < 0.5:
        _bolts(draw, w, h, rng)
    draw.rectangle(
        (0, 0, w - 1, h - 1),
        outline=fg if rng.random() < 0.7 else (60, 60, 60),
        width=int(rng.integers(1, 5)),
    )
    return img


# ---------------------------------------------------------------------------------------------------
# China (mainland): fixed character slots, province character first (GA 36-2018 layouts, approximated)
# ---------------------------------------------------------------------------------------------------

CN_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
"""The 31 province abbreviations that open a mainland plate."""
CN_SPECIAL = "警学挂港澳使领"
"""Closing characters of special plates (police, driving school, trailer, Hong Kong / Macau, embassy)."""
CN_CHARSET = CN_PROVINCES + CN_SPECIAL
_CN_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I / O in the serial
_CN_SERIAL = _CN_LETTERS + DIGITS


def _cn_serial(rng: np.random.Generator, n: int) -> str:
    """``n`` serial characters: mostly digits, at most two letters (as issued)."""
    out = [DIGITS[rng.integers(10)] for _ in range(n)]
    for _ in range(int(rng.choice(3, p=[0.45, 0.4, 0.15]))):
        out[int(rng.integers(n))] = _CN_LETTERS[rng.integers(len(_CN_LETTERS))]
    return "".join(out)


def random_cn_text(rng: np.random.Generator) -> tuple[str, str]:
    """A random mainland plate ``(text, kind)``; ``kind`` is the layout: ``blue``, ``yellow``,
    ``yellow2`` (two rows), ``green`` (new energy, 8 characters), ``police``, ``coach`` (学),
    ``trailer`` (挂, two rows), ``hkmo`` (粤Z...港/澳)."""
    kinds = ("blue", "yellow", "yellow2", "green", "police", "coach", "trailer", "hkmo")
    kind = kinds[int(rng.choice(len(kinds), p=[0.5, 0.08, 0.08, 0.18, 0.05, 0.05, 0.03, 0.03]))]
    prov = CN_PROVINCES[rng.integers(len(CN_PROVINCES))]
    letter = _CN_LETTERS[rng.integers(len(_CN_LETTERS))]
    if kind == "green":
        tail = (
            "DF"[rng.integers(2)] + _cn_serial(rng, 5)
            if rng.random() < 0.7
            else "".join(DIGITS[rng.integers(10)] for _ in range(5)) + "DF"[rng.integers(2)]
        )
        return prov + letter + tail, kind
    if kind == "hkmo":
        return "粤Z" + _cn_serial(rng, 4) + "港澳"[rng.integers(2)], kind
    if kind in ("police", "coach", "trailer"):
        return prov + letter + _cn_serial(rng, 4) + {"police": "警", "coach": "学", "trailer": "挂"}[
            kind
        ], kind
    return prov + letter + _cn_serial(rng, 5), kind


def _cn_font(fonts: _Fonts, ch: str, rng: np.random.Generator) -> str:
    if ch in CN_CHARSET:
        return fonts.cjk[rng.integers(len(fonts.cjk))]
    choices = fonts.din + fonts.extra[1:2]
    return choices[rng.integers(len(choices))]


def _render_cn(rng: np.random.Generator, text: str, kind: str, fonts: _Fonts) -> tuple[Image.Image, bool]:
    two_rows = kind in ("yellow2", "trailer")
    w, h = (440, 220) if two_rows else ((480, 140) if kind == "green" else (440, 140))
    red = (200, 20, 20)
    fg, bg = (15, 15, 15), (240, 240, 240)
    if kind == "blue":
        bg, fg = _colour(rng, (10, 65, 180), 20), _colour(rng, (245, 245, 245), 8)
    elif kind in ("yellow", "yellow2", "coach", "trailer"):
        bg = _colour(rng, (240, 185, 10), 18)
    elif kind == "hkmo":
        bg, fg = _colour(rng, (15, 15, 15), 8), _colour(rng, (245, 245, 245), 8)
    img = Image.new("RGB", (w, h), bg)
    if kind == "green":  # white at the top fading to green at the bottom
        t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None] ** rng.uniform(0.8, 1.6)
        top = np.array(_colour(rng, (240, 248, 240), 8), np.float32)
        bot = np.array(_colour(rng, (80, 190, 90), 25), np.float32)
        img = Image.fromarray((top * (1 - t) + bot * t).repeat(w, axis=1).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    inset = int(rng.integers(4, 9))
    draw.rounded_rectangle(
        (inset, inset, w - 1 - inset, h - 1 - inset), radius=10, outline=fg, width=int(rng.integers(2, 5))
    )
    colours = [fg] * len(text)
    if kind == "police":
        colours[-1] = red
    if two_rows:  # top row: province + letter (small, centred); bottom row: the rest (large)
        slots = [(110, 18, 190, 78), (250, 18, 330, 78)]
        n = len(text) - 2
        cw, gap = 65, (w - 40 - 65 * n) / max(1, n - 1)
        slots += [(int(20 + k * (cw + gap)), 92, int(20 + k * (cw + gap) + cw), 200) for k in range(n)]
    else:
        n, cw = len(text), 45 if kind != "green" else 43
        gap = 12 if kind != "green" else 9
        sep = 34 if kind != "green" else 28  # the gap (with a dot) after the first two characters
        x = (w - (n * cw + (n - 2) * gap + sep)) / 2
        slots = []
        for k in range(n):
            slots.append((int(x), 25, int(x + cw), 115))
            x += cw + (sep if k == 1 else gap)
        dot_x = slots[1][2] + sep // 2
        draw.ellipse((dot_x - 5, h // 2 - 5, dot_x + 5, h // 2 + 5), fill=fg)
    for ch, box, col in zip(text, slots, colours, strict=True):
        _paste_text(img, ch, _cn_font(fonts, ch, rng), box, col, rng)
    if rng.random() < 0.5:
        _bolts(draw, w, h, rng)
    return img, two_rows


def _cn_kind(text: str, rng: np.random.Generator) -> str:
    last = text[-1]
    special = {"警": "police", "学": "coach", "挂": "trailer", "港": "hkmo", "澳": "hkmo"}
    if last in special:
        return special[last]
    if len(text) == 8:
        return "green"
    r = rng.random()
    return "blue" if r < 0.75 else ("yellow" if r < 0.88 else "yellow2")


def _render_cn_plate(
    rng: np.random.Generator, text: str | None, fonts: _Fonts, two_line: bool | None = None
) -> SynthPlate:
    if not fonts.cjk:
        raise FontsMissingError(
            "plate fonts: expected a CJK font (fonts-wqy-microhei or fonts-noto-cjk) for Chinese plates, "
            "got none; install with: apt-get install -y fonts-wqy-microhei"
        )
    if text is None:
        label, kind = random_cn_text(rng)
    else:
        label = _label(text)
        if len(label) < 6 or label[0] not in CN_CHARSET:
            raise ValueError(f"text: expected a Chinese plate (province character + 5-7), got {text!r}")
        kind = _cn_kind(label, rng)
    if two_line is not None and two_line != (kind in ("yellow2", "trailer")):
        if two_line and len(label) == 7:  # two rows: trailer layout for 挂 plates, else yellow two-row
            kind = "trailer" if label.endswith("挂") else "yellow2"
        elif not two_line:
            kind = "yellow" if kind == "yellow2" else ("coach" if label.endswith("挂") else kind)
    img, two_rows = _render_cn(rng, label, kind, fonts)
    return SynthPlate(
        image=np.asarray(img, dtype=np.uint8).copy(),
        text=label,
        region="CN",
        two_line=two_rows,
        layout=f"cn-{kind}",
    )


def render_plate(
    rng: np.random.Generator,
    region: str | None = None,
    text: str | None = None,
    two_line: bool | None = None,
) -> SynthPlate:
    """Render one synthetic plate.

    Args:
        rng: the random generator (the only source of randomness, so a seed reproduces a plate).
        region: ``"US"``, ``"EU"``, ``"BR"``, ``"CN"`` (case-insensitive) or None for a random one
            (``"CN"`` only where a CJK font is installed).
        text: the plate text; separators (``-`` and spaces) are drawn but dropped from the label. None
            draws a random text in the region's formats. For ``"BR"``, a letter in the 5th place
            (``AAA9A99``) selects the Mercosur layout, otherwise the old grey one.
        two_line: force a two-row (True) or one-row (False) layout; None = about 15 % two-row
            (Chinese 8-character new-energy plates are always one row).

    Returns:
        A :class:`SynthPlate` whose ``image`` is uint8 (H, W, 3) RGB: about 300x150 (US), 520x112 (EU),
        400x130 (BR) for one line and a near-square plate for two lines (~15 % of random plates).

    Raises:
        ValueError: unknown region, or a ``text`` with no letter or digit.
        FontsMissingError: the Debian font packages are missing.
    """
    fonts = find_fonts()
    usable = REGIONS if fonts.cjk else REGIONS[:3]
    reg = usable[rng.integers(len(usable))] if region is None else region.upper()
    if reg not in REGIONS:
        raise ValueError(f"region: expected one of {REGIONS} or None, got {region!r}")
    if reg == "CN":
        return _render_cn_plate(rng, text, fonts, two_line)
    shown = random_text(rng, reg) if text is None else text.upper()
    label = _label(shown)
    if not label:
        raise ValueError(f"text: expected at least one letter or digit, got {text!r}")
    if two_line is None:
        two_line = bool(rng.random() < 0.15)
    if reg == "US":
        img, layout = _render_us(rng, shown, two_line, fonts), "us"
    elif reg == "EU":
        img, layout = _render_eu(rng, shown, two_line, fonts), "eu"
    else:
        if len(label) < 4:
            raise ValueError(f"text: expected at least 4 characters for a BR plate, got {text!r}")
        is_merc = len(label) > 4 and label[4].isalpha()
        img = _render_br(rng, label[:3] + ("" if is_merc else "-") + label[3:], two_line, fonts, is_merc)
        layout = "br-mercosur" if is_merc else "br-old"
    return SynthPlate(
        image=np.asarray(img, dtype=np.uint8).copy(), text=label, region=reg, two_line=two_line, layout=layout
    )
