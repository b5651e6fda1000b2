"""Fitting the read verifier: overlays, the logistic fit, and collection on a tiny labelled set."""

from __future__ import annotations

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")

from alpr.train.verifier import draw_overlay, fit_logistic  # noqa: E402


def test_overlay_is_drawn_inside_its_box() -> None:
    rng = np.random.default_rng(0)
    img = np.full((240, 320, 3), 128, np.uint8)
    for _ in range(20):
        out, (x0, y0, x1, y1) = draw_overlay(rng, img)
        assert out.shape == img.shape and (img == 128).all()  # the input is not modified
        changed = np.argwhere((out != img).any(axis=2))
        assert len(changed) > 20
        assert changed[:, 1].min() >= x0 - 3 and changed[:, 1].max() <= x1 + 3
        assert changed[:, 0].min() >= y0 - 3 and changed[:, 0].max() <= y1 + 3


def test_fit_logistic_separates_and_balances() -> None:
    rng = np.random.default_rng(0)
    n = 400
    y = (rng.random(n) < 0.2).astype(np.int64)  # imbalanced: 20 % positives
    feat = rng.normal(0, 1, n) + 2.5 * y
    x = np.stack([np.ones(n), feat, rng.normal(0, 1, n)], axis=1)  # bias, signal, noise
    w = fit_logistic(x, y)
    assert w[1] > 1.0 and abs(w[2]) < 0.5 * w[1]
    p = 1 / (1 + np.exp(-(x @ w)))
    acc_pos = ((p >= 0.5) == 1)[y == 1].mean()
    acc_neg = ((p >= 0.5) == 0)[y == 0].mean()
    assert acc_pos > 0.8 and acc_neg > 0.8  # balanced weighting: the rare class is not ignored
