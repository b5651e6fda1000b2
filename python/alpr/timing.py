"""Per-stage wall-time accounting shared by the detector, the recognizers and the runner."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["StageTimes"]


class StageTimes:
    """Thread-safe accumulated wall time and call counts per named stage."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the ``with`` body under ``name``."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            dt = time.perf_counter() - t0
            with self._lock:
                self.seconds[name] = self.seconds.get(name, 0.0) + dt
                self.calls[name] = self.calls.get(name, 0) + 1

    def add(self, name: str, seconds: float) -> None:
        """Add ``seconds`` to ``name`` (one call)."""
        with self._lock:
            self.seconds[name] = self.seconds.get(name, 0.0) + seconds
            self.calls[name] = self.calls.get(name, 0) + 1

    def reset(self) -> None:
        """Forget everything."""
        with self._lock:
            self.seconds.clear()
            self.calls.clear()

    def snapshot(self) -> dict[str, tuple[float, int]]:
        """``{stage: (total seconds, calls)}``."""
        with self._lock:
            return {k: (v, self.calls[k]) for k, v in self.seconds.items()}
