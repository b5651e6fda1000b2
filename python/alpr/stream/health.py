"""Health of the edge process (``alpr run --health-port``) over HTTP, and the systemd notify protocol.

``GET /health`` (or ``/``) answers JSON: frames, FPS over the last ``window`` seconds, frames dropped by
the sources, reads, the age of the last frame and of the last plate read, per camera. Status is 200 while a
frame arrived within ``stale_after`` seconds, 503 otherwise (so a load balancer or a watchdog can act).

:func:`sd_notify` speaks systemd's ``$NOTIFY_SOCKET`` datagram protocol (``READY=1``, ``WATCHDOG=1``); the
protocol is one ``sendto`` on an ``AF_UNIX`` socket, so no library is needed. Without the variable (not
under systemd) it does nothing.
"""

from __future__ import annotations

import collections
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

__all__ = ["HealthServer", "HealthState", "Watchdog", "sd_notify"]


class HealthState:
    """Thread-safe counters fed by the run loop; ``sources`` are read for frames and drops.

    Args:
        sources: Objects with ``camera``, ``frames``, ``dropped`` (``alpr.sources.Source``).
        window: Seconds over which the FPS is measured.
        stale_after: A frame older than this makes the status ``stale`` (HTTP 503).
        clock: Monotonic time source (tests pass a fake).
    """

    def __init__(
        self, sources: list[Any], *, window: float = 10.0, stale_after: float = 30.0, clock: Any = None
    ) -> None:
        self.sources = sources
        self.window = window
        self.stale_after = stale_after
        self._clock = clock or time.monotonic
        self._lock = threading.Lock()
        self._started = self._clock()
        # Frame times in the last ``window`` seconds, per camera (``None``: frames not tied to a camera).
        self._stamps: dict[str | None, collections.deque[float]] = collections.defaultdict(collections.deque)
        self._frames = 0
        self._reads = 0
        self._events = 0
        self._last_frame: float | None = None
        self._last_read: float | None = None
        self._last_plate: str | None = None

    def observe(
        self,
        *,
        camera: str | None = None,
        frame: bool = True,
        reads: list[Any] | None = None,
        events: int = 0,
    ) -> None:
        """Record one run-loop result of ``camera``.

        ``frame``: whether a frame was processed; ``reads``: its plates (objects with ``.text``); ``events``:
        how many events it emitted.
        """
        now = self._clock()
        with self._lock:
            if frame:
                self._frames += 1
                self._last_frame = now
                self._stamps[camera].append(now)
            self._trim(now)
            if reads:
                self._reads += len(reads)
                self._last_read = now
                self._last_plate = str(getattr(reads[-1], "text", ""))
            self._events += events

    def snapshot(self) -> dict[str, Any]:
        """The health document (see the module docstring)."""
        now = self._clock()
        with self._lock:
            self._trim(now)
            span = self._span(now)
            age = None if self._last_frame is None else now - self._last_frame
            read_age = None if self._last_read is None else now - self._last_read
            doc: dict[str, Any] = {
                "status": "ok" if age is not None and age <= self.stale_after else "stale",
                "uptime_s": round(now - self._started, 3),
                "frames": self._frames,
                "fps": round(sum(map(len, self._stamps.values())) / span, 2),
                "reads": self._reads,
                "events": self._events,
                "last_frame_age_s": None if age is None else round(age, 3),
                "last_read_age_s": None if read_age is None else round(read_age, 3),
                "last_plate": self._last_plate,
            }
        doc["dropped"] = sum(int(getattr(s, "dropped", 0)) for s in self.sources)
        doc["cameras"] = self.cameras(now)
        return doc

    def cameras(self, now: float | None = None) -> dict[str, dict[str, Any]]:
        """Per camera: ``fps``, ``frames`` read and ``dropped`` by its source.

        ``fps`` counts the frames processed over the last ``window`` seconds. This is what ``alpr run`` hands
        to the publisher's heartbeats.
        """
        now = self._clock() if now is None else now
        with self._lock:
            self._trim(now)
            span = self._span(now)
            fps = {cam: len(d) / span for cam, d in self._stamps.items()}
        return {
            str(s.camera): {
                "fps": round(fps.get(str(s.camera), 0.0), 2),
                "frames": int(s.frames),
                "dropped": int(getattr(s, "dropped", 0)),
            }
            for s in self.sources
        }

    def _trim(self, now: float) -> None:
        for d in self._stamps.values():
            while d and d[0] < now - self.window:
                d.popleft()

    def _span(self, now: float) -> float:
        return min(self.window, now - self._started) or 1e-9


class HealthServer:
    """A daemon-thread HTTP server for :class:`HealthState` on ``host:port`` (port 0: any free port)."""

    def __init__(self, state: HealthState, host: str = "127.0.0.1", port: int = 0) -> None:
        outer = state

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] not in ("/", "/health"):
                    self._send(404, {"error": f"no such path {self.path}; try /health"})
                    return
                doc = outer.snapshot()
                self._send(200 if doc["status"] == "ok" else 503, doc)

            def _send(self, code: int, doc: dict[str, Any]) -> None:
                body = orjson.dumps(doc)
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # probes every few seconds would flood the journal

        self._httpd = ThreadingHTTPServer((host, port), Handler)
        self._httpd.daemon_threads = True
        self.port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="alpr-health", daemon=True)

    def start(self) -> HealthServer:
        """Serve in the background."""
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and free the port."""
        self._httpd.shutdown()
        self._httpd.server_close()


def sd_notify(message: str, env: dict[str, str] | None = None) -> bool:
    """Send ``message`` (e.g. ``"READY=1"``, ``"WATCHDOG=1"``) to systemd; False when not under systemd."""
    addr = (env if env is not None else os.environ).get("NOTIFY_SOCKET")
    if not addr:
        return False
    if addr.startswith("@"):  # abstract namespace
        addr = "\0" + addr[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        # Never wait: a reader that does not drain its queue (10 datagrams by default) must not stall
        # the frame loop that pings from here; a ping that cannot be queued is dropped (False).
        sock.setblocking(False)
        try:
            sock.sendto(message.encode(), addr)
        except OSError:
            return False
    return True


class Watchdog:
    """``READY=1`` once, then ``WATCHDOG=1`` at most every ``interval`` s, called per processed frame.

    Pinging from the frame loop (not a timer thread) means a stalled pipeline stops the pings, and
    systemd's ``WatchdogSec`` restarts the service.
    """

    def __init__(self, interval: float = 1.0, env: dict[str, str] | None = None, clock: Any = None) -> None:
        self.interval = interval
        self._env = env
        self._clock = clock or time.monotonic
        self._last = -float("inf")
        self.sent = 0

    def ready(self) -> bool:
        """Tell systemd the service is up."""
        return sd_notify("READY=1", self._env)

    def tick(self) -> None:
        """One frame went through: ping the watchdog when ``interval`` has passed."""
        now = self._clock()
        if now - self._last >= self.interval:
            self._last = now
            if sd_notify("WATCHDOG=1", self._env):
                self.sent += 1
