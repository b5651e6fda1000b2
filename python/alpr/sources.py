"""Frame sources: image files, folders and globs; video files; cameras; pushed frames.

Cameras are RTSP/HTTP/MJPEG streams, USB/V4L2 devices and GStreamer pipelines (the ``jetson:`` preset:
:mod:`alpr.jetson`); frames can also be pushed from Python.

Every source decodes on its own thread so decoding overlaps inference. Files are read in full (no
frame dropped); live sources keep only the newest frame when the consumer lags and count the drops,
and reconnect with exponential backoff when the stream fails.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from alpr.errors import SourceError

__all__ = [
    "Frame",
    "ImageSource",
    "JetsonSource",
    "PushSource",
    "Source",
    "VideoSource",
    "expand_images",
    "open_source",
]

log = logging.getLogger(__name__)

IMAGE_EXTS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm"})
VIDEO_EXTS = frozenset(
    {".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".ts", ".mjpeg", ".mjpg"}
)
_LIVE_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://")


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame.

    Attributes:
        image: ``uint8 (H, W, 3)`` BGR.
        camera: The source's camera name.
        index: Frame number within the source (counting dropped frames).
        ts: Capture time, POSIX seconds (files: start time + position in the video).
        path: The file it came from (image sources).
    """

    image: np.ndarray
    camera: str
    index: int
    ts: float
    path: str | None = None


_END = object()


class Source:
    """Base class: a decoding thread feeding a queue; iterate to get :class:`Frame` objects."""

    live = False

    def __init__(self, camera: str, maxsize: int = 8) -> None:
        self.camera = camera
        self.frames = 0
        self.dropped = 0
        self.errors = 0
        self.reconnects = 0
        self.decode_seconds = 0.0
        self.total: int | None = None
        self.error: str | None = None
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=1 if self.live else maxsize)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Source:
        """Start the decoding thread (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run_safe, name=f"alpr-source-{self.camera}", daemon=True
            )
            self._thread.start()
        return self

    def _run_safe(self) -> None:
        try:
            self._produce()
        except Exception as exc:  # a source failing must never take the process down
            self.error = f"{type(exc).__name__}: {exc}"
            log.error("source %s failed: %s", self.camera, self.error)
        finally:
            self._put(_END, block=True)

    def _produce(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _put(self, item: Any, *, block: bool) -> None:
        if self.live and item is not _END:
            # Newest frame wins: replace the queued one and count it as dropped.
            try:
                self._queue.put_nowait(item)
            except queue.Full:
                try:
                    self._queue.get_nowait()
                    self.dropped += 1
                except queue.Empty:
                    pass
                try:
                    self._queue.put_nowait(item)
                except queue.Full:
                    self.dropped += 1
            return
        while not self._stop.is_set() or item is _END:
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                if item is _END and self._stop.is_set():
                    with contextlib.suppress(queue.Empty):
                        self._queue.get_nowait()

    def get(self, timeout: float | None = None) -> Frame | None:
        """Next frame, ``None`` at the end of the source. Raises ``queue.Empty`` on timeout."""
        self.start()
        item = self._queue.get(timeout=timeout)
        if item is _END:
            self._queue.put(_END)  # stay ended for later callers
            return None
        return item  # type: ignore[no-any-return]

    def __iter__(self) -> Iterator[Frame]:
        while True:
            frame = self.get()
            if frame is None:
                return
            yield frame

    def close(self) -> None:
        """Stop decoding and join the thread."""
        self._stop.set()
        if self._thread is not None:
            while True:  # unblock a producer waiting on a full queue
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    break
            self._thread.join(timeout=5)

    def stats(self) -> dict[str, Any]:
        """Counters: frames, dropped, errors, reconnects, error."""
        return {
            "camera": self.camera,
            "frames": self.frames,
            "dropped": self.dropped,
            "errors": self.errors,
            "reconnects": self.reconnects,
            "error": self.error,
        }

    def __enter__(self) -> Source:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def expand_images(specs: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Files, folders (their images, sorted) and glob patterns -> image paths.

    Raises:
        SourceError: a spec that names nothing.
    """
    out: list[Path] = []
    for spec in specs:
        s = os.fspath(spec)
        p = Path(s)
        if p.is_dir():
            out.extend(sorted(q for q in p.rglob("*") if q.suffix.lower() in IMAGE_EXTS and q.is_file()))
        elif p.is_file():
            out.append(p)
        elif any(ch in s for ch in "*?["):
            hits = sorted(Path(h) for h in glob.glob(s, recursive=True))
            files = [h for h in hits if h.is_file() and h.suffix.lower() in IMAGE_EXTS]
            if not files:
                raise SourceError(f"no images match {s!r}")
            out.extend(files)
        else:
            raise SourceError(f"no such file or folder: {s}")
    return out


