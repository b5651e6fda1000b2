"""``alpr._retry.call_with_retries``: retries only the named error, gives up after ``attempts``, and
a stop event ends a wait at once."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from alpr._retry import Interrupted, call_with_retries


def _flaky(failures: int, exc: type[Exception] = OSError) -> Any:
    calls = {"n": 0}

    def fn() -> int:
        calls["n"] += 1
        if calls["n"] <= failures:
            raise exc(f"failure {calls['n']}")
        return calls["n"]

    fn.calls = calls  # type: ignore[attr-defined]
    return fn


def test_retries_until_it_works_and_logs_each_wait() -> None:
    logged: list[tuple[Any, ...]] = []
    fn = _flaky(3)
    got = call_with_retries(
        fn, on=OSError, stop_event=threading.Event(), first=0.001, most=0.004,
        log=lambda *a, **k: logged.append(a), what="%s; retrying in %.3fs",
    )  # fmt: skip
    assert got == 4
    assert [str(a[1]) for a in logged] == ["failure 1", "failure 2", "failure 3"]
    assert [a[2] for a in logged] == [0.001, 0.002, 0.004]  # doubling, capped at `most`


def test_gives_up_after_attempts_with_the_last_error() -> None:
    fn = _flaky(10)
    with pytest.raises(OSError, match="failure 3"):
        call_with_retries(
            fn, on=OSError, stop_event=threading.Event(), first=0.001, most=0.001, attempts=3,
            log=lambda *a, **k: None, what="",
        )  # fmt: skip
    assert fn.calls["n"] == 3


def test_other_errors_are_not_retried() -> None:
    fn = _flaky(1, ValueError)
    with pytest.raises(ValueError):
        call_with_retries(
            fn, on=OSError, stop_event=threading.Event(), first=0.001, most=0.001,
            log=lambda *a, **k: None, what="",
        )  # fmt: skip
    assert fn.calls["n"] == 1


def test_stop_event_interrupts_a_long_wait() -> None:
    stop = threading.Event()
    threading.Timer(0.1, stop.set).start()
    t0 = time.monotonic()
    with pytest.raises(Interrupted):
        call_with_retries(
            _flaky(10), on=OSError, stop_event=stop, first=30.0, most=30.0,
            log=lambda *a, **k: None, what="",
        )  # fmt: skip
    assert time.monotonic() - t0 < 10
