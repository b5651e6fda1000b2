from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from alpr.errors import SourceError
from alpr.pipeline import Pipeline, StreamRunner
from alpr.sources import ImageSource, PushSource, VideoSource, expand_images, open_source, read_image


def _write_video(path: Path, n: int, size: tuple[int, int] = (160, 120)) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 25.0, size)
    assert writer.isOpened()
    for i in range(n):
        frame = np.full((size[1], size[0], 3), (i * 7) % 255, np.uint8)
        writer.write(frame)
    writer.release()
    return path


def test_images_folders_globs_and_a_corrupt_file(tmp_path: Path) -> None:
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"img{i}.png"), np.full((20, 30, 3), i, np.uint8))
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (tmp_path / "notes.txt").write_text("x")
    assert len(expand_images([tmp_path])) == 4
    assert [p.name for p in expand_images([str(tmp_path / "img*.png")])] == [
        "img0.png",
        "img1.png",
        "img2.png",
    ]
    with pytest.raises(SourceError, match="no images match"):
        expand_images([str(tmp_path / "*.bmp")])
    with pytest.raises(SourceError, match="no such file"):
        expand_images([tmp_path / "missing.jpg"])
    src = ImageSource([tmp_path])
    frames = list(src)
    assert [f.image[0, 0, 0] for f in frames] == [0, 1, 2]
    assert src.errors == 1 and "broken.jpg" in src.failed[0][0]
    with pytest.raises(SourceError, match="cannot decode"):
        read_image(tmp_path / "broken.jpg")


def test_video_file_all_frames_in_order(tmp_path: Path) -> None:
    path = _write_video(tmp_path / "v.avi", 30)
    src = VideoSource(str(path))
    assert not src.live and src.total == 30 and src.camera == "v"
    frames = list(src)
    assert [f.index for f in frames] == list(range(30))
    assert frames[1].ts - frames[0].ts == pytest.approx(1 / 25)
    assert src.dropped == 0 and src.error is None
    src.close()


def test_truncated_video_ends_cleanly(tmp_path: Path) -> None:
    path = _write_video(tmp_path / "v.avi", 40)
    data = path.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 2])
    src = VideoSource(str(cut))
    frames = list(src)
    assert 0 < len(frames) < 40
    src.close()


def test_not_a_video(tmp_path: Path) -> None:
    bad = tmp_path / "x.mp4"
    bad.write_bytes(b"garbage" * 10)
    with pytest.raises(SourceError, match="cannot open video source"):
        VideoSource(str(bad))
    with pytest.raises(SourceError, match="no such video file"):
        open_source(str(tmp_path / "none.mp4"))


def test_camera_that_never_comes_gives_up_without_crashing() -> None:
    src = VideoSource("rtsp://127.0.0.1:9/none", camera="gate", max_retries=1, backoff=(0.01, 0.02))
    assert src.live
    assert list(src) == []
    assert src.error is not None and "gave up after 1 retries" in src.error


def test_push_source_newest_frame_wins() -> None:
    push = PushSource("p")
    for i in range(5):
        push.push(np.full((4, 4, 3), i, np.uint8))
    push.end()
    got = list(push)
    assert [int(f.image[0, 0, 0]) for f in got] == [4]
    assert push.dropped == 4 and push.frames == 5
    with pytest.raises(SourceError, match=r"expected uint8 \(H, W, 3\)"):
        push.push(np.zeros((4, 4), np.float32))


@pytest.mark.parametrize("overlap", [True, False])
def test_runner_two_cameras_one_fails(models_dir: Path, tmp_path: Path, overlap: bool) -> None:
    video = _write_video(tmp_path / "cam.avi", 12, (96, 64))
    good = VideoSource(str(video), camera="good")
    bad = VideoSource("rtsp://127.0.0.1:9/x", camera="bad", max_retries=0, backoff=(0.01, 0.01))
    runner = StreamRunner(Pipeline(), [good, bad], stride=2, overlap=overlap)
    results = list(runner)
    frames = [r for r in results if r.frame is not None]
    assert len(frames) == 12 and all(r.camera == "good" for r in frames)
    assert sum(r.detected for r in frames) == 6
    assert all(r.reads[0].text == "ABC1234" for r in frames if r.detected)
    events = [e for r in results for e in r.events]
    assert [e.plate for e in events] == ["ABC1234"] and events[0].camera == "good"
    assert any(err.startswith("bad:") for err in runner.errors)