def read_image(path: str | Path) -> np.ndarray:
    """Decode an image file to BGR ``uint8 (H, W, 3)``.

    Raises:
        SourceError: the file cannot be read or decoded.
    """
    import cv2

    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from exc
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if img is None:
        raise SourceError(f"cannot decode image {path} (not an image, or truncated)")
    return img


class ImageSource(Source):
    """Still images from files, folders and globs; unreadable files are counted and skipped."""

    still = True  # every image is analysed, whatever the detector stride

    def __init__(self, specs: Sequence[str | os.PathLike[str]], camera: str = "images") -> None:
        super().__init__(camera)
        self.paths = expand_images(specs)
        self.total = len(self.paths)
        self.failed: list[tuple[str, str]] = []

    def _produce(self) -> None:
        now = time.time()
        for i, path in enumerate(self.paths):
            if self._stop.is_set():
                return
            try:
                img = read_image(path)
            except SourceError as exc:
                self.errors += 1
                self.failed.append((str(path), str(exc)))
                log.warning("%s", exc)
                continue
            self.frames += 1
            self._put(Frame(img, self.camera, i, now, str(path)), block=True)


class VideoSource(Source):
    """A video file, network stream, V4L2 device or GStreamer pipeline, decoded by OpenCV.

    Args:
        spec: A file path, a URL (``rtsp://``, ``http://`` MJPEG, ...), a device index (``0``) or
            path (``/dev/video0``), or a GStreamer pipeline string (contains ``!``).
        camera: Camera name for frames and events.
        live: Force live (newest-frame-wins, reconnect) or file behaviour; default: by ``spec``.
        max_retries: Reconnection attempts before giving up (``None``: forever).
        backoff: ``(first, max)`` delay in seconds between attempts, doubling.
        decode_stride: Deliver only every n-th frame of a file; the others are grabbed (demuxed and
            decoded by the codec) but never converted to BGR or queued. For a detector stride when
            the skipped frames are not needed (e.g. no ``--save-video``).
    """

    def __init__(
        self,
        spec: str | int,
        camera: str | None = None,
        *,
        live: bool | None = None,
        max_retries: int | None = 10,
        backoff: tuple[float, float] = (0.5, 10.0),
        decode_stride: int = 1,
    ) -> None:
        self.spec = spec
        self.decode_stride = max(1, int(decode_stride))
        s = str(spec)
        self.gstreamer = "!" in s
        is_device = isinstance(spec, int) or s.isdigit() or s.startswith("/dev/video")
        self.live = live if live is not None else (self.gstreamer or is_device or s.startswith(_LIVE_SCHEMES))
        super().__init__(camera or _camera_name(s))
        self.max_retries = max_retries
        self.backoff = backoff
        if not self.live and not Path(s).is_file():
            raise SourceError(f"no such video file: {s}")
        self._cap = self._open() if not self.live else None
        if self._cap is not None:
            import cv2

            n = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT))
            self.total = n if n > 0 else None
            self.fps = float(self._cap.get(cv2.CAP_PROP_FPS)) or 25.0
        else:
            self.fps = 25.0

    def _open(self) -> Any:
        import cv2

        s = str(self.spec)
        if self.gstreamer:
            cap = cv2.VideoCapture(s, cv2.CAP_GSTREAMER)
        elif isinstance(self.spec, int) or s.isdigit():
            cap = cv2.VideoCapture(int(s))
        else:
            cap = cv2.VideoCapture(s)
        if not cap.isOpened():
            cap.release()
            hint = " (this OpenCV build has no GStreamer)" if self.gstreamer and not _has_gstreamer() else ""
            raise SourceError(f"cannot open video source {s}{hint}")
        return cap

    def _connect(self) -> Any:
        """``_open()`` with retries; None when the source is stopped while it waits.

        Waits ``backoff`` doubling, at most ``max_retries`` retries (None: for ever), each failure logged.
        """
        from alpr._retry import Interrupted, call_with_retries

        try:
            return call_with_retries(
                self._open,
                on=SourceError,
                stop_event=self._stop,
                first=self.backoff[0],
                most=self.backoff[1],
                attempts=None if self.max_retries is None else self.max_retries + 1,
                log=lambda msg, exc, wait, exc_info: log.warning(msg, exc, wait),
                what="%s; retrying in %.1fs",
            )
        except Interrupted:
            return None
        except SourceError as exc:
            raise SourceError(f"{exc}; gave up after {self.max_retries} retries") from exc

    def _produce(self) -> None:
        import cv2

        start = time.time()
        index = 0
        bad_reads = 0
        cap = self._cap
        while not self._stop.is_set():
            if cap is None:
                cap = self._connect()
                if cap is None:  # stopped while waiting to retry
                    break
                if index > 0:
                    self.reconnects += 1
            t0 = time.perf_counter()
            if not self.live and index % self.decode_stride:
                ok = cap.grab()
                self.decode_seconds += time.perf_counter() - t0
                if ok:
                    self.frames += 1
                    index += 1
                    continue
                img = None
            else:
                ok, img = cap.read()
                if ok and img is not None:
                    img = self._convert(img)
                self.decode_seconds += time.perf_counter() - t0
            if not ok or img is None:
                if not self.live:
                    # A truncated file: a few unreadable packets are skipped; a run of them ends the file.
                    bad_reads += 1
                    pos = cap.get(cv2.CAP_PROP_POS_FRAMES)
                    if self.total is not None and pos < self.total - 1 and bad_reads < 5:
                        self.errors += 1
                        continue
                    break
                self.errors += 1
                cap.release()
                cap = None
                self._stop.wait(min(self.backoff[1], self.backoff[0]))
                continue
            bad_reads = 0
            ts = time.time() if self.live else start + index / self.fps
            self.frames += 1
            self._put(Frame(img, self.camera, index, ts), block=not self.live)
            index += 1
        if cap is not None:
            cap.release()

    def _convert(self, image: np.ndarray) -> np.ndarray:
        """What ``cap.read()`` returned -> the BGR ``uint8 (H, W, 3)`` frame (subclasses: raw formats)."""
        return image


