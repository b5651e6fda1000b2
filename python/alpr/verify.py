"""Read verifier: drops phantom plates (timestamps, signs, stickers, plate-like texture) after OCR.

A read is kept only when it looks like a plate on every count the pipeline knows:

* its length is plausible (``min_chars`` .. ``max_chars``);
* it is not a run of digits as long as a camera timestamp or counter overlay (``max_digits`` digits
  and more, unless a plate format accepts it);
* its box is not a thin strip (``max_aspect``: overlay text lines are much wider than plates);
* its *plate score* - the detector score times the geometric mean of the character confidences,
  raised to the power 0.5 when the text fits an enabled plate format - reaches ``min_score``.

The thresholds are set from first principles (plate lengths and shapes) and, for ``min_score``, on the
project's licensed validation data; see ``models/MODEL_CARD.md``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from alpr.config import VerifyConfig

__all__ = ["plate_score", "verify_read"]


def plate_score(confs: Sequence[float] | np.ndarray, detector_score: float, fits_format: bool) -> float:
    """Detector score x geometric mean of the character confidences (square root when a format fits)."""
    c = np.clip(np.asarray(confs, dtype=np.float64), 1e-6, 1.0)
    if c.size == 0:
        return 0.0
    s = float(detector_score) * float(np.exp(np.log(c).mean()))
    return s**0.5 if fits_format else s


def verify_read(
    text: str,
    confs: Sequence[float] | np.ndarray,
    fmt: str | None,
    detector_score: float,
    box: Sequence[float],
    cfg: VerifyConfig,
) -> bool:
    """Whether a read passes the verifier (see the module docstring); always True when disabled."""
    if not cfg.enabled:
        return True
    if not cfg.min_chars <= len(text) <= cfg.max_chars:
        return False
    if fmt is None and sum(ch.isdigit() for ch in text) >= cfg.max_digits:
        return False
    w, h = float(box[2]) - float(box[0]), float(box[3]) - float(box[1])
    if h <= 0 or w / h > cfg.max_aspect:
        return False
    return plate_score(confs, detector_score, fmt is not None) >= cfg.min_score
