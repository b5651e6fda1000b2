"""The ``jetson`` source preset: GStreamer NVMM pipelines ending in an NV12 appsink.

A spec ``jetson:TARGET[#key=value,...]`` opens:

- ``jetson:csi:N`` - CSI camera ``N``: ``nvarguscamerasrc sensor-id=N`` (NVMM NV12 from the ISP);
- ``jetson:rtsp://...`` - an RTSP H.264/H.265 stream: ``rtspsrc ! rtpXdepay ! Xparse ! nvv4l2decoder``;
- ``jetson:PATH`` - a video file: ``filesrc ! parsebin ! nvv4l2decoder`` (NVDEC picks the codec);

each followed by ``nvvidconv`` (VIC: NVMM -> system memory, scaling, flip) ``! video/x-raw,format=NV12 !
appsink``. No ``videoconvert`` runs on the CPU: the appsink hands OpenCV the NV12 planes, uint8
``(H * 3 / 2, W)``, and :class:`alpr.sources.JetsonSource` converts them to BGR with the Rust NV12 intake
(:func:`alpr.ops.raw_to_bgr`, BT.601 limited range as ``cv2.cvtColor(..., COLOR_YUV2BGR_NV12)``),
reading the appsink buffer in place (no copy on the Python side).

Options after ``#``: ``width``, ``height`` (output size, scaled by nvvidconv), ``fps`` (CSI rate; for a file,
the rate its timestamps assume, default 25),
``flip`` (nvvidconv ``flip-method`` 0-7), ``codec`` (``h264`` / ``h265``, RTSP), ``latency`` (RTSP ms),
``nvmm=0`` (the same pipeline with stock GStreamer elements - ``v4l2src``, ``avdec_*`` / ``decodebin``,
``videoconvert`` - for a machine without NVIDIA's plugins). Examples::

    alpr run jetson:csi:0#width=1920,height=1080,fps=30
    alpr run "jetson:rtsp://cam.local/live#codec=h265,width=1280,height=720"
    alpr run jetson:/data/clip.mp4

Needs OpenCV built with GStreamer (JetPack's OpenCV is; the ``opencv-python`` wheels are not).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from alpr.errors import SourceError

__all__ = ["PREFIX", "JetsonSpec", "build_pipeline", "nv12_to_bgr", "parse_spec"]

PREFIX = "jetson:"
_CODECS = ("h264", "h265")
_INT_KEYS = ("width", "height", "fps", "flip", "latency", "nvmm")


@dataclass(frozen=True, slots=True)
class JetsonSpec:
    """A parsed ``jetson:`` spec.

    Attributes:
        kind: ``"csi"``, ``"rtsp"`` or ``"file"``.
        target: The sensor id (CSI), the URL (RTSP) or the file path.
        width: Output width (``None``: the source's).
        height: Output height (``None``: the source's).
        fps: CSI frame rate (``None``: the sensor mode's default).
        flip: nvvidconv ``flip-method`` (0 = none, 2 = rotate 180).
        codec: RTSP payload codec.
        latency: RTSP jitter buffer in ms.
        nvmm: Use NVIDIA's elements (``False``: stock GStreamer, for testing off a Jetson).
    """

    kind: str
    target: str
    width: int | None = None
    height: int | None = None
    fps: int | None = None
    flip: int = 0
    codec: str = "h264"
    latency: int = 100
    nvmm: bool = True

    @property
    def live(self) -> bool:
        """Cameras and streams are live (newest frame wins); files are read in full."""
        return self.kind != "file"


def parse_spec(spec: str) -> JetsonSpec:
    """Parse ``jetson:TARGET[#key=value,...]``.

    Raises:
        SourceError: not a ``jetson:`` spec, an empty target, an unknown option or a bad value.
    """
    if not spec.startswith(PREFIX):
        raise SourceError(f"jetson source: expected 'jetson:TARGET', got {spec!r}")
    body, _, opts = spec[len(PREFIX) :].partition("#")
    if not body:
        raise SourceError(
            "jetson source: expected jetson:csi:N, jetson:rtsp://... or jetson:FILE, got no target"
        )
    values: dict[str, Any] = {}
    for item in filter(None, (o.strip() for o in opts.split(","))):
        key, eq, val = item.partition("=")
        if not eq or key not in (*_INT_KEYS, "codec"):
            raise SourceError(
                f"jetson source option {item!r}: expected key=value with key in "
                f"{', '.join((*_INT_KEYS, 'codec'))}"
            )
        if key == "codec":
            if val not in _CODECS:
                raise SourceError(f"jetson source codec: expected h264 or h265, got {val!r}")
            values[key] = val
            continue
        try:
            num = int(val)
        except ValueError:
            raise SourceError(f"jetson source {key}: expected an integer, got {val!r}") from None
        if num < 0 or (key in ("width", "height", "fps") and num == 0) or (key == "flip" and num > 7):
            raise SourceError(f"jetson source {key}: out of range: {num}")
        values[key] = bool(num) if key == "nvmm" else num
    if (values.get("width") is None) != (values.get("height") is None):
        raise SourceError("jetson source: give both width and height, or neither")
    if body.startswith("csi:") or body == "csi":
        sensor = body[4:] or "0"
        if not sensor.isdigit():
            raise SourceError(f"jetson source: expected jetson:csi:N with a sensor number, got {body!r}")
        return JetsonSpec("csi", sensor, **values)
    if body.startswith(("rtsp://", "rtsps://")):
        return JetsonSpec("rtsp", body, **values)
    return JetsonSpec("file", body, **values)


def _quote(value: str) -> str:
    r"""A value for ``gst_parse_launch``: quoted, with ``\`` and ``"`` escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def build_pipeline(spec: JetsonSpec) -> str:
    """The GStreamer pipeline for ``spec``, ending in an NV12 appsink (see the module docstring)."""
    size = f",width={spec.width},height={spec.height}" if spec.width and spec.height else ""
    if spec.kind == "csi":
        rate = f",framerate={spec.fps}/1" if spec.fps else ""
        if spec.nvmm:
            head = f"nvarguscamerasrc sensor-id={spec.target} ! video/x-raw(memory:NVMM),format=NV12{rate}"
        else:
            head = f"v4l2src device=/dev/video{spec.target} ! video/x-raw{rate}"
    elif spec.kind == "rtsp":
        dec = "nvv4l2decoder" if spec.nvmm else f"avdec_{spec.codec}"
        head = (
            f"rtspsrc location={_quote(spec.target)} latency={spec.latency} ! "
            f"rtp{spec.codec}depay ! {spec.codec}parse ! {dec}"
        )
    else:
        dec = "parsebin ! nvv4l2decoder" if spec.nvmm else "decodebin"
        head = f"filesrc location={_quote(spec.target)} ! {dec}"
    if spec.nvmm:
        conv = f"nvvidconv flip-method={spec.flip}" if spec.flip else "nvvidconv"
    else:
        conv = "videoflip video-direction=" + str(spec.flip) + " ! " if spec.flip else ""
        conv += "videoconvert ! videoscale"
    # Live sources keep only the newest buffer; a file blocks the decoder instead of dropping frames.
    sink = "appsink drop=true max-buffers=1 sync=false" if spec.live else "appsink sync=false max-buffers=4"
    return f"{head} ! {conv} ! video/x-raw,format=NV12{size} ! {sink}"


def nv12_to_bgr(image: np.ndarray) -> np.ndarray:
    """An appsink NV12 buffer -> BGR ``uint8 (H, W, 3)`` through the Rust NV12 intake.

    Args:
        image: uint8 ``(H * 3 / 2, W)`` (or ``(H * 3 / 2, W, 1)``): the Y plane, then interleaved UV.
            A ``(H, W, 3)`` frame (an OpenCV build that converted already) is returned as it is.

    Raises:
        SourceError: any other shape or dtype.
    """
    from alpr import ops

    if image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3:
        return image
    if image.dtype != np.uint8 or not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1)):
        raise SourceError(f"NV12 frame: expected uint8 (H*3/2, W), got {image.dtype} {image.shape}")
    rows, width = int(image.shape[0]), int(image.shape[1])
    if rows % 3 or (rows * 2 // 3) % 2 or width % 2 or rows == 0:
        raise SourceError(f"NV12 frame: expected (H*3/2, W) with even H and W, got {image.shape}")
    data = image if image.flags.c_contiguous else np.ascontiguousarray(image)
    return ops.raw_to_bgr(data.reshape(-1), width, rows * 2 // 3, "nv12")