def _has_gstreamer() -> bool:
    import cv2

    info = cv2.getBuildInformation()
    for line in info.splitlines():
        if "GStreamer" in line:
            return "YES" in line
    return False


def _camera_name(spec: str) -> str:
    if "!" in spec:
        return "gstreamer"
    if spec.startswith(_LIVE_SCHEMES):
        rest = spec.split("://", 1)[1]
        host = rest.split("@")[-1].split("/")[0]
        return host or spec
    return Path(spec).stem or spec


class JetsonSource(VideoSource):
    """A ``jetson:`` spec (:mod:`alpr.jetson`) as a :class:`VideoSource`: its NV12 frames arrive as BGR.

    Args:
        spec: ``jetson:csi:N``, ``jetson:rtsp://...`` or ``jetson:FILE`` (options after ``#``).
        camera: Camera name (default: ``csiN``, the stream's host, or the file's stem).
        max_retries: Reconnection attempts of a live source before giving up (``None``: forever).
        decode_stride: Files only: convert every n-th frame (see :class:`VideoSource`).

    Raises:
        SourceError: a bad spec, a file that does not exist, or an OpenCV without GStreamer.
    """

    def __init__(
        self, spec: str, camera: str | None = None, *, max_retries: int | None = 10, decode_stride: int = 1
    ) -> None:
        from alpr.jetson import build_pipeline, parse_spec

        self.jetson = parse_spec(spec)
        if self.jetson.kind == "file" and not Path(self.jetson.target).is_file():
            raise SourceError(f"no such video file: {self.jetson.target}")
        if not _has_gstreamer():  # fail now, not after retrying a pipeline that can never open
            raise SourceError(
                f"{spec}: this OpenCV build has no GStreamer (JetPack's OpenCV has it; the opencv-python "
                "wheels do not)"
            )
        self.pipeline = build_pipeline(self.jetson)
        if camera is None:
            if self.jetson.kind == "csi":
                camera = f"csi{self.jetson.target}"
            else:  # the same names as the plain URL or file would get
                camera = _camera_name(self.jetson.target)
        # Opened by the decoding thread, as a live source is (a pipeline string is no file to check); an
        # appsink reports no frame count or rate, so file timestamps assume ``#fps=`` (default 25).
        super().__init__(
            self.pipeline, camera, live=True, max_retries=max_retries, decode_stride=decode_stride
        )
        if not self.jetson.live:
            self.live = False
            self.max_retries = 0
        self.fps = float(self.jetson.fps or 25)

    def _convert(self, image: np.ndarray) -> np.ndarray:
        from alpr.jetson import nv12_to_bgr

        return nv12_to_bgr(image)


