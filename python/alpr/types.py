"""Immutable result records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["Box", "Corners", "PlateRead", "box_iou"]

Box = tuple[float, float, float, float]
Corners = tuple[tuple[float, float], tuple[float, float], tuple[float, float], tuple[float, float]]


@dataclass(frozen=True, slots=True)
class PlateRead:
    """One plate found in one frame.

    Attributes:
        text: The plate text, upper-case letters and digits (no separators).
        confidence: The lowest per-character confidence (0..1; 0 for an empty read): a read is only
            as good as its weakest character.
        char_confidences: Confidence of each character of ``text``.
        box: ``(x1, y1, x2, y2)`` of the plate in frame pixels.
        corners: The four plate corners ``(TL, TR, BR, BL)`` in frame pixels, when the detector
            predicts them.
        region: Id of the plate format the text matched (e.g. ``"us-ny"``, ``"br-mercosur"``), or
            ``None`` when no configured format matched.
        detector_score: The detector's plate score (0..1).
        crop: The plate pixels, ``uint8 (h, w, 3)`` BGR cut from the frame, when requested.
    """

    text: str
    confidence: float
    char_confidences: tuple[float, ...]
    box: Box
    corners: Corners | None = None
    region: str | None = None
    detector_score: float = 0.0
    crop: np.ndarray | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (without the crop)."""
        return {
            "plate": self.text,
            "confidence": round(self.confidence, 4),
            "char_confidences": [round(c, 4) for c in self.char_confidences],
            "box": [round(v, 1) for v in self.box],
            "corners": [[round(x, 1), round(y, 1)] for x, y in self.corners] if self.corners else None,
            "region": self.region,
            "detector_score": round(self.detector_score, 4),
        }


def iou_matrix(a: npt.ArrayLike, b: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """IoU matrix float32 ``(len(a), len(b))`` of xyxy boxes (0 where a union is empty).

    The one IoU of the project: tracking, evaluation, training metrics and scene synthesis use it.
    """
    aa = np.asarray(a, np.float32).reshape(-1, 4)
    bb = np.asarray(b, np.float32).reshape(-1, 4)
    lt = np.maximum(aa[:, None, :2], bb[None, :, :2])
    rb = np.minimum(aa[:, None, 2:], bb[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area_a = np.clip(aa[:, 2:] - aa[:, :2], 0, None).prod(-1)
    area_b = np.clip(bb[:, 2:] - bb[:, :2], 0, None).prod(-1)
    union = area_a[:, None] + area_b[None, :] - inter
    out: npt.NDArray[np.float32] = (inter / np.maximum(union, 1e-9)).astype(np.float32)
    return out


def box_iou(a: Box, b: Box) -> float:
    """Intersection over union of two xyxy boxes (0.0 when the union is empty)."""
    return float(iou_matrix(a, b)[0, 0])


def plate_char(ch: str) -> bool:
    """Whether ``ch`` belongs in a plate text: a letter or digit of any script (A-Z, Ü, 皖...)."""
    return ch.isalnum()


def normalize_plate(text: str) -> str:
    """The one plate normaliser (reads, ground truth, search, watchlists, blind index).

    NFKC, upper case, letters and digits of every script kept, separators and punctuation dropped. So ``"ab-12
    3"`` and ``"AB123"`` are one plate, while ``"MÜ AB 123"`` stays apart from ``"M AB 123"`` and Chinese
    province characters survive.
    """
    import unicodedata

    return "".join(ch for ch in unicodedata.normalize("NFKC", text).upper() if plate_char(ch))
