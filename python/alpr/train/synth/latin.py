"""US, EU and Brazilian (old grey and Mercosur) plates."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from alpr.train.synth._draw import (
    DIGITS,
    LETTERS,
    _bolts,
    _colour,
    _Fonts,
    _label,
    _paste_text,
    _small_text,
    _split_two_lines,
    _sticker,
)
from alpr.train.synth.cn import random_cn_text
from alpr.train.synth.us_styles import UsStyle

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
    "ALABAMA", "ALASKA", "ARIZONA", "ARKANSAS", "CALIFORNIA", "COLORADO", "Connecticut", "DELAWARE",
    "FLORIDA", "Georgia", "Hawaii", "IDAHO", "ILLINOIS", "INDIANA", "IOWA", "KANSAS", "Kentucky",
    "LOUISIANA", "MAINE", "MARYLAND", "MASSACHUSETTS", "Michigan", "MINNESOTA", "MISSISSIPPI", "MISSOURI",
    "MONTANA", "NEBRASKA", "NEVADA", "NEW HAMPSHIRE", "New Jersey", "NEW MEXICO", "NEW YORK",
    "NORTH CAROLINA", "NORTH DAKOTA", "Ohio", "OKLAHOMA", "OREGON", "PENNSYLVANIA", "RHODE ISLAND",
    "SOUTH CAROLINA", "SOUTH DAKOTA", "TENNESSEE", "TEXAS", "UTAH", "VERMONT", "Virginia", "WASHINGTON",
    "WEST VIRGINIA", "WISCONSIN", "WYOMING", "DISTRICT OF COLUMBIA",
)  # fmt: skip
_US_SLOGANS = (
    "EMPIRE STATE", "Garden State", "visitPA.com", "dmv.ca.gov", "Constitution State", "Sunshine State",
    "The Lone Star State", "TAXI", "Live Free or Die", "Virginia is for Lovers", "LAND OF LINCOLN", "",
    "Heart of Dixie", "The Last Frontier", "Grand Canyon State", "The Natural State", "Colorful Colorado",
    "Peach State", "Aloha State", "Famous Potatoes", "Crossroads of America", "Sunflower State",
    "Sportsman's Paradise", "Vacationland", "Pure Michigan", "10,000 Lakes", "Show Me State",
    "Big Sky Country", "The Good Life", "Silver State", "Land of Enchantment", "First in Flight",
    "Peace Garden State", "Explore Oklahoma", "Ocean State", "Great Faces. Great Places.",
    "The Volunteer State", "Life Elevated", "Green Mountains", "Wild and Wonderful", "America's Dairyland",
    "Taxation Without Representation", "Evergreen State", "COUNTY", "",
)  # fmt: skip
_US_MARKS = ("DV", "HP", "PH", "VET", "ST", "TL", "CMB", "AP", "MC", "DLR", "FARM", "APPORTIONED")
_EU_CODES = ("F", "D", "I", "E", "NL", "B", "RO", "PL", "P", "A", "CZ", "H", "GR", "S")
_BR_CITIES = (
    "SP SAO PAULO", "RJ RIO DE JANEIRO", "MG BELO HORIZONTE", "PR CURITIBA", "RS PORTO ALEGRE",
    "SC FLORIANOPOLIS", "BA SALVADOR", "PE RECIFE", "SP CAMPINAS", "GO GOIANIA",
)  # fmt: skip


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
    raise ValueError(f"region: expected one of ('US', 'EU', 'BR', 'CN'), got {region!r}")


def _us_background(img: Image.Image, rng: np.random.Generator) -> None:
    """Plate art behind the characters, in pale colours (many US plates are not plain white).

    A soft vertical gradient, sky/hills/sun shapes, or diagonal stripes.
    """
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
    """A licence-plate frame: a dark or chrome border, thicker at the bottom.

    The bottom often covers the slogan; sometimes the frame carries a dealer's name.
    """
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


def _render_us(
    rng: np.random.Generator, shown: str, two_line: bool, fonts: _Fonts, style: UsStyle | None = None
) -> Image.Image:
    w, h = (200, 160) if two_line else (300, 150)
    if style is not None:  # a state's own colours, name and slogan
        bg, fg = _colour(rng, style.bg, 12), _colour(rng, style.fg, 15)
        light = sum(bg) > 450
    else:
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
    band_colour = None if style is None else style.band
    if band_colour is not None or (style is None and rng.random() < 0.5):  # coloured bands (NY/PA style)
        band = _colour(rng, band_colour or tuple(int(c) for c in rng.integers(0, 256, 3)), 10)
        draw.rectangle((0, 0, w, int(h * rng.uniform(0.1, 0.2))), fill=band)
        if rng.random() < 0.5:
            draw.rectangle((0, int(h * rng.uniform(0.82, 0.9)), w, h), fill=band)
    small_font = fonts.highway[rng.integers(len(fonts.highway))]
    if style is not None:
        state, slogan, top_fill = style.name, style.slogan, _colour(rng, style.accent, 15)
    else:
        state = _US_STATES[rng.integers(len(_US_STATES))]
        slogan = _US_SLOGANS[rng.integers(len(_US_SLOGANS))]
        top_fill = fg if rng.random() < 0.5 else _colour(rng, (40, 40, 140), 40)
    _small_text(draw, state, small_font, (w // 2, int(h * 0.12)), int(h * rng.uniform(0.11, 0.17)), top_fill)
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
    if not two_line and rng.random() < 0.25:  # plate art beside the characters (a logo, a state shape)
        _plate_art(draw, w, h, rng)
    if not two_line and rng.random() < 0.2:  # small stacked letters (DV, HP, VET...): not the registration
        _stacked_mark(draw, w, h, rng, small_font, fg)
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


def _plate_art(draw: ImageDraw.ImageDraw, w: int, h: int, rng: np.random.Generator) -> None:
    """A small coloured emblem at one end of the plate, where the text leaves a margin.

    Emblems are state outlines, logos, wildlife on specialty plates, between the characters and the edge.
    """
    side = rng.random() < 0.5
    cx = int(w * (0.03 if side else 0.97))
    cy = int(h * rng.uniform(0.35, 0.65))
    r = int(h * rng.uniform(0.05, 0.09))
    col = tuple(int(c) for c in rng.integers(0, 200, 3))
    shape = rng.integers(3)
    if shape == 0:
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=col)
    elif shape == 1:
        draw.polygon([(cx, cy - r), (cx + r, cy + r), (cx - r, cy + r)], fill=col)
    else:
        draw.rectangle((cx - r, cy - r, cx + r, cy + int(r * 0.6)), fill=col)


def _stacked_mark(
    draw: ImageDraw.ImageDraw, w: int, h: int, rng: np.random.Generator, font_path: str, fill: tuple[int, ...]
) -> None:
    """Two or three small letters stacked vertically at one end.

    Disabled-veteran, handicap, vehicle class marks: part of the plate's look, not of its text (the label
    stays the registration).
    """
    mark = _US_MARKS[int(rng.integers(len(_US_MARKS)))][:3]
    x = int(w * (0.035 if rng.random() < 0.5 else 0.965))
    size = int(h * rng.uniform(0.09, 0.13))
    y0 = int(h * 0.5 - len(mark) * size * 0.55)
    for i, ch in enumerate(mark):
        _small_text(draw, ch, font_path, (x, y0 + int(i * size * 1.1)), size, fill)


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
