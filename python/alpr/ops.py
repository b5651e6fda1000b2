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

from alpr import _native

__all__: list[str] = []

# --- image: frame intake, letterbox, crops ---

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
    def scale(self) -> float: ...
    @property
    def pad_x(self) -> float: ...
    @property
    def pad_y(self) -> float: ...
    @property
    def src_width(self) -> int: ...
    @property
    def src_height(self) -> int: ...


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


def postprocess_yolo(
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
    """Beam search restricted, inside the search, to texts matching one of ``patterns``.

    Pattern syntax: ``L`` a letter A-Z, ``9`` a digit, ``*`` a letter or digit, ``[...]`` a
    character class (ranges allowed, e.g. ``[A-HJ-NP-Z]``), ``\\X`` the literal X, any other
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
