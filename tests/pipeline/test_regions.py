from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alpr import ops
from alpr.errors import ConfigError
from alpr.regions import CONFUSABLES, PlateFormat, RegionSet, builtin_regions, load_region_file, parse_pattern

LATIN = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def test_builtin_regions_load() -> None:
    regions = builtin_regions()
    assert {"us", "eu", "br", "cn"} <= set(regions)
    ids = {f.id for fmts in regions.values() for f in fmts}
    assert {"br-old", "br-mercosur", "us-ca", "us-ny", "eu-de", "eu-fr", "cn-standard"} <= ids


def test_parse_pattern() -> None:
    sets = parse_pattern("L9*[A-CX]\\L-")
    assert len(sets) == 6
    assert "Q" in sets[0] and "5" in sets[1] and {"Q", "5"} <= sets[2]
    assert sets[3] == frozenset("ABCX") and sets[4] == frozenset("L") and sets[5] == frozenset("-")
    for bad in ["[AB", "\\", "[Z-A]", "", "[]"]:
        with pytest.raises(ConfigError):
            parse_pattern(bad)


def test_brazil_formats() -> None:
    br = RegionSet.from_names(["br"], charset=LATIN)
    assert br.match("ABC1234") == "br-old"
    assert br.match("ABC1D23") == "br-mercosur"
    assert br.match("AB1234") is None
    # An O read where Mercosur needs a digit after the 4th letter... each format decides its own positions
    assert br.resolve("A8C1234") == ("ABC1234", "br-old")
    assert br.resolve("ABC1O23") == ("ABC1O23", "br-mercosur")  # O is a letter slot in Mercosur: kept
    assert br.resolve("ABCIO23") == ("ABC1O23", "br-mercosur")
    assert br.resolve("ABCIOZ3") == ("ABC1O23", "br-mercosur")
    assert br.resolve("XYZ") == ("XYZ", None)


def test_confusables_resolved_only_where_the_format_decides() -> None:
    # Spain: 4 digits then 3 consonants; "S" in a digit slot becomes 5, "0" in a letter slot is not fixed
    # because O is not a Spanish consonant.
    es = RegionSet([PlateFormat("es", "Spain", "eu", ("9999[BCDFGHJKLMNPRSTVWXYZ][BCDFGHJKLMNPRSTVWXYZ]L",))])
    assert es.resolve("12S4BCD") == ("1254BCD", "es")
    assert es.resolve("12340CD") == ("12340CD", None)
    assert es.resolve("1234BC0") == ("1234BCO", "es")


def test_charset_filters_patterns() -> None:
    latin = RegionSet.from_names(["cn"], charset=LATIN)
    assert len(latin) == 0
    cn = RegionSet.from_names(["cn"], charset=LATIN + "京沪粤")
    assert cn.match("京A12345") == "cn-standard"
    assert cn.match("沪AD12345") == "cn-new-energy"


def test_unknown_region() -> None:
    with pytest.raises(ConfigError, match=r"unknown region or format 'xx'.*br"):
        RegionSet.from_names(["xx"])