def test_runner_push_frames_from_python(models_dir: Path) -> None:
    import threading

    push = PushSource("py")
    runner = StreamRunner(Pipeline(), [push], stride=1)
    out = []

    def consume() -> None:
        out.extend(runner)

    t = threading.Thread(target=consume)
    t.start()
    for i in range(3):
        push.push(np.zeros((64, 64, 3), np.uint8), ts=1000.0 + i)
        time.sleep(0.05)
    push.end()
    t.join(10)
    reads = [r for r in out if r.frame is not None]
    assert reads and all(r.reads and r.reads[0].text == "ABC1234" for r in reads)
    assert len(reads) + push.dropped == 3


class _FlakyCapture:
    """A camera that delivers ``n`` frames and then drops the connection."""

    def __init__(self, n: int, start: int) -> None:
        self.n, self.i, self.start = n, 0, start

    def read(self) -> tuple[bool, np.ndarray | None]:
        if self.i >= self.n:
            return False, None
        self.i += 1
        time.sleep(0.002)
        return True, np.full((8, 8, 3), self.start + self.i, np.uint8)

    def get(self, prop: int) -> float:
        return 0.0

    def release(self) -> None:
        pass


class _FlakyCamera(VideoSource):
    def __init__(self, fail_opens: list[bool]) -> None:
        self.opens = 0
        self._plan = fail_opens
        super().__init__(
            "rtsp://camera.invalid/stream", camera="flaky", max_retries=3, backoff=(0.001, 0.002)
        )

    def _open(self) -> _FlakyCapture:
        self.opens += 1
        if self._plan and self._plan.pop(0):
            raise SourceError("cannot open video source rtsp://camera.invalid/stream")
        return _FlakyCapture(5, 10 * self.opens)


def test_camera_that_disappears_reconnects_with_backoff() -> None:
    # connects, drops after 5 frames, fails twice to reconnect, comes back, drops again, then is gone.
    cam = _FlakyCamera([False, True, True, False, True, True, True, True])
    frames = []
    while (f := cam.get(timeout=5)) is not None:
        frames.append(f)
        time.sleep(0.001)
    assert cam.reconnects == 1 and cam.opens == 8
    assert cam.frames == 10 and len(frames) + cam.dropped == 10
    assert cam.error is not None and "gave up after 3 retries" in cam.error
    assert [f.index for f in frames] == sorted(f.index for f in frames)


def test_live_source_drops_old_frames_when_the_consumer_lags() -> None:
    cam = _FlakyCamera([False, True, True, True, True])
    cam.start()
    time.sleep(0.2)  # consumer busy: the camera keeps producing, only the newest frame is kept
    frames = list(cam)
    assert cam.frames == 5 and len(frames) == 1 and cam.dropped == 4
    assert int(frames[0].image[0, 0, 0]) == 15


def test_gstreamer_pipelines() -> None:
    src = VideoSource(
        "videotestsrc num-buffers=3 ! videoconvert ! appsink", max_retries=0, backoff=(0.01, 0.01)
    )
    assert src.live and src.gstreamer and src.camera == "gstreamer"
    frames = list(src)
    from alpr.sources import _has_gstreamer

    if _has_gstreamer():
        assert len(frames) >= 1  # pragma: no cover - OpenCV built with GStreamer
    else:
        assert frames == [] and src.error is not None and "no GStreamer" in src.error


def test_http_stream_is_live_and_reconnects(tmp_path: Path) -> None:
    """An HTTP video (MJPEG in AVI) served on loopback: read as a live camera; when the stream ends,
    the source reconnects (the server starts it again) until closed."""
    import functools
    import http.server
    import threading

    _write_video(tmp_path / "cam.avi", 10, (64, 48))

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(tmp_path))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/cam.avi"
        src = VideoSource(url, backoff=(0.01, 0.05))
        assert src.live and src.camera.startswith("127.0.0.1:")
        got = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (src.reconnects < 1 or len(got) < 3):
            try:
                f = src.get(timeout=0.5)
            except Exception:
                continue
            if f is None:
                break
            got.append(f)
        src.close()
        assert len(got) >= 3 and src.frames >= 10 and src.reconnects >= 1
        assert got[0].image.shape == (48, 64, 3)
    finally:
        server.shutdown()
        server.server_close()


def test_runner_survives_a_failing_batch(
    models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    video = _write_video(tmp_path / "cam.avi", 6, (96, 64))
    pipe = Pipeline()
    real = pipe.detect
    calls = {"n": 0}

    def flaky(images: list) -> list:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("engine hiccup")
        return real(images)

    monkeypatch.setattr(pipe, "detect", flaky)
    runner = StreamRunner(pipe, [VideoSource(str(video))], stride=1)
    frames = [r for r in runner if r.frame is not None]
    assert len(frames) == 6 and all(r.reads and r.reads[0].text == "ABC1234" for r in frames)
