"""Synthetic licence plates, one or two lines.

Layouts: US, EU, Brazilian (old grey and Mercosur) and mainland Chinese.

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

import numpy as np

from alpr.train.synth._draw import FontsMissingError, SynthPlate, _label, find_fonts
from alpr.train.synth.cn import CN_CHARSET, _render_cn_plate, random_cn_text
from alpr.train.synth.latin import _render_br, _render_eu, _render_us, random_text
from alpr.train.synth.us_styles import pick_us_style, state_text

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

_STATE_STYLE_SHARE = 0.6
"""Share of random US plates drawn in a state's own formats, name and colours (the rest mix random
formats, names and colours, as vanity and specialty plates do)."""


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
    style = None
    if reg == "US" and text is None and rng.random() < _STATE_STYLE_SHARE:
        style = pick_us_style(rng)
        shown = state_text(rng, style)
    else:
        shown = random_text(rng, reg) if text is None else text.upper()
    label = _label(shown)
    if not label:
        raise ValueError(f"text: expected at least one letter or digit, got {text!r}")
    if two_line is None:
        two_line = bool(rng.random() < 0.15)
    if reg == "US":
        img, layout = _render_us(rng, shown, two_line, fonts, style), "us" if style is None else style.code
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
