"""One timestamp format everywhere: ISO 8601 UTC, milliseconds, Z, four-digit years."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from alpr.bridge.store import iso_ms, parse_ts_ms
from alpr.timestamps import format_utc, ms_to_iso, parse_utc, posix_to_iso
from alpr.tracking import iso


def test_one_format_for_events_tracks_and_store() -> None:
    t = datetime(2026, 12, 3, 7, 31, 10, 250_999, tzinfo=timezone.utc)
    want = "2026-12-03T07:31:10.250Z"
    assert format_utc(t) == want
    assert posix_to_iso(t.timestamp()) == iso(t.timestamp()) == want
    ms = round(t.timestamp() * 1000) - 1  # .250999 s truncates to 250 ms
    assert ms_to_iso(ms) == iso_ms(ms) == want
    assert parse_ts_ms(want) == ms and parse_utc(want) == t.replace(microsecond=250_000)


def test_years_before_1000_keep_four_digits() -> None:
    old = datetime(999, 1, 2, 3, 4, 5, 6000, tzinfo=timezone.utc)
    assert format_utc(old) == "0999-01-02T03:04:05.006Z"
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    assert ms_to_iso((old - epoch) // timedelta(milliseconds=1)) == "0999-01-02T03:04:05.006Z"


def test_offsets_naive_and_bad_input() -> None:
    assert parse_utc("2026-12-03T08:31:10+01:00") == datetime(2026, 12, 3, 7, 31, 10, tzinfo=timezone.utc)
    assert parse_utc("2026-12-03T07:31:10") == datetime(2026, 12, 3, 7, 31, 10, tzinfo=timezone.utc)
    assert parse_utc("2026-12-03T07:31:10z").tzinfo is not None
    with pytest.raises(ValueError, match="naive"):
        format_utc(datetime(2026, 1, 1))
    with pytest.raises(ValueError):
        parse_utc("yesterday")
