"""Read verifier: drops phantom plates (timestamps, signs, stickers, plate-like texture) after OCR.

A read is kept only when it looks like a plate on every count the pipeline knows:

* its length is plausible (``min_chars`` .. ``max_chars``);
* it is not a run of digits as long as a camera timestamp or counter overlay (``max_digits`` digits
  and more, unless a plate format accepts it);
* a read with a Chinese character fits a Chinese plate format (``cjk_needs_format``: mainland plates
  follow one strict scheme, so a province character in front of anything else is a misread: the OCR,
  trained on Chinese plates too, sometimes puts one before a sign or a foreign plate);
* its box is not a thin strip (``max_aspect``: overlay text lines are much wider than plates);
* its plate probability reaches the threshold: a logistic model over :data:`FEATURES` (detector score,
  character confidences, format fit, length, digit share, box shape) trained by
  ``alpr train verifier`` on labelled plates versus reads of plate-free frames with camera overlays
  drawn on them, shipped in ``models/manifest.json``; without one, the *plate score* (detector score x
  geometric mean of the character confidences, its square root when a format fits) against
  ``min_score``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from alpr.config import VerifyConfig
from alpr.regions import RegionSet

__all__ = ["FEATURES", "ReadVerifier", "plate_score", "read_features", "verify_read"]

FEATURES = (
    "bias",
    "det",
    "log_min_conf",
    "mean_log_conf",
    "fits_format",
    "len_dev",
    "digit_share",
    "log_aspect",
)
"""The verifier's input features, in order (see :func:`read_features`)."""


def plate_score(confs: Sequence[float] | np.ndarray, detector_score: float, fits_format: bool) -> float:
    """Detector score x geometric mean of the character confidences (square root when a format fits)."""
    c = np.clip(np.asarray(confs, dtype=np.float64), 1e-6, 1.0)
    if c.size == 0:
        return 0.0
    s = float(detector_score) * float(np.exp(np.log(c).mean()))
    return s**0.5 if fits_format else s


def read_features(
    text: str,
    confs: Sequence[float] | np.ndarray,
    fmt: str | None,
    detector_score: float,
    box: Sequence[float],
) -> np.ndarray:
    """The :data:`FEATURES` vector of one read (float64)."""
    c = np.log(np.clip(np.asarray(confs, dtype=np.float64), 1e-4, 1.0))
    w, h = float(box[2]) - float(box[0]), float(box[3]) - float(box[1])
    n = max(1, len(text))
    return np.array(
        [
            1.0,
            float(detector_score),
            float(c.min()) if c.size else np.log(1e-4),
            float(c.mean()) if c.size else np.log(1e-4),
            1.0 if fmt is not None else 0.0,
            abs(len(text) - 6.5) / 2,
            sum(ch.isdigit() for ch in text) / n,
            float(np.log(max(w, 1e-3) / max(h, 1e-3))),
        ]
    )


@functools.cache
def _chinese_formats() -> RegionSet:
    return RegionSet.from_names(["cn"])


class ReadVerifier:
    """The verifier of one pipeline.

    :class:`~alpr.config.VerifyConfig` rules plus, when given, the logistic weights and threshold
    (``models/manifest.json`` ``verifier`` entry).
    """

    def __init__(self, cfg: VerifyConfig, model: dict[str, Any] | None = None) -> None:
        self.cfg = cfg
        self.weights: np.ndarray | None = None
        self.threshold = 0.5
        if model is not None and list(model.get("features", [])) == list(FEATURES):
            self.weights = np.asarray(model["weights"], dtype=np.float64)
            self.threshold = float(model["threshold"])

    def probability(
        self, text: str, confs: Sequence[float], fmt: str | None, detector_score: float, box: Sequence[float]
    ) -> float:
        """Plate probability of a read (the plate score where no model is loaded)."""
        if self.weights is None:
            return plate_score(confs, detector_score, fmt is not None)
        z = float(read_features(text, confs, fmt, detector_score, box) @ self.weights)
        return float(1 / (1 + np.exp(-z)))

    def accept(
        self, text: str, confs: Sequence[float], fmt: str | None, detector_score: float, box: Sequence[float]
    ) -> bool:
        """Whether the read passes (always True when the verifier is disabled)."""
        cfg = self.cfg
        if not cfg.enabled:
            return True
        if not cfg.min_chars <= len(text) <= cfg.max_chars:
            return False
        if fmt is None and sum(ch.isdigit() for ch in text) >= cfg.max_digits:
            return False
        if cfg.cjk_needs_format and not text.isascii() and _chinese_formats().match(text) is None:
            return False
        w, h = float(box[2]) - float(box[0]), float(box[3]) - float(box[1])
        if h <= 0 or w / h > cfg.max_aspect:
            return False
        threshold = self.threshold if self.weights is not None else cfg.min_score
        return self.probability(text, confs, fmt, detector_score, box) >= threshold


def verify_read(
    text: str,
    confs: Sequence[float] | np.ndarray,
    fmt: str | None,
    detector_score: float,
    box: Sequence[float],
    cfg: VerifyConfig,
) -> bool:
    """Rule-only verification of one read (no logistic model): see :class:`ReadVerifier`."""
    return ReadVerifier(cfg).accept(text, list(np.asarray(confs, dtype=np.float64)), fmt, detector_score, box)