class PushSource(Source):
    """Frames pushed from Python (``push(image)``): newest frame wins, drops counted.

    Call :meth:`end` when no more frames will come.
    """

    live = True

    def __init__(self, camera: str = "push") -> None:
        super().__init__(camera)
        self._index = 0
        self._ended = threading.Event()

    def start(self) -> Source:
        """Nothing to start: frames arrive through :meth:`push`."""
        return self

    def push(self, image: np.ndarray, ts: float | None = None) -> None:
        """Queue a BGR ``uint8 (H, W, 3)`` frame (the array is not copied: do not modify it afterwards)."""
        if (
            not isinstance(image, np.ndarray)
            or image.dtype != np.uint8
            or image.ndim != 3
            or image.shape[2] != 3
        ):
            got = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
            raise SourceError(f"push: expected uint8 (H, W, 3) BGR, got {got}")
        self.frames += 1
        self._put(Frame(image, self.camera, self._index, time.time() if ts is None else ts), block=False)
        self._index += 1

    def end(self) -> None:
        """Signal the end of the stream; a frame still queued is delivered first."""
        self._ended.set()

    def get(self, timeout: float | None = None) -> Frame | None:
        """Next frame, ``None`` once :meth:`end` was called and the queue is empty."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                return self._queue.get(timeout=0.02 if timeout != 0 else 0)  # type: ignore[no-any-return]
            except queue.Empty:
                if self._ended.is_set() and self._queue.empty():
                    return None
                if deadline is not None and time.monotonic() >= deadline:
                    raise

    def close(self) -> None:
        """End the stream."""
        self.end()


def open_source(spec: str, camera: str | None = None, *, decode_stride: int = 1) -> Source:
    """Open a source from a command-line spec.

    See :class:`VideoSource`, :class:`ImageSource` and, for ``jetson:...``, :class:`JetsonSource`.

    Raises:
        SourceError: nothing usable at ``spec``.
    """
    if spec.startswith("jetson:"):
        return JetsonSource(spec, camera=camera, decode_stride=decode_stride)
    p = Path(spec)
    if (
        p.is_dir()
        or (p.is_file() and p.suffix.lower() in IMAGE_EXTS)
        or (not p.exists() and any(c in spec for c in "*?"))
    ):
        return ImageSource([spec], camera=camera or (p.stem if p.is_dir() else "images"))
    return VideoSource(spec, camera=camera, decode_stride=decode_stride)
