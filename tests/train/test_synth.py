"""The synthetic plate renderer: requested text and layout, determinism, clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PIL")
synth = pytest.importorskip("alpr.train.synth")

try:
    synth.find_fonts()
except synth.FontsMissingError:  # pragma: no cover - CI installs them (scripts/system-deps.sh)
    pytest.skip(
        "plate fonts not installed (apt-get install fonts-roadgeek fonts-opendin)", allow_module_level=True
    )


@pytest.mark.parametrize(
    ("region", "text", "label", "layout"),
    [
        ("US", "ABC-1234", "ABC1234", "us"),
        ("us", "7XYZ123", "7XYZ123", "us"),
        ("EU", "AB-123-CD", "AB123CD", "eu"),
        ("BR", "ABC1234", "ABC1234", "br-old"),
        ("BR", "ABC1D23", "ABC1D23", "br-mercosur"),
    ],
)
def test_requested_text_and_layout(region: str, text: str, label: str, layout: str) -> None:
    for seed in range(6):
        plate = synth.render_plate(np.random.default_rng(seed), region, text)
        assert plate.text == label
        assert plate.region == region.upper()
        assert plate.layout == layout
        img = plate.image
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
        assert img.flags.c_contiguous
        h, w = img.shape[:2]
        # One-line plates are wide, two-line (motorcycle / square) plates are near-square.
        assert (w / h < 1.6) if plate.two_line else (w / h > 1.8)
        # Something is drawn: the plate is not a flat colour.
        assert img.std() > 20


def test_random_plates_cover_every_region_and_both_layouts() -> None:
    rng = np.random.default_rng(1)
    plates = [synth.render_plate(rng) for _ in range(120)]
    assert {p.region for p in plates} == set(synth.REGIONS)
    assert any(p.two_line for p in plates) and not all(p.two_line for p in plates)
    assert {p.layout for p in plates if p.region == "BR"} == {"br-old", "br-mercosur"}
    for p in plates:
        assert (p.text.isalnum() and p.text.isupper()) or p.text.isdigit()
        assert 4 <= len(p.text) <= 8


def test_same_seed_same_plate() -> None:
    a = synth.render_plate(np.random.default_rng(42), "EU")
    b = synth.render_plate(np.random.default_rng(42), "EU")
    c = synth.render_plate(np.random.default_rng(43), "EU")
    assert a.text == b.text and np.array_equal(a.image, b.image)
    assert a.text != c.text or not np.array_equal(a.image, c.image)


def test_two_line_plate_has_ink_in_both_rows() -> None:
    # A two-line plate has ink in its upper and lower halves (both lines drawn).
    rng = np.random.default_rng(0)
    plate = next(p for p in (synth.render_plate(rng, "BR", "ABC1234") for _ in range(200)) if p.two_line)
    gray = plate.image.mean(axis=2)
    h = gray.shape[0]
    upper, lower = gray[int(h * 0.3) : int(h * 0.55)], gray[int(h * 0.6) : int(h * 0.9)]
    assert (upper < 100).mean() > 0.05 and (lower < 100).mean() > 0.05


@pytest.mark.parametrize(("region", "text"), [("XX", None), ("US", "--"), ("BR", "AB")])
def test_bad_arguments_raise(region: str, text: str | None) -> None:
    with pytest.raises(ValueError, match="expected"):
        synth.render_plate(np.random.default_rng(0), region, text)


def test_missing_fonts_error_names_the_packages(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from alpr.train.synth import _draw

    monkeypatch.setattr(_draw, "_font_dirs", lambda: [tmp_path])
    synth.find_fonts.cache_clear()
    try:
        with pytest.raises(synth.FontsMissingError, match="fonts-roadgeek and fonts-opendin"):
            synth.render_plate(np.random.default_rng(0), "US")
    finally:
        synth.find_fonts.cache_clear()


@pytest.mark.skipif(not synth.find_fonts().cjk, reason="no CJK font (apt-get install fonts-wqy-microhei)")
def test_chinese_plates_layouts_and_texts() -> None:
    rng = np.random.default_rng(3)
    plates = [synth.render_plate(rng, "CN") for _ in range(200)]
    layouts = {p.layout for p in plates}
    assert {"cn-blue", "cn-green", "cn-yellow2"} <= layouts
    for p in plates:
        assert p.region == "CN" and p.text[0] in synth.CN_CHARSET
        assert len(p.text) == (8 if p.layout == "cn-green" else 7)
        assert p.two_line == (p.layout in ("cn-yellow2", "cn-trailer"))
        assert all(ch.isascii() for ch in p.text[1:-1])  # only the first and last may be Chinese
        assert "I" not in p.text[2:] and "O" not in p.text[2:]  # serials avoid I and O
    # requested texts pick the layout their last character implies
    for text, layout in [("皖A1234学", "cn-coach"), ("京A1234警", "cn-police"), ("粤ZA123港", "cn-hkmo"),
                         ("沪AD12345", "cn-green")]:  # fmt: skip
        p = synth.render_plate(np.random.default_rng(0), "CN", text)
        assert (p.text, p.layout) == (text, layout) and p.image.std() > 20
    with pytest.raises(ValueError, match="Chinese plate"):
        synth.render_plate(np.random.default_rng(0), "CN", "ABC123")


def test_chinese_two_row_plates_are_kinds_issued_in_two_rows() -> None:
    """Forced two-row Chinese plates are large-vehicle yellow or trailer (挂) plates, never a police,
    coach, Hong Kong / Macau or new-energy plate squeezed into two rows."""
    if not synth.find_fonts().cjk:
        pytest.skip("no CJK font installed")
    rng = np.random.default_rng(11)
    plates = [synth.render_plate(rng, "CN", two_line=True) for _ in range(60)]
    assert {p.layout for p in plates} <= {"cn-yellow2", "cn-trailer"}
    assert all(p.two_line for p in plates)
    assert not any(p.text[-1] in "警学港澳" for p in plates)
    assert any(p.text.endswith("挂") for p in plates) and any(not p.text.endswith("挂") for p in plates)
