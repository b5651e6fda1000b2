"""Mainland Chinese plates: fixed character slots, province character first."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from alpr.train.synth._draw import (
    DIGITS,
    FontsMissingError,
    SynthPlate,
    _bolts,
    _colour,
    _Fonts,
    _label,
    _paste_text,
)

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
    """A random mainland plate ``(text, kind)``; ``kind`` is the layout.

    Layouts: ``blue``, ``yellow``, ``yellow2`` (two rows), ``green`` (new energy, 8 characters), ``police``,
    ``coach`` (学), ``trailer`` (挂, two rows), ``hkmo`` (粤Z...港/澳).
    """
    kinds = ("blue", "yellow", "yellow2", "green", "police", "coach", "trailer", "hkmo")
    kind = kinds[int(rng.choice(len(kinds), p=[0.42, 0.08, 0.16, 0.16, 0.05, 0.05, 0.05, 0.03]))]
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
        # Asked for two rows, draw a plate that has two rows in reality (large-vehicle yellow, trailer):
        # a police, coach, Hong Kong / Macau or new-energy plate is never issued in two rows.
        while two_line and kind not in ("blue", "yellow", "yellow2", "trailer"):
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
