"""Per-state US plate styles: every state and DC drawn, texts in the state's own formats."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PIL")

from alpr.regions import PlateFormat, RegionSet, builtin_regions
from alpr.train import synth
from alpr.train.synth.us_styles import _all_styles, pick_us_style, state_text


def test_every_state_has_a_style_with_its_own_patterns() -> None:
    formats = {f.id: f for f in builtin_regions()["us"]}
    styles = {s.code: s for s in _all_styles()}
    assert set(styles) == set(formats)
    for code, style in styles.items():
        assert style.patterns, code
        assert set(style.patterns) <= set(formats[code].patterns)
        assert style.name


def test_state_text_fits_that_state_format_only_by_its_patterns() -> None:
    rng = np.random.default_rng(3)
    for style in _all_styles():
        own = RegionSet([PlateFormat(style.code, style.name, "us", style.patterns)])
        for _ in range(20):
            text = state_text(rng, style)
            label = text.replace("-", "").replace(" ", "")
            assert own.match(label) == style.code, (style.code, text)
            assert not text.startswith(("-", " ")) and not text.endswith(("-", " "))


def test_styles_drawn_cover_the_states_big_ones_more_often() -> None:
    rng = np.random.default_rng(0)
    codes = [pick_us_style(rng).code for _ in range(6000)]
    counts = {c: codes.count(c) for c in set(codes)}
    assert len(counts) == len(_all_styles())  # every state and DC appears
    assert counts["us-ca"] > counts["us-wy"]


def test_random_us_plates_mix_state_styles_and_free_layouts() -> None:
    rng = np.random.default_rng(5)
    plates = [synth.render_plate(rng, "US") for _ in range(60)]
    layouts = {p.layout for p in plates}
    assert "us" in layouts and len(layouts - {"us"}) >= 10
    for p in plates:
        assert (p.text.isalnum() and p.text.isupper()) or p.text.isdigit()
        assert p.image.dtype == np.uint8 and p.image.std() > 10
