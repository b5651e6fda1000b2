"""Public array kernels of alpr, implemented in Rust (``alpr._native``).

Shapes and dtypes are part of the contract: frames are ``uint8 (H, W, 3)`` BGR (or ``(H, W)``
gray), model tensors ``float32 (N, 3, S, S)``, boxes ``float32 (N, 4)`` xyxy in pixels.
Every function validates its inputs and raises ``ValueError`` / ``TypeError`` saying what it
expected and what it got; the heavy work runs with the GIL released.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

import alpr._native as _native

__all__: list[str] = []

# --- image: frame intake, letterbox, crops ---

__all__ += [
    "LetterboxInfo",
    "crop_plates",
    "decode_jpeg",
    "letterbox",
    "letterbox_batch",
    "letterbox_jpeg",
    "letterbox_raw",
    "raw_to_bgr",
]

LetterboxInfo = _native.LetterboxInfo
"""Frozen mapping between frame pixels and letterboxed tensor pixels.

Attributes: ``scale`` (resize gain r), ``pad_x`` / ``pad_y`` (left / top padding in tensor px),
``pad`` (``(pad_x, pad_y)``), ``src_width`` / ``src_height`` (frame size), ``width`` / ``height``
(tensor size). Methods: ``unmap_boxes(float32 (N, 4) xyxy tensor px) -> float32 (N, 4) frame px``
(clipped to the frame), ``map_boxes`` (the inverse, not clipped) and
``unmap_points(float32 (..., 2) tensor px) -> same shape in frame px`` (not clipped).
"""

_Buffer = bytes | bytearray | memoryview | npt.NDArray[np.uint8]


def _size(size: int | tuple[int, int]) -> tuple[int, int]:
    if isinstance(size, bool):
        raise TypeError(f"size: expected int or (width, height), got {size!r}")
    if isinstance(size, int):
        width = height = size
    else:
        try:
            width, height = size
        except (TypeError, ValueError):
            raise TypeError(f"size: expected int or (width, height), got {size!r}") from None
    if not (isinstance(width, int) and isinstance(height, int)) or width < 1 or height < 1:
        raise ValueError(f"size: expected positive ints, got {size!r}")
    return int(width), int(height)


def _dims(**dims: int | None) -> None:
    """Reject negative or non-int sizes with a ValueError / TypeError naming the argument."""
    for name, v in dims.items():
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, int | np.integer):
            raise TypeError(f"{name}: expected int, got {type(v).__name__}")
        if not 0 <= v <= 1 << 31:
            raise ValueError(f"{name}: expected 0..2**31, got {v}")


def _float_dtype(dtype: npt.DTypeLike, allow_u8: bool = False) -> str:
    try:
        name = str(np.dtype(dtype).name)
    except TypeError:
        name = repr(dtype)
    want = ("float32", "float16", "uint8") if allow_u8 else ("float32", "float16")
    if name not in want:
        raise TypeError(f"dtype: expected one of {', '.join(want)}, got {name}")
    return name


def letterbox(
    frame: npt.NDArray[np.uint8],
    size: int | tuple[int, int],
    *,
    input_order: str = "bgr",
    pad_value: float = 114,
    scale: float = 1 / 255,
    dtype: npt.DTypeLike = np.float32,
    out: npt.NDArray[np.floating] | None = None,
) -> tuple[npt.NDArray[np.floating], LetterboxInfo]:
    """Resize a frame into a model tensor, keeping its aspect ratio (Ultralytics ``LetterBox``).

    Colour conversion, bilinear resize (``cv2.INTER_LINEAR`` semantics), constant padding,
    scaling and HWC -> CHW run fused in one native pass with the GIL released.

    Args:
        frame: uint8 (H, W, 3) BGR (RGB with ``input_order="rgb"``) or (H, W) gray. Row-strided
            views (ROI slices) are read without a copy; pixels within a row must be packed.
        size: tensor side, or (width, height).
        input_order: channel order of ``frame``: ``"bgr"`` or ``"rgb"``.
        pad_value: padding colour in pixel units (0..255).
        scale: multiplier applied to every pixel value.
        dtype: ``np.float32`` or ``np.float16``.
        out: optional C-contiguous (1, 3, height, width) array of ``dtype`` to write into.

    Returns:
        ``(tensor, info)``: tensor (1, 3, height, width) RGB of ``dtype`` (``out`` when given),
        values ``pixel * scale``; ``info`` maps tensor pixels back to frame pixels.

    Raises:
        TypeError: ``frame`` is not a uint8 array, or ``dtype``/``out`` has the wrong type.
        ValueError: wrong shape, empty frame, unpacked pixels, bad ``out`` shape.
    """
    width, height = _size(size)
    return _native.letterbox(
        frame, width, height, input_order, float(pad_value), float(scale), _float_dtype(dtype), out
    )


def letterbox_batch(
    frames: list[npt.NDArray[np.uint8]] | tuple[npt.NDArray[np.uint8], ...],
    size: int | tuple[int, int],
    *,
    input_order: str = "bgr",
    pad_value: float = 114,
    scale: float = 1 / 255,
    dtype: npt.DTypeLike = np.float32,
    out: npt.NDArray[np.floating] | None = None,
) -> tuple[npt.NDArray[np.floating], list[LetterboxInfo]]:
    """Letterbox several frames (any sizes) into one (N, 3, height, width) tensor.

    Args:
        frames: uint8 (H, W, 3) BGR / RGB or (H, W) gray frames, sizes may differ.
        size: tensor side, or (width, height).
        input_order: channel order of the frames: ``"bgr"`` or ``"rgb"``.
        pad_value: padding colour in pixel units (0..255).
        scale: multiplier applied to every pixel value.
        dtype: ``np.float32`` or ``np.float16``.
        out: optional C-contiguous (N, 3, height, width) array of ``dtype`` to write into.

    Returns:
        ``(tensor, infos)``: tensor (N, 3, height, width), one ``LetterboxInfo`` per frame.
    """
    width, height = _size(size)
    return _native.letterbox_batch(
        frames, width, height, input_order, float(pad_value), float(scale), _float_dtype(dtype), out
    )


def letterbox_raw(  # noqa: PLR0913 (keyword-only options of the native kernel)
    data: _Buffer,
    width: int,
    height: int,
    fmt: str,
    size: int | tuple[int, int],
    *,
    stride: int | None = None,
    pad_value: float = 114,
    scale: float = 1 / 255,
    dtype: npt.DTypeLike = np.float32,
    out: npt.NDArray[np.floating] | None = None,
) -> tuple[npt.NDArray[np.floating], LetterboxInfo]:
    """Letterbox a raw camera buffer straight into a model tensor (no intermediate BGR frame).

    Args:
        data: any buffer (bytes, bytearray, memoryview, C-contiguous uint8 numpy array).
        width: frame width in pixels.
        height: frame height in pixels.
        fmt: ``"nv12"``, ``"i420"``, ``"yuyv"``, ``"bgra"``, ``"bgr"``, ``"rgb"`` or ``"gray"``.
            YUV is BT.601 limited range, as ``cv2.cvtColor(..., COLOR_YUV2BGR_*)``.
        size: tensor side, or (width, height).
        stride: bytes per row of the first plane (default: packed). I420 chroma rows are
            ``stride // 2`` bytes; NV12's UV plane uses ``stride``.
        pad_value: padding colour in pixel units (0..255).
        scale: multiplier applied to every pixel value.
        dtype: ``np.float32`` or ``np.float16``.
        out: optional C-contiguous (1, 3, height, width) array of ``dtype`` to write into.

    Returns:
        ``(tensor, info)`` as :func:`letterbox`.

    Raises:
        ValueError: unknown format, odd sizes for 4:2:0 / 4:2:2, a short buffer or stride.
    """
    tw, th = _size(size)
    _dims(width=width, height=height, stride=stride)
    return _native.letterbox_raw(
        data, width, height, fmt, stride, tw, th, float(pad_value), float(scale), _float_dtype(dtype), out
    )


def letterbox_jpeg(
    data: _Buffer,
    size: int | tuple[int, int],
    *,
    pad_value: float = 114,
    scale: float = 1 / 255,
    dtype: npt.DTypeLike = np.float32,
    out: npt.NDArray[np.floating] | None = None,
) -> tuple[npt.NDArray[np.floating], LetterboxInfo]:
    """Decode a JPEG in Rust and letterbox it; no BGR frame is made on the Python side.

    Args:
        data: the JPEG bytes (any buffer).
        size: tensor side, or (width, height).
        pad_value: padding colour in pixel units (0..255).
        scale: multiplier applied to every pixel value.
        dtype: ``np.float32`` or ``np.float16``.
        out: optional C-contiguous (1, 3, height, width) array of ``dtype`` to write into.

    Returns:
        ``(tensor, info)`` as :func:`letterbox`.

    Raises:
        alpr.errors.DecodeError: the data is not a decodable JPEG.
    """
    tw, th = _size(size)
    return _native.letterbox_jpeg(data, tw, th, float(pad_value), float(scale), _float_dtype(dtype), out)


def decode_jpeg(data: _Buffer) -> npt.NDArray[np.uint8]:
    """Decode a JPEG in Rust.

    Args:
        data: the JPEG bytes (any buffer).

    Returns:
        uint8 (H, W, 3) BGR, like ``cv2.imdecode(data, cv2.IMREAD_COLOR)`` (grayscale JPEGs are
        expanded to three equal channels).

    Raises:
        alpr.errors.DecodeError: the data is not a decodable JPEG.
    """
    return _native.decode_jpeg(data)


def raw_to_bgr(
    data: _Buffer, width: int, height: int, fmt: str, *, stride: int | None = None
) -> npt.NDArray[np.uint8]:
    """Convert a raw camera buffer to a BGR frame.

    Args:
        data: any buffer (bytes, bytearray, memoryview, C-contiguous uint8 numpy array).
        width: frame width in pixels.
        height: frame height in pixels.
        fmt: ``"nv12"``, ``"i420"``, ``"yuyv"``, ``"bgra"``, ``"bgr"``, ``"rgb"`` or ``"gray"``.
        stride: bytes per row of the first plane (default: packed).

    Returns:
        uint8 (height, width, 3) BGR, matching ``cv2.cvtColor(..., COLOR_YUV2BGR_NV12 / _I420 /
        _YUYV)`` (BT.601 limited range).
    """
    _dims(width=width, height=height, stride=stride)
    return _native.raw_to_bgr(data, width, height, fmt, stride)


def _channels(v: float | tuple[float, ...] | list[float], name: str) -> list[float]:
    vals = [float(v)] if isinstance(v, int | float) else [float(x) for x in v]
    if len(vals) not in (1, 3):
        raise ValueError(f"{name}: expected a float or 3 floats (R, G, B), got {v!r}")
    return vals


def crop_plates(  # noqa: PLR0913 (keyword-only crop and normalisation options of the native kernel)
    frame: npt.NDArray[np.uint8],
    boxes: npt.NDArray[np.float32] | None = None,
    *,
    corners: npt.NDArray[np.float32] | None = None,
    height: int,
    width: int,
    gray: bool = False,
    keep_aspect: bool = False,
    pad: float = 0.0,
    mean: float | tuple[float, ...] = 0.0,
    std: float | tuple[float, ...] = 1.0,
    layout: str = "nchw",
    dtype: npt.DTypeLike = np.float32,
) -> npt.NDArray[np.generic]:
    """Crop plates from the original frame into one batched OCR tensor.

    Pixel ``(i, j)`` covers ``[i, i + 1) x [j, j + 1)``: an integer box gives exactly
    ``cv2.resize(frame[y1:y2, x1:x2], (width, height), interpolation=cv2.INTER_LINEAR)``, and a
    quad gives the bilinear perspective warp of the quad onto the output rectangle (edge
    replicate outside the frame).

    Args:
        frame: uint8 (H, W, 3) BGR or (H, W) gray, the full original frame.
        boxes: float32 (N, 4) xyxy in frame pixels (axis-aligned crops); or
        corners: float32 (N, 4, 2) in frame pixels ordered TL, TR, BR, BL (perspective crops).
        height: output height.
        width: output width (the maximum width with ``keep_aspect``).
        gray: one luma channel (0.299 R + 0.587 G + 0.114 B) instead of RGB.
        keep_aspect: resize to ``height`` keeping the region's aspect ratio (width capped at
            ``width``) and fill the right side with ``pad``.
        pad: value written into the right padding (output units).
        mean: subtracted after dividing by 255 (a float, or R, G, B).
        std: divisor after subtracting ``mean`` (a float, or R, G, B).
        layout: ``"nchw"`` -> (N, C, height, width) or ``"nhwc"`` -> (N, height, width, C).
        dtype: ``np.float32`` / ``np.float16`` ((px / 255 - mean) / std) or ``np.uint8`` (raw px).

    Returns:
        The crops, C = 1 (gray) or 3 (RGB).

    Raises:
        ValueError: neither or both of boxes / corners, bad shapes, non-finite coordinates, a
            degenerate quad, zero std.
        TypeError: wrong dtypes.
    """
    _dims(height=height, width=width)
    return _native.crop_plates(
        frame,
        boxes,
        corners,
        height,
        width,
        gray,
        keep_aspect,
        float(pad),
        _channels(mean, "mean"),
        _channels(std, "std"),
        layout,
        _float_dtype(dtype, allow_u8=True),
    )


# --- post: detector decoding, NMS, CTC ---

__all__ += [
    "Detections",
    "LetterboxMapping",
    "ctc_decode",
    "ctc_decode_constrained",
    "decode_yolo",
    "nms",
    "postprocess_yolo",
    "slot_decode",
]


def nms(
    boxes: npt.NDArray[np.float32],
    scores: npt.NDArray[np.float32],
    iou_threshold: float,
    *,
    class_ids: npt.NDArray[np.int64] | None = None,
    max_det: int | None = None,
) -> npt.NDArray[np.int64]:
    """Greedy non-maximum suppression with ``torchvision.ops.nms`` semantics.

    Args:
        boxes: float32 ``(N, 4)`` xyxy boxes in pixels, C-contiguous.
        scores: float32 ``(N,)``. NaN scores are never kept.
        iou_threshold: a box is suppressed by a kept one when their IoU is strictly greater.
        class_ids: optional int64 ``(N,)``; when given, only boxes of the same class suppress each
            other (exact per-class NMS).
        max_det: keep at most this many boxes.

    Returns:
        int64 ``(K,)`` indices of the kept boxes, sorted by score descending (equal scores: lower
        index first).

    Raises:
        TypeError: an argument is not a numpy array of the stated dtype.
        ValueError: wrong shape, a non-contiguous array, a NaN threshold or a negative max_det.
    """
    return _native.nms(boxes, scores, iou_threshold, class_ids, max_det)


@dataclass(frozen=True, slots=True)
class Detections:
    """Detector output, sorted by score descending where NMS ran.

    Attributes:
        boxes: float32 ``(M, 4)`` xyxy, in input-tensor pixels (or frame pixels after mapping).
        scores: float32 ``(M,)`` best class score.
        class_ids: int64 ``(M,)``.
        keypoints: float32 ``(M, K, D)`` (``(M, 0, D)`` without keypoints), same frame as boxes; for
            the plate detector ``K = 4`` corners TL, TR, BR, BL with ``D = 2`` (x, y).
    """

    boxes: npt.NDArray[np.float32]
    scores: npt.NDArray[np.float32]
    class_ids: npt.NDArray[np.int64]
    keypoints: npt.NDArray[np.float32]

    def __len__(self) -> int:
        return int(self.scores.shape[0])


class LetterboxMapping(Protocol):
    """What :func:`postprocess_yolo` reads from a ``LetterboxInfo``: ``frame = (tensor - pad) / scale``."""

    @property
    def scale(self) -> float:
        """The resize gain: tensor px per frame px."""

    @property
    def pad_x(self) -> float:
        """Left padding of the tensor, in tensor px."""

    @property
    def pad_y(self) -> float:
        """Top padding of the tensor, in tensor px."""

    @property
    def src_width(self) -> int:
        """Width of the source frame (boxes are clipped to it)."""

    @property
    def src_height(self) -> int:
        """Height of the source frame (boxes are clipped to it)."""


def decode_yolo(
    output: npt.NDArray[np.float32] | npt.NDArray[np.float16],
    *,
    num_classes: int,
    score_threshold: float,
    num_keypoints: int = 0,
    keypoint_dim: int = 2,
) -> Detections:
    """Decode an Ultralytics YOLOv8 / YOLO11 ONNX head, without NMS.

    Args:
        output: float32 or float16 ``(1, 4 + nc + K*D, N)`` or ``(4 + nc + K*D, N)``: rows ``cx, cy,
            w, h`` in input pixels, ``nc`` class scores (sigmoid applied), then ``K`` keypoints of
            ``D`` values. Read in place (no transpose copy).
        num_classes: ``nc``.
        score_threshold: keep anchors whose best class score is strictly greater.
        num_keypoints: ``K``.
        keypoint_dim: ``D`` (2 for x, y; 3 with visibility).

    Returns:
        The kept anchors in anchor order, boxes xyxy in input-tensor pixels.

    Raises:
        TypeError: ``output`` is not a float32/float16 array.
        ValueError: the channel count is not ``4 + nc + K*D`` or the array is not contiguous.
    """
    boxes, scores, class_ids, keypoints = _native.decode_yolo(
        output, num_classes, score_threshold, num_keypoints, keypoint_dim
    )
    return Detections(boxes, scores, class_ids, keypoints)


def postprocess_yolo(  # noqa: PLR0913 (keyword-only decode / NMS options of the native kernel)
    output: npt.NDArray[np.float32] | npt.NDArray[np.float16],
    info: LetterboxMapping | None = None,
    *,
    num_classes: int,
    conf_threshold: float = 0.25,
    iou_threshold: float = 0.45,
    max_det: int = 300,
    num_keypoints: int = 0,
    keypoint_dim: int = 2,
    agnostic: bool = True,
) -> Detections:
    """Decode a YOLOv8 / YOLO11 head and run NMS in one native call (Ultralytics semantics).

    Args:
        output: as for :func:`decode_yolo`.
        info: the ``LetterboxInfo`` of the input tensor; when given, boxes and keypoints are mapped
            back to frame pixels (``(v - pad) / scale``) and clipped to the frame.
        num_classes: ``nc``.
        conf_threshold: keep anchors whose best class score is strictly greater.
        iou_threshold: NMS IoU threshold (suppress strictly greater).
        max_det: keep at most this many detections.
        num_keypoints: ``K``.
        keypoint_dim: ``D``.
        agnostic: class-agnostic NMS (``False``: only boxes of the same class suppress each other).

    Returns:
        Detections sorted by score descending.
    """
    mapping = (
        None
        if info is None
        else (
            float(info.scale),
            float(info.pad_x),
            float(info.pad_y),
            float(info.src_width),
            float(info.src_height),
        )
    )
    boxes, scores, class_ids, keypoints = _native.postprocess_yolo(
        output,
        num_classes,
        conf_threshold,
        iou_threshold,
        max_det,
        num_keypoints,
        keypoint_dim,
        agnostic,
        mapping,
    )
    return Detections(boxes, scores, class_ids, keypoints)


def ctc_decode(
    probs: npt.NDArray[np.float32],
    charset: str | Sequence[str],
    blank: int = 0,
    *,
    method: Literal["greedy", "beam"] = "greedy",
    beam_width: int = 10,
    logits: bool = False,
) -> list[tuple[str, npt.NDArray[np.float32]]]:
    """CTC-decode a batch of recognizer outputs.

    Args:
        probs: float32 ``(B, T, C)`` per-frame probabilities (or logits with ``logits=True``, a
            log-softmax is applied per frame), ``C = len(charset) + 1``.
        charset: the non-blank classes in order, as a str (one character each) or a list of str
            tokens (multi-character tokens and any Unicode allowed). With ``blank=0`` class ``k``
            is ``charset[k - 1]``.
        blank: index of the CTC blank class.
        method: ``"greedy"`` (best path) or ``"beam"`` (prefix beam search; the final beams and
            the greedy labelling are rescored with their exact CTC probability, so the result is
            never less probable than the greedy one).
        beam_width: beams kept per frame.
        logits: ``probs`` holds raw logits.

    Returns:
        One ``(text, confidences)`` per row; ``confidences`` float32 ``(len(labels),)``: for each
        character the peak probability over the frames aligned to it. Its minimum flags a likely
        misread.
    """
    return _native.ctc_decode(probs, charset, blank, method, beam_width, logits)


def ctc_decode_constrained(
    probs: npt.NDArray[np.float32],
    charset: str | Sequence[str],
    patterns: Sequence[str],
    blank: int = 0,
    *,
    beam_width: int = 10,
    logits: bool = False,
) -> list[tuple[str, npt.NDArray[np.float32], int]]:
    r"""Beam search restricted, inside the search, to texts matching one of ``patterns``.

    Pattern syntax: ``L`` a letter A-Z, ``9`` a digit, ``*`` a letter or digit, ``[...]`` a
    character class (ranges allowed, e.g. ``[A-HJ-NP-Z]``), ``\X`` the literal X, any other
    character itself. Each position matches one character; at most 64 patterns.

    Args:
        probs: as for :func:`ctc_decode`.
        charset: as for :func:`ctc_decode`.
        patterns: e.g. ``["LLL9999", "LLL9L99"]``.
        blank: index of the CTC blank class.
        beam_width: beams kept per frame.
        logits: ``probs`` holds raw logits.

    Returns:
        One ``(text, confidences, pattern_index)`` per row; ``pattern_index`` is the index of the
        (first) matched pattern, or -1 when no path matches, and then the text is the
        unconstrained beam-search result.
    """
    return _native.ctc_decode_constrained(probs, charset, list(patterns), blank, beam_width, logits)


def slot_decode(
    probs: npt.NDArray[np.float32],
    alphabet: str | Sequence[str],
    pad_char: str = "_",
    *,
    logits: bool = False,
) -> list[tuple[str, npt.NDArray[np.float32]]]:
    """Decode fixed-slot OCR output (fast-plate-ocr style: one character per slot).

    Args:
        probs: float32 ``(B, S, len(alphabet))`` per-slot probabilities (or logits).
        alphabet: the classes in order; must contain ``pad_char``.
        pad_char: the padding token; slots whose argmax is it are dropped.
        logits: ``probs`` holds raw logits (softmax per slot for the confidences).

    Returns:
        One ``(text, confidences)`` per row; the confidence of a character is its slot's probability.
    """
    return _native.slot_decode(probs, alphabet, pad_char, logits)
