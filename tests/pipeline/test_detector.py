"""Close-ups and split plates: fragment merging, the zoomed-out retry, and end to end on rendered plates."""

from __future__ import annotations

import numpy as np
import pytest

from alpr import ops
from alpr.detector import drop_covered, is_closeup, map_back, merge_fragments, zoom_out


def _dets(boxes: list[list[float]], scores: list[float]) -> ops.Detections:
    b = np.asarray(boxes, np.float32).reshape(-1, 4)
    kps = np.stack([b[:, [0, 1]], b[:, [2, 1]], b[:, [2, 3]], b[:, [0, 3]]], axis=1).astype(np.float32)
    return ops.Detections(
        boxes=b, scores=np.asarray(scores, np.float32), class_ids=np.zeros(len(b), np.int64), keypoints=kps
    )


def test_a_fragment_inside_the_whole_plate_is_dropped_and_lends_its_score() -> None:
    whole, frag = [10, 10, 300, 90], [150, 12, 298, 88]
    out = merge_fragments(_dets([frag, whole], [0.9, 0.6]))
    assert len(out) == 1
    np.testing.assert_allclose(out.boxes[0], whole)
    assert out.scores[0] == pytest.approx(0.9)


def test_two_halves_on_one_line_are_joined() -> None:
    out = merge_fragments(_dets([[10, 10, 170, 90], [150, 14, 300, 92]], [0.7, 0.8]))
    assert len(out) == 1
    np.testing.assert_allclose(out.boxes[0], [10, 10, 300, 92])
    np.testing.assert_allclose(out.keypoints[0], [[10, 10], [300, 10], [300, 92], [10, 92]])
    assert out.scores[0] == pytest.approx(0.8)


def test_separate_plates_are_left_alone() -> None:
    apart = _dets([[10, 10, 100, 40], [300, 10, 390, 40]], [0.9, 0.8])  # two cars side by side
    stacked = _dets([[10, 10, 100, 40], [20, 38, 110, 70]], [0.9, 0.8])  # touching, not one line
    for det in (apart, stacked):
        out = merge_fragments(det)
        assert len(out) == 2
        np.testing.assert_array_equal(out.boxes, det.boxes)


def test_zoom_out_maps_back_exactly() -> None:
    frame = np.random.default_rng(0).integers(0, 255, (200, 400, 3), dtype=np.uint8)
    canvas, off = zoom_out(frame, 4.0)
    assert canvas.shape == frame.shape and off == (150.0, 75.0)
    assert (canvas[:70] == 114).all()  # padding around the shrunk frame
    # a box covering the whole shrunk frame is the whole original frame
    back = map_back(_dets([[150, 75, 250, 125]], [0.9]), off, 4.0, frame.shape)
    np.testing.assert_allclose(back.boxes[0], [0, 0, 400, 200])
    np.testing.assert_allclose(back.keypoints[0], [[0, 0], [400, 0], [400, 200], [0, 200]])
    # boxes entirely in the padding vanish
    assert len(map_back(_dets([[0, 0, 20, 20]], [0.9]), off, 4.0, frame.shape)) == 0


def test_pieces_covered_by_the_zoomed_out_plate_are_dropped() -> None:
    # the full-frame pass saw a close-up as a box missing its right end and as two halves
    raw = _dets(
        [[80, 0, 705, 356], [24, 7, 634, 426], [331, 0, 912, 392], [1000, 600, 1150, 650]], [1, 1, 1, 1]
    )
    whole = _dets([[81, 51, 866, 305]], [0.65])
    kept = drop_covered(raw, whole)
    assert kept.boxes.tolist() == [[1000, 600, 1150, 650]]  # only the plate elsewhere in the frame stays
    assert len(drop_covered(raw, _dets([], []))) == 4


def test_a_plate_free_frame_up_to_closeup_empty_max_is_retried() -> None:
    frame = np.zeros((540, 960, 3), np.uint8)
    assert not is_closeup(frame, _dets([], []))
    assert is_closeup(frame, _dets([], []), small_frame=1280)
    assert not is_closeup(np.zeros((1080, 1920, 3), np.uint8), _dets([], []), small_frame=1280)


def test_is_closeup() -> None:
    frame = np.zeros((1080, 1920, 3), np.uint8)
    assert not is_closeup(frame, _dets([[100, 100, 300, 160]], [0.9]))  # a plate at scene scale
    assert is_closeup(frame, _dets([[100, 100, 1200, 500]], [0.9]))
    assert not is_closeup(frame, _dets([], []))  # a big frame without plates is just empty
    assert is_closeup(np.zeros((120, 360, 3), np.uint8), _dets([], []))  # a cropped photo


def test_closeup_plates_read_end_to_end() -> None:
    """Rendered plates filling 70-95 % of the frame: the zoomed-out retry + merging read far more."""
    synth = pytest.importorskip("alpr.train.synth")
    cv2 = pytest.importorskip("cv2")
    try:
        synth.find_fonts()
    except synth.FontsMissingError:  # pragma: no cover - CI installs the fonts
        pytest.skip("plate fonts not installed")
    import alpr
    from alpr.config import load_config

    on = alpr.Pipeline()
    off = alpr.Pipeline(config=load_config(detector={"closeup_zoom": 1.0, "merge_fragments": False}))
    rng = np.random.default_rng(0)
    hits_on = hits_off = n = 0
    while n < 24:
        plate = synth.render_plate(rng, ("US", "EU", "BR")[n % 3])
        if plate.two_line:
            continue
        img = cv2.cvtColor(plate.image, cv2.COLOR_RGB2BGR)
        m = int(img.shape[1] * rng.uniform(0.03, 0.2))
        frame = cv2.copyMakeBorder(img, m, m, m, m, cv2.BORDER_CONSTANT, value=(90, 100, 110))
        hits_on += plate.text in [r.text for r in on(frame)]
        hits_off += plate.text in [r.text for r in off(frame)]
        n += 1
    assert hits_on >= 0.6 * n and hits_on >= hits_off + 5, (hits_on, hits_off)
