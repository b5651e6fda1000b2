"""Detection metrics: COCO 101-point AP, matching, operating-point precision/recall, plates found."""

from __future__ import annotations

import numpy as np
import pytest

from alpr.train.metrics import (
    Prediction,
    average_precision,
    box_iou,
    detection_stats,
    map50_in_height_range,
    match_detections,
    plates_found,
)


def _pred(boxes: list[list[float]], scores: list[float]) -> Prediction:
    b = np.asarray(boxes, np.float32).reshape(-1, 4)
    return Prediction(b, np.asarray(scores, np.float32), np.zeros((len(b), 4, 2), np.float32))


def test_box_iou_reference_values() -> None:
    a = np.asarray([[0, 0, 10, 10]], np.float32)
    b = np.asarray([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 0, 0]], np.float32)
    np.testing.assert_allclose(box_iou(a, b), [[1.0, 50 / 150, 0.0, 0.0]], atol=1e-6)
    assert box_iou(np.zeros((0, 4), np.float32), b).shape == (0, 4)


def test_match_is_greedy_by_score_and_one_to_one() -> None:
    gt = np.asarray([[0, 0, 10, 10]], np.float32)
    pred = np.asarray([[0, 0, 10, 10], [0, 0, 10, 9]], np.float32)
    tp = match_detections(pred, np.asarray([0.5, 0.9], np.float32), gt, 0.5)
    # The higher-scored detection takes the only gt; the other is a duplicate (false positive).
    assert tp.tolist() == [False, True]


def test_average_precision_hand_computed() -> None:
    # 2 objects; detections by score: TP, FP, TP -> precision envelope 1.0 up to recall 0.5, 2/3 after.
    tp = np.asarray([True, False, True])
    scores = np.asarray([0.9, 0.8, 0.7], np.float32)
    ap, recall, precision = average_precision(tp, scores, 2)
    assert ap == pytest.approx((51 * 1.0 + 50 * (2 / 3)) / 101)
    np.testing.assert_allclose(recall, [0.5, 0.5, 1.0])
    np.testing.assert_allclose(precision, [1.0, 0.5, 2 / 3], rtol=1e-6)


def test_detection_stats_perfect_and_shifted() -> None:
    gts = [
        np.asarray([[10, 10, 50, 30]], np.float32),
        np.asarray([[0, 0, 20, 20], [30, 30, 60, 40]], np.float32),
    ]
    perfect = [_pred(g.tolist(), [0.9] * len(g)) for g in gts]
    stats = detection_stats(perfect, gts, conf_threshold=0.5)
    assert stats["map50"] == pytest.approx(1.0)
    assert stats["map"] == pytest.approx(1.0)
    assert (stats["precision"], stats["recall"], stats["objects"]) == (1.0, 1.0, 3)
    # Shift every box by 30 % of its width: IoU ~0.54, a hit at 0.5 but not at 0.55 and above.
    shifted = [
        _pred(
            [[b[0] + 0.3 * (b[2] - b[0]), b[1], b[2] + 0.3 * (b[2] - b[0]), b[3]] for b in g.tolist()],
            [0.9] * len(g),
        )
        for g in gts
    ]
    s2 = detection_stats(shifted, gts)
    assert s2["map50"] == pytest.approx(1.0)
    assert s2["map"] == pytest.approx(0.1)
    # Below the operating threshold nothing counts for precision / recall, but AP still sees it.
    s3 = detection_stats([_pred(g.tolist(), [0.1] * len(g)) for g in gts], gts, conf_threshold=0.25)
    assert (s3["recall"], s3["detections"]) == (0.0, 0)
    assert s3["map50"] == pytest.approx(1.0)


def test_detection_stats_no_detections_and_length_mismatch() -> None:
    gts = [np.asarray([[0, 0, 5, 5]], np.float32)]
    stats = detection_stats([_pred([], [])], gts)
    assert stats["map50"] == 0.0 and stats["recall"] == 0.0
    with pytest.raises(ValueError, match="same number"):
        detection_stats([], gts)


def test_plates_found_uses_strict_iou_threshold() -> None:
    gts = [np.asarray([[0, 0, 10, 10], [100, 100, 110, 110]], np.float32)]
    # IoU exactly 0.4 must not count (OpenALPR: IoU > 0.4); IoU 0.5 does.
    preds = [_pred([[0, 0, 4, 10], [100, 100, 105, 110]], [0.9, 0.9])]
    assert plates_found(preds, gts) == (1, 2)


def test_map50_in_height_range_ignores_boxes_outside_the_range() -> None:
    # one small plate (10 px tall) and one large (40 px), in one image
    gt = [np.asarray([[0, 0, 30, 10], [100, 100, 200, 140]], np.float32)]
    # the large plate found, the small one missed, plus a confident small false alarm elsewhere
    pred = [_pred([[300, 300, 330, 310], [100, 100, 200, 140]], [0.95, 0.9])]
    ap_all = detection_stats(pred, gt)["map50"]
    ap_small, n_small = map50_in_height_range(pred, gt, 0, 16)
    ap_large, n_large = map50_in_height_range(pred, gt, 16)
    assert (n_small, n_large) == (1, 1)
    assert ap_large == pytest.approx(1.0)  # the small false alarm is outside the range: ignored
    assert ap_small == pytest.approx(0.0)  # the one small plate was missed
    assert ap_all < ap_large
    # a detection on an ignored (small) plate is not a false alarm of the large range
    hit_small = [_pred([[0, 0, 30, 10], [100, 100, 200, 140]], [0.99, 0.5])]
    assert map50_in_height_range(hit_small, gt, 16)[0] == pytest.approx(1.0)
    assert np.isnan(map50_in_height_range(pred, gt, 500)[0])
    with pytest.raises(ValueError, match="same number of images"):
        map50_in_height_range(pred, [], 0)
