"""The edge health endpoint and the systemd notify protocol, over real sockets."""

from __future__ import annotations

import json
import socket
import threading
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import cv2
import numpy as np
import pytest

from alpr.stream import health
from alpr.stream.health import HealthServer, HealthState, Watchdog, sd_notify


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def _get(port: int, path: str = "/health") -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_state_fps_drops_and_staleness() -> None:
    clock = FakeClock()
    src = SimpleNamespace(camera="gate", frames=0, dropped=0)
    state = HealthState([src], window=10.0, stale_after=5.0, clock=clock)
    assert state.snapshot()["status"] == "stale"  # nothing read yet
    for _ in range(50):  # 5 s at 10 FPS
        clock.t += 0.1
        src.frames += 1
        state.observe(camera="gate")
    src.dropped = 3
    state.observe(frame=False, reads=[SimpleNamespace(text="ABC123")], events=1)
    doc = state.snapshot()
    assert doc["status"] == "ok" and doc["frames"] == 50 and doc["fps"] == pytest.approx(10.0, rel=0.03)
    assert doc["dropped"] == 3 and doc["cameras"]["gate"] == {"fps": 10.0, "frames": 50, "dropped": 3}
    assert doc["last_plate"] == "ABC123" and doc["reads"] == 1 and doc["events"] == 1
    clock.t += 6.0
    doc = state.snapshot()
    assert doc["status"] == "stale" and doc["last_frame_age_s"] == pytest.approx(6.0)


def test_fps_is_measured_per_camera_over_the_window() -> None:
    """One FPS measure for the health page and the publisher's heartbeats (``alpr run`` sends
    ``cameras()``): each camera at its own rate, the total their sum, old frames out of the window."""
    clock = FakeClock()
    gate, exit_ = (
        SimpleNamespace(camera="gate", frames=0),
        SimpleNamespace(camera="exit", frames=0, dropped=2),
    )
    state = HealthState([gate, exit_], window=4.0, clock=clock)
    for i in range(80):  # 8 s: gate at 10 FPS, exit at 5 FPS
        clock.t += 0.1
        gate.frames += 1
        state.observe(camera="gate")
        if i % 2:
            exit_.frames += 1
            state.observe(camera="exit", reads=[SimpleNamespace(text="XY1")])
    cams = state.cameras()
    assert cams["gate"]["fps"] == pytest.approx(10.0, rel=0.05) and cams["gate"]["frames"] == 80
    assert cams["exit"] == {"fps": pytest.approx(5.0, rel=0.05), "frames": 40, "dropped": 2}
    assert state.snapshot()["fps"] == pytest.approx(15.0, rel=0.05)
    clock.t += 2.0  # half the window without frames
    assert state.cameras()["gate"]["fps"] == pytest.approx(5.0, rel=0.05)
    clock.t += 3.0
    assert state.cameras()["exit"]["fps"] == 0.0 and state.snapshot()["fps"] == 0.0


def test_http_server_200_503_404() -> None:
    clock = FakeClock()
    state = HealthState([], stale_after=1.0, clock=clock)
    server = HealthServer(state).start()
    try:
        code, doc = _get(server.port)
        assert code == 503 and doc["status"] == "stale"
        state.observe()
        code, doc = _get(server.port, "/health?x=1")
        assert code == 200 and doc["frames"] == 1
        code, doc = _get(server.port, "/metrics")
        assert code == 404 and "try /health" in doc["error"]
    finally:
        server.close()


@pytest.fixture
def notify_socket(tmp_path: Path) -> Any:
    path = tmp_path / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(2)
    yield sock, str(path)
    sock.close()


def test_sd_notify_and_watchdog_rate(notify_socket: Any) -> None:
    sock, path = notify_socket
    assert sd_notify("READY=1", {}) is False  # not under systemd: nothing sent
    assert sd_notify("READY=1", {"NOTIFY_SOCKET": path})
    assert sock.recv(64) == b"READY=1"
    clock = FakeClock()
    dog = Watchdog(interval=1.0, env={"NOTIFY_SOCKET": path}, clock=clock)
    for _ in range(25):  # 2.5 s of frames at 10 FPS -> pings at 0, 1.0, 2.0 s
        dog.tick()
        clock.t += 0.1
    assert dog.sent == 3 and [sock.recv(64) for _ in range(3)] == [b"WATCHDOG=1"] * 3
    assert sd_notify("WATCHDOG=1", {"NOTIFY_SOCKET": path + ".gone"}) is False
    # Nobody reads: once the receiver's queue is full a ping is dropped instead of blocking the caller.
    sent: list[bool] = []
    t = threading.Thread(
        target=lambda: sent.extend(sd_notify("WATCHDOG=1", {"NOTIFY_SOCKET": path}) for _ in range(1000)),
        daemon=True,
    )
    t.start()
    t.join(10)
    assert not t.is_alive(), "sd_notify blocked on a full notify socket"
    assert sent[0] and not sent[-1]


def test_alpr_run_serves_health_and_notifies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, notify_socket: Any
) -> None:
    from alpr.cli import main

    sock, path = notify_socket
    video = tmp_path / "cam.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"MJPG"), 25.0, (160, 120))
    for _ in range(30):
        writer.write(np.zeros((120, 160, 3), np.uint8))
    writer.release()
    seen: list[tuple[int, dict[str, Any]]] = []
    real_close = HealthServer.close

    def probe_then_close(self: HealthServer) -> None:  # a real request just before the run ends
        seen.append(_get(self.port))
        real_close(self)

    monkeypatch.setattr(health.HealthServer, "close", probe_then_close)
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    assert (
        main(["run", "--no-progress", "--stride", "1", "--camera", "gate", "--health-port", "0", str(video)])
        == 0
    )
    ((code, doc),) = seen
    assert code == 200 and doc["frames"] == 30 and doc["cameras"]["gate"]["frames"] == 30
    assert doc["fps"] > 0 and doc["dropped"] == 0
    assert sock.recv(64) == b"READY=1" and sock.recv(64) == b"WATCHDOG=1"
