"""The ``jetson:`` source preset: specs, GStreamer pipeline strings, NV12 appsink frames -> the pipeline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np
import pytest

from alpr import jetson, sources
from alpr.errors import SourceError
from alpr.jetson import JetsonSpec, build_pipeline, nv12_to_bgr, parse_spec
from alpr.sources import JetsonSource, _has_gstreamer, open_source

APPSINK_LIVE = "video/x-raw,format=NV12 ! appsink drop=true max-buffers=1 sync=false"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("jetson:csi:0", JetsonSpec("csi", "0")),
        ("jetson:csi", JetsonSpec("csi", "0")),
        (
            "jetson:csi:1#width=1920,height=1080,fps=30,flip=2",
            JetsonSpec("csi", "1", width=1920, height=1080, fps=30, flip=2),
        ),
        ("jetson:rtsp://u:p@cam.local:554/live", JetsonSpec("rtsp", "rtsp://u:p@cam.local:554/live")),
        (
            "jetson:rtsp://cam/live?ch=1#codec=h265,latency=0",
            JetsonSpec("rtsp", "rtsp://cam/live?ch=1", codec="h265", latency=0),
        ),
        ("jetson:/data/clip.mp4#nvmm=0", JetsonSpec("file", "/data/clip.mp4", nvmm=False)),
    ],
)
def test_parse_spec(spec: str, expected: JetsonSpec) -> None:
    assert parse_spec(spec) == expected
    assert parse_spec(spec).live == (expected.kind != "file")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("csi:0", "expected 'jetson:TARGET'"),
        ("jetson:", "got no target"),
        ("jetson:#width=3", "got no target"),
        ("jetson:csi:a", "sensor number"),
        ("jetson:csi:0#zoom=2", "key=value with key in"),
        ("jetson:csi:0#width", "key=value"),
        ("jetson:csi:0#width=wide,height=2", "width: expected an integer, got 'wide'"),
        ("jetson:csi:0#width=0,height=2", "out of range"),
        ("jetson:csi:0#flip=8", "flip: out of range: 8"),
        ("jetson:csi:0#width=640", "both width and height"),
        ("jetson:rtsp://c/x#codec=vp9", "expected h264 or h265, got 'vp9'"),
    ],
)
def test_parse_spec_errors(spec: str, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        parse_spec(spec)


def test_csi_pipeline_is_nvmm_to_nv12_appsink() -> None:
    assert build_pipeline(parse_spec("jetson:csi:0")) == (
        f"nvarguscamerasrc sensor-id=0 ! video/x-raw(memory:NVMM),format=NV12 ! nvvidconv ! {APPSINK_LIVE}"
    )
    assert build_pipeline(parse_spec("jetson:csi:1#width=1280,height=720,fps=60,flip=2")) == (
        "nvarguscamerasrc sensor-id=1 ! video/x-raw(memory:NVMM),format=NV12,framerate=60/1 ! "
        "nvvidconv flip-method=2 ! video/x-raw,format=NV12,width=1280,height=720 ! "
        "appsink drop=true max-buffers=1 sync=false"
    )


def test_rtsp_and_file_pipelines_decode_on_nvdec() -> None:
    gst = build_pipeline(parse_spec("jetson:rtsp://cam/live#codec=h265,width=1280,height=720"))
    assert gst == (
        'rtspsrc location="rtsp://cam/live" latency=100 ! rtph265depay ! h265parse ! nvv4l2decoder ! '
        "nvvidconv ! video/x-raw,format=NV12,width=1280,height=720 ! "
        "appsink drop=true max-buffers=1 sync=false"
    )
    gst = build_pipeline(parse_spec('jetson:/data/my "gate" clip.mp4'))
    # A file is read in full: the appsink blocks the decoder instead of dropping frames.
    assert gst == (
        r'filesrc location="/data/my \"gate\" clip.mp4" ! parsebin ! nvv4l2decoder ! nvvidconv ! '
        "video/x-raw,format=NV12 ! appsink sync=false max-buffers=4"
    )
    assert "videoconvert" not in gst and "BGR" not in gst


def test_fallback_pipelines_use_stock_elements() -> None:
    nvidia = ("nvarguscamerasrc", "nvv4l2decoder", "nvvidconv", "NVMM")
    csi = build_pipeline(parse_spec("jetson:csi:2#nvmm=0,fps=15,flip=2"))
    assert csi == (
        "v4l2src device=/dev/video2 ! video/x-raw,framerate=15/1 ! videoflip video-direction=2 ! "
        f"videoconvert ! videoscale ! {APPSINK_LIVE}"
    )
    rtsp = build_pipeline(parse_spec("jetson:rtsp://c/x#nvmm=0"))
    assert "avdec_h264 ! videoconvert ! videoscale ! video/x-raw,format=NV12" in rtsp
    f = build_pipeline(parse_spec("jetson:a.mp4#nvmm=0"))
    assert f.startswith('filesrc location="a.mp4" ! decodebin ! videoconvert')
    for gst in (csi, rtsp, f):
        assert not any(n in gst for n in nvidia)


def _nv12(h: int, w: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h * 3 // 2, w), dtype=np.uint8)


@pytest.mark.parametrize(("h", "w"), [(2, 2), (96, 128), (720, 1280)])
def test_nv12_to_bgr_matches_opencv(h: int, w: int) -> None:
    buf = _nv12(h, w, seed=h)
    got = nv12_to_bgr(buf)
    ref = cv2.cvtColor(buf, cv2.COLOR_YUV2BGR_NV12)
    assert got.shape == (h, w, 3) and got.dtype == np.uint8
    assert np.abs(got.astype(np.int16) - ref).max() <= 1
    np.testing.assert_array_equal(nv12_to_bgr(buf[..., None]), got)
    strided = np.zeros((h * 3 // 2, w * 2), np.uint8)[:, ::2]  # a non-contiguous view of the planes
    strided[:] = buf
    np.testing.assert_array_equal(nv12_to_bgr(strided), got)
    bgr = np.zeros((h, w, 3), np.uint8)
    assert nv12_to_bgr(bgr) is bgr  # an OpenCV build that converted already


@pytest.mark.parametrize(
    "bad", [np.zeros((10, 8), np.uint8), np.zeros((9, 7), np.uint8), np.zeros((6, 4), np.float32)]
)
def test_nv12_to_bgr_rejects_bad_shapes(bad: np.ndarray) -> None:
    with pytest.raises(SourceError, match="NV12 frame: expected"):
        nv12_to_bgr(bad)


class _FakeAppsink:
    """``cv2.VideoCapture`` on an NV12 appsink: records the pipeline, returns (H*3/2, W) planes."""

    opened: ClassVar[list[tuple[str, int]]] = []
    frames: ClassVar[list[np.ndarray]] = []

    def __init__(self, pipeline: str, api: int = 0) -> None:
        self.opened.append((pipeline, api))
        self._left = list(self.frames)

    def isOpened(self) -> bool:
        return True

    def read(self) -> tuple[bool, np.ndarray | None]:
        if not self._left:
            return False, None
        return True, self._left.pop(0)

    def grab(self) -> bool:
        return bool(self._left) and self._left.pop(0) is not None

    def get(self, prop: int) -> float:
        return 0.0

    def release(self) -> None:
        pass


@pytest.fixture
def fake_appsink(monkeypatch: pytest.MonkeyPatch) -> type[_FakeAppsink]:
    _FakeAppsink.opened = []
    _FakeAppsink.frames = [_nv12(96, 128, seed=i) for i in range(6)]
    monkeypatch.setattr(cv2, "VideoCapture", _FakeAppsink)
    monkeypatch.setattr(sources, "_has_gstreamer", lambda: True)
    return _FakeAppsink


def test_jetson_file_source_delivers_every_nv12_frame_as_bgr(
    tmp_path: Path, fake_appsink: type[_FakeAppsink]
) -> None:
    clip = tmp_path / "gate.mp4"
    clip.write_bytes(b"not decoded by the fake")
    src = open_source(f"jetson:{clip}")
    assert isinstance(src, JetsonSource) and not src.live and src.camera == "gate"
    frames = list(src)
    assert fake_appsink.opened == [(build_pipeline(parse_spec(f"jetson:{clip}")), cv2.CAP_GSTREAMER)]
    assert [f.index for f in frames] == list(range(6)) and src.frames == 6 and src.dropped == 0
    for f, nv12 in zip(frames, fake_appsink.frames, strict=True):
        assert f.image.shape == (96, 128, 3) and f.camera == "gate"
        np.testing.assert_array_equal(f.image, jetson.nv12_to_bgr(nv12))
    assert src.error is None


def test_jetson_camera_is_live(fake_appsink: type[_FakeAppsink]) -> None:
    src = JetsonSource("jetson:csi:1#width=128,height=96", max_retries=0)
    assert src.live and src.camera == "csi1" and "sensor-id=1" in src.pipeline
    assert JetsonSource("jetson:rtsp://admin@gate.local:554/s").camera == "gate.local:554"
    first = src.get(timeout=5)
    assert first is not None and first.image.shape == (96, 128, 3)
    src.close()


def test_missing_file_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such video file"):
        open_source(f"jetson:{tmp_path / 'gone.mp4'}")


def test_opencv_without_gstreamer_fails_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from alpr.doctor import check_source

    monkeypatch.setattr(sources, "_has_gstreamer", lambda: False)
    with pytest.raises(SourceError, match="this OpenCV build has no GStreamer"):
        open_source("jetson:csi:0")
    (check,) = check_source("jetson:csi:0", timeout=30)
    assert not check.ok and "no GStreamer" in check.detail


def test_alpr_run_reads_plates_from_jetson_nv12_frames(
    models_dir: Path, tmp_path: Path, fake_appsink: type[_FakeAppsink], capsys: pytest.CaptureFixture[str]
) -> None:
    from alpr.cli import main

    fake_appsink.frames = [_nv12(96, 128, seed=i) for i in range(12)]
    clip = tmp_path / "lane.mp4"
    clip.write_bytes(b"x")
    assert main(["run", "--json", "--no-progress", "--stride", "1", f"jetson:{clip}"]) == 0
    events = [json.loads(x) for x in capsys.readouterr().out.strip().splitlines()]
    assert [(e["plate"], e["camera"]) for e in events] == [("ABC1234", "lane")]
    assert main(["run", "--json", "--no-progress", "jetson:csi:x"]) == 1
    assert "sensor number" in capsys.readouterr().err


@pytest.mark.skipif(
    not _has_gstreamer(), reason="this OpenCV build has no GStreamer backend (opencv-python wheels have none)"
)
def test_real_gstreamer_fallback_run(tmp_path: Path) -> None:  # pragma: no cover - needs OpenCV+GStreamer
    """The stock-element pipeline on a real file, through OpenCV's GStreamer backend."""
    clip = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter.fourcc(*"MJPG"), 25.0, (128, 96))
    for i in range(5):
        writer.write(np.full((96, 128, 3), 40 * i, np.uint8))
    writer.release()
    src = JetsonSource(f"jetson:{clip}#nvmm=0")
    frames: list[Any] = list(src)
    assert src.error is None and len(frames) == 5
    assert all(f.image.shape == (96, 128, 3) for f in frames)
