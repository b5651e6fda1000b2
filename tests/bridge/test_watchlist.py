from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alpr.bridge.watchlist import CONFUSABLE_COST, WatchEntry, Watchlist, plate_distance

plates = st.text(alphabet="ABCDEGIOQSZ0125689", max_size=9)


@pytest.mark.parametrize(
    ("a", "b", "want"),
    [
        ("AB123", "AB123", 0.0),
        ("AB0123", "ABO123", CONFUSABLE_COST),  # O/0
        ("1B8S", "IBBS", 2 * CONFUSABLE_COST),  # 1/I, 8/B
        ("Z2G6", "22G6", CONFUSABLE_COST),
        ("D0Q", "00Q", CONFUSABLE_COST),
        ("Q0", "QQ", CONFUSABLE_COST),
        ("AB123", "AX123", 1.0),  # not confusable
        ("AB123", "AB12", 1.0),  # deletion
        ("AB123", "XAB123", 1.0),  # insertion
        ("", "ABC", 3.0),
    ],
)
def test_distance_table(a: str, b: str, want: float) -> None:
    assert plate_distance(a, b) == pytest.approx(want)


@given(plates, plates)
def test_distance_is_a_symmetric_premetric(a: str, b: str) -> None:
    d = plate_distance(a, b)
    assert d == pytest.approx(plate_distance(b, a))
    assert (d == 0) == (a == b)
    assert d <= max(len(a), len(b))


@given(plates, plates, plates)
def test_triangle_inequality(a: str, b: str, c: str) -> None:
    assert plate_distance(a, c) <= plate_distance(a, b) + plate_distance(b, c) + 1e-9


@given(plates, plates)
def test_limit_never_changes_the_verdict(a: str, b: str) -> None:
    full = plate_distance(a, b)
    limited = plate_distance(a, b, limit=1.0)
    assert (full <= 1.0) == (limited <= 1.0)
    if full <= 1.0:
        assert limited == pytest.approx(full)


def test_matching_kinds_cameras_and_expiry() -> None:
    wl = Watchlist(
        [
            WatchEntry(1, "AB123", "exact", "stolen"),
            WatchEntry(2, "XY*", "wildcard", "fleet"),
            WatchEntry(3, "K?9", "wildcard", "vip"),
            WatchEntry(4, "ZZ1000", "fuzzy", "permit", max_distance=0.5),
            WatchEntry(5, "OLD1", "exact", "expired", expires_ms=1_000),
            WatchEntry(6, "CAM1", "exact", "gate only", cameras=("gate",)),
        ]
    )
    assert len(wl) == 6
    assert [m.entry.id for m in wl.match("ab-123", now_ms=0)] == [1]
    assert [m.entry.id for m in wl.match("XY99", now_ms=0)] == [2]
    assert [m.entry.id for m in wl.match("KA9")] == [3]
    assert wl.match("KAA9") == []
    hit = wl.match("2Z1O00")  # Z->2 and 0->O: 0.5
    assert [m.entry.id for m in hit] == [4] and hit[0].distance == pytest.approx(0.5)
    assert wl.match("ZZ1X00") == []  # one real substitution: 1.0 > 0.5
    assert [m.entry.id for m in wl.match("OLD1", now_ms=999)] == [5]
    assert wl.match("OLD1", now_ms=1_000) == []
    assert [m.entry.id for m in wl.match("CAM1", "gate")] == [6]
    assert wl.match("CAM1", "exit") == []


@given(
    st.text(alphabet="ABDGILOQSTUVZ0124678XY", max_size=9),
    st.text(alphabet="ABDGILOQSTUVZ0124678XY", max_size=9),
)
def test_prefilter_is_a_lower_bound(a: str, b: str) -> None:
    from alpr.bridge.watchlist import confusable_skeleton, distance_lower_bound

    assert distance_lower_bound(confusable_skeleton(a), confusable_skeleton(b)) <= plate_distance(a, b) + 1e-9


def test_non_ascii_plates_do_not_collide() -> None:
    from alpr.types import normalize_plate

    assert normalize_plate("ab-12 3") == "AB123"
    assert normalize_plate("MÜ AB 123") == "MÜAB123" != normalize_plate("M AB 123")
    assert normalize_plate("皖A·D5599") == "皖AD5599"  # the province character survives
    assert normalize_plate("ＡＢ１２３") == "AB123"  # full-width forms fold (NFKC)
    wl = Watchlist([WatchEntry(1, "MAB123", "exact", "stolen"), WatchEntry(2, "皖AD5599", "exact", "x")])
    assert wl.match("MÜ AB 123") == []  # was an *exact* hit on M AB 123
    assert [m.entry.id for m in wl.match("M AB 123")] == [1]
    assert [m.entry.id for m in wl.match("皖AD5599")] == [2] and wl.match("苏AD5599") == []