def test_add_a_country(tmp_path: Path) -> None:
    f = tmp_path / "ch.toml"
    f.write_text(
        'region = "ch"\nname = "Switzerland"\n[[formats]]\nid = "ch-car"\nname = "car"\n'
        'patterns = ["[A-Z][A-Z]9", "[A-Z][A-Z]99", "[A-Z][A-Z]999", "[A-Z][A-Z]9999", "[A-Z][A-Z]99999", '
        '"[A-Z][A-Z]999999"]\n'
    )
    only = RegionSet.from_names([], extra_files=[f])
    assert only.match("ZH123456") == "ch-car" and only.match("ZH1234567") is None
    mixed = RegionSet.from_names(["ch", "br"], extra_files=[f])
    assert mixed.match("BE12345") == "ch-car" and mixed.match("ABC1D23") == "br-mercosur"
    bad = tmp_path / "bad.toml"
    bad.write_text('region = "x"\n[[formats]]\nid = "x"\npatterns = ["[AB"]\n')
    with pytest.raises(ConfigError, match=r"bad\.toml.*expected ']' to close"):
        load_region_file(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_region_file(tmp_path / "missing.toml")


def test_patterns_work_with_constrained_decoding() -> None:
    """Every built-in Latin pattern is accepted by the native constrained decoder."""
    rs = RegionSet.from_names(["us", "eu", "br"], charset=LATIN)
    assert len(rs.patterns) == len(set(rs.patterns))
    probs = np.full((1, 16, len(LATIN) + 1), 0.01, np.float32)
    probs[0, :, 0] = 0.6
    for i, ch in enumerate("A8C1234"):  # 8 read where the formats need a letter
        probs[0, 2 * i + 1, 0] = 0.01
        probs[0, 2 * i + 1, LATIN.index(ch) + 1] = 0.6
        probs[0, 2 * i + 1, LATIN.index("B") + 1] = 0.3 if ch == "8" else 0.01
    pats = list(rs.patterns)
    best: tuple[float, str, int] = (-np.inf, "", -1)
    for start in range(0, len(pats), 64):  # the native decoder takes 64 patterns per call
        ((text, confs, idx),) = ops.ctc_decode_constrained(probs, LATIN, pats[start : start + 64], 0)
        if idx >= 0 and float(np.log(confs).sum()) > best[0]:
            best = (float(np.log(confs).sum()), text, start + idx)
    _, text, idx = best
    assert text == "ABC1234" and rs.match(text) == rs.owner(idx)
    for pat in rs.patterns:
        ops.ctc_decode_constrained(probs, LATIN, [pat], 0, beam_width=2)  # every pattern parses natively


@given(st.text(alphabet=LATIN, min_size=1, max_size=9))
def test_resolve_returns_a_match_or_the_input(text: str) -> None:
    rs = RegionSet.from_names(["us", "eu", "br"], charset=LATIN)
    fixed, fmt = rs.resolve(text)
    if fmt is None:
        assert fixed == text
    else:
        assert rs.match(fixed) is not None and len(fixed) == len(text)
        assert all(a == b or CONFUSABLES.get(a) == b for a, b in zip(text, fixed, strict=True))


def test_escapes_inside_classes_are_literals() -> None:
    # (these two once parsed differently in Python and in the native decoder)
    assert parse_pattern("[A\\-Z]") == [frozenset("A-Z")]  # A, a dash, Z: not the range A..Z
    assert parse_pattern("[\\]A]") == [frozenset("]A")]  # one position


_PATTERN = st.lists(
    st.sampled_from(["L", "9", "*", "A", "B", "7", "[A-C]", "[A\\-C]", "[\\]B]", "\\L", "-", "[0-3X]"]),
    min_size=1,
    max_size=7,
).map("".join)


@given(pattern=_PATTERN, text=st.text(alphabet="ABCLX0137-]", min_size=1, max_size=7))
def test_matcher_and_constrained_decoder_agree(pattern: str, text: str) -> None:
    """The format matcher accepts a text exactly when the constrained decoder, given probabilities that
    spell that text, returns it under the same pattern."""
    charset = "0123456789ABCLX-]"
    rs = RegionSet([PlateFormat("t", "t", "t", (pattern,))], charset=charset)
    matched = rs.match(text) is not None
    probs = np.full((1, 16, len(charset) + 1), 1e-4, np.float32)
    probs[0, :, 0] = 0.9
    for i, ch in enumerate(text):
        probs[0, 2 * i + 1, 0] = 1e-4
        probs[0, 2 * i + 1, charset.index(ch) + 1] = 0.9
    if not rs.patterns:  # the charset cannot spell the pattern: nothing to decode
        assert not matched
        return
    ((out, _c, idx),) = ops.ctc_decode_constrained(probs, charset, list(rs.patterns), 0, beam_width=20)
    assert matched == (idx == 0 and out == text)
