"""The one timestamp format of events, tracks and the store.

ISO 8601 UTC with milliseconds and ``Z`` (``2026-12-03T07:31:10.250Z``), with a four-digit year (strftime
writes year 999 as ``999``).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

__all__ = ["format_utc", "ms_to_iso", "parse_utc", "posix_to_iso"]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def format_utc(value: datetime) -> str:
    """A timezone-aware ``datetime`` as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (UTC, milliseconds truncated).

    Raises:
        ValueError: ``value`` is naive, or not representable in UTC.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"expected a timezone-aware datetime, got a naive one ({value.isoformat()})")
    try:
        utc = value.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError(f"expected a time representable in UTC, got {value.isoformat()}") from None
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}"
        f".{utc.microsecond // 1000:03d}Z"
    )


def posix_to_iso(ts: float) -> str:
    """A POSIX timestamp (seconds) in the format of :func:`format_utc`."""
    return format_utc(datetime.fromtimestamp(ts, tz=timezone.utc))


def ms_to_iso(ms: int) -> str:
    """Unix milliseconds in the format of :func:`format_utc` (exact: no float round trip)."""
    return format_utc(_EPOCH + timedelta(milliseconds=int(ms)))


def parse_utc(value: str) -> datetime:
    """ISO 8601 (``...Z``, ``z`` or an offset; naive means UTC) to a timezone-aware ``datetime``.

    Raises:
        ValueError: not ISO 8601.
    """
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value  # 3.10 rejects "Z"
    dt = datetime.fromisoformat(text)
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=timezone.utc)
