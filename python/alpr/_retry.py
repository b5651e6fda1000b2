"""Retries with exponential backoff that a ``threading.Event`` can interrupt (tenacity underneath).

Used by camera reconnects (``alpr.sources``) and the bridge's store writes (``alpr.bridge.service``)::

    try:
        value = call_with_retries(fn, on=SourceError, stop_event=stop, first=0.5, most=10.0,
                                  attempts=None, log=log.warning, what="%s; retrying in %.1fs")
    except Interrupted:
        ...  # ``stop_event`` was set while waiting
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

import tenacity

__all__ = ["Interrupted", "call_with_retries"]

T = TypeVar("T")


class Interrupted(Exception):
    """The stop event was set during a wait between attempts."""


def call_with_retries(  # noqa: PLR0913 (keyword-only retry policy; both callers name every option)
    fn: Callable[[], T],
    *,
    on: type[BaseException] | tuple[type[BaseException], ...],
    stop_event: threading.Event,
    first: float,
    most: float,
    attempts: int | None = None,
    log: Callable[..., Any],
    what: str,
) -> T:
    """Call ``fn`` until it returns; retry on ``on`` after ``first`` s doubling to ``most`` s.

    Args:
        fn: the call to make (no arguments).
        on: the exception type(s) that trigger a retry; any other error propagates at once.
        stop_event: set it to end a wait early (raises :class:`Interrupted`).
        first: the first wait, in seconds.
        most: the longest wait, in seconds.
        attempts: give up after this many calls (None: never) and re-raise the last error.
        log: called before each wait as ``log(what, error, seconds, exc_info=error)``.
        what: the name of the operation, passed to ``log``.

    Returns:
        What ``fn`` returned.

    Raises:
        Interrupted: ``stop_event`` was set while waiting.
    """

    def sleep(seconds: float) -> None:
        if stop_event.wait(seconds):
            raise Interrupted

    def note(state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        log(what, exc, state.next_action.sleep if state.next_action is not None else 0.0, exc_info=exc)

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(on),
        stop=tenacity.stop_never if attempts is None else tenacity.stop_after_attempt(attempts),
        wait=tenacity.wait_exponential(multiplier=first, max=most),
        sleep=sleep,
        before_sleep=note,
        reraise=True,
    )
    return retrying(fn)
