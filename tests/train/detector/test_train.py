"""Plate detector: shapes, assignment/loss, a few training steps, data pipeline, run folder and resume.

Everything runs on tiny generated images (64-96 px), without the shared data or pretrained weights.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from alpr.train.detector import (
    DetectorExport,
    DetectorLoss,
    PlateDetector,
    Targets,
    TrainConfig,
    decode_predictions,
    make_anchors,
    train_detector,
)
from alpr.train.detector.data import DetectionDataset, Item, collate, letterbox_image


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """One intra-op thread: on a small shared CPU, OpenMP spinning across busy cores is far slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _scene(rng: np.random.Generator, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """A noisy frame with one bright 'plate' rectangle; returns the image and its box (1, 4)."""
    img = rng.integers(0, 90, (size, size, 3), dtype=np.uint8)
    w, h = int(rng.integers(size // 4, size // 2)), int(rng.integers(6, 12))
    x, y = int(rng.integers(0, size - w)), int(rng.integers(0, size - h))
    img[y : y + h, x : x + w] = 235
    img[y + h // 3 : y + 2 * h // 3, x + 2 : x + w - 2 : 3] = 20
    return img, np.asarray([[x, y, x + w, y + h]], np.float32)


def _targets(boxes: list[np.ndarray]) -> Targets:
    n, m = len(boxes), max(len(b) for b in boxes)
    t = Targets(
        torch.zeros(n, m, 4), torch.zeros(n, m, 4, 2), torch.zeros(n, m), torch.zeros(n, m, dtype=torch.bool)
    )
    for i, b in enumerate(boxes):
        t.boxes[i, : len(b)] = torch.from_numpy(b)
        x0, y0, x1, y1 = torch.from_numpy(b).unbind(-1)
        t.corners[i, : len(b)] = torch.stack(
            [
                torch.stack([x0, y0], -1),
                torch.stack([x1, y0], -1),
                torch.stack([x1, y1], -1),
                torch.stack([x0, y1], -1),
            ],
            1,
        )
        t.corner_weight[i, : len(b)] = 1.0
        t.mask[i, : len(b)] = True
    return t


def test_output_shapes_and_anchor_layout() -> None:
    model = PlateDetector().eval()
    raw = model(torch.zeros(2, 3, 64, 96))
    points, strides = make_anchors(64, 96)
    a = 8 * 12 + 4 * 6 + 2 * 3
    assert raw.shape == (2, a, 13)
    assert points.shape == (a, 2) and strides.shape == (a,)
    assert points[0].tolist() == [4.0, 4.0] and points[8 * 12].tolist() == [8.0, 8.0]
    with torch.no_grad():
        out = DetectorExport(model, 64, 96)(torch.rand(3, 3, 64, 96))
    assert out.shape == (3, 13, a)
    assert float(out[:, 4].min()) >= 0.0 and float(out[:, 4].max()) <= 1.0
    assert bool((out[:, 2:4] > 0).all())  # widths and heights are positive


def test_decode_corners_follow_box_size() -> None:
    points, strides = make_anchors(32, 32)
    raw = torch.zeros(1, len(points), 13)
    raw[0, :, 5:] = torch.tensor([-0.5, -0.5, 0.5, -0.5, 0.5, 0.5, -0.5, 0.5])
    boxes, _, corners = decode_predictions(raw, points, strides)
    # Zero box logits give symmetric boxes; corners at +-0.5 box size land on the box corners.
    np.testing.assert_allclose(corners[0, 0, 0].numpy(), boxes[0, 0, :2].numpy(), atol=1e-5)
    np.testing.assert_allclose(corners[0, 0, 2].numpy(), boxes[0, 0, 2:].numpy(), atol=1e-5)


def test_assignment_gives_tiny_plates_anchors_and_background_only_cls_loss() -> None:
    model = PlateDetector().eval()
    loss_fn = DetectorLoss()
    with torch.no_grad():
        raw = model(torch.rand(2, 3, 64, 64))
    tiny = np.asarray([[30, 30, 33, 32]], np.float32)  # smaller than a stride-8 cell
    _, parts = loss_fn(raw, _targets([tiny, np.zeros((0, 4), np.float32)]), 64, 64)
    assert parts["box"] > 0.0  # the tiny box got positives and a box loss
    empty = _targets([np.zeros((0, 4), np.float32)] * 2)
    _, parts = loss_fn(raw, empty, 64, 64)
    assert parts["box"] == 0.0 and parts["kpt"] == 0.0 and parts["cls"] > 0.0


def test_loss_goes_down_on_a_fixed_batch() -> None:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    scenes = [_scene(rng, 48) for _ in range(2)]
    x = torch.from_numpy(np.stack([s[0] for s in scenes])).permute(0, 3, 1, 2).float() / 255
    targets = _targets([s[1] for s in scenes])
    model = PlateDetector()
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    loss_fn = DetectorLoss()
    losses = []
    for _ in range(20):
        loss, _ = loss_fn(model(x), targets, 48, 48)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert np.mean(losses[-3:]) < 0.6 * np.mean(losses[:3]), losses


def test_freeze_stem_keeps_weights_and_bn_stats() -> None:
    model = PlateDetector()
    model.freeze_stem(2)
    model.train()
    before = model.backbone.blocks[1].depthwise[1].running_mean.clone()
    model(torch.rand(2, 3, 32, 32)).sum().backward()
    assert model.backbone.stem[0].weight.grad is None
    assert torch.equal(before, model.backbone.blocks[1].depthwise[1].running_mean)
    assert not model.backbone.blocks[1].training and model.backbone.blocks[3].training


def test_letterbox_matches_ultralytics_convention() -> None:
    img = np.full((30, 60, 3), 200, np.uint8)
    out, r, (left, top) = letterbox_image(img, 64)
    assert out.shape == (64, 64, 3) and r == pytest.approx(64 / 60)
    # new size 64 x 32, vertical padding 16 each side (round(16 - 0.1) = 16).
    assert (left, top) == (0, 16)
    assert out[15, 10].tolist() == [114, 114, 114] and out[16, 10].tolist() == [200, 200, 200]


def _write_images(tmp_path: Path, n: int) -> list[Item]:
    rng = np.random.default_rng(1)
    items = []
    for i in range(n):
        img, box = _scene(rng, 96)
        p = tmp_path / f"{i}.jpg"
        cv2.imwrite(str(p), img)
        items.append(Item(str(p), box, 96, 96))
    return items


def test_dataset_samples_keep_boxes_on_canvas_and_corner_order(tmp_path: Path) -> None:
    items = _write_images(tmp_path, 6)
    ds = DetectionDataset(items, 64, augment=True, crop=48, synth_fraction=0.0)
    rng = np.random.default_rng(0)
    n_boxes = 0
    for i in range(30):
        s = ds.sample(i % len(ds), rng)
        assert s.image.shape == (48, 48, 3) and s.image.dtype == np.uint8
        assert ((s.boxes >= 0) & (s.boxes <= 48)).all()
        assert (s.boxes[:, 2] > s.boxes[:, 0]).all() and (s.boxes[:, 3] > s.boxes[:, 1]).all()
        # After any flip, TL stays left of TR and top of BL.
        assert (s.corners[:, 0, 0] <= s.corners[:, 1, 0]).all() and (
            s.corners[:, 0, 1] <= s.corners[:, 3, 1]
        ).all()
        n_boxes += len(s.boxes)
    assert n_boxes > 10
    ev = ds.eval_sample(0)
    assert ev.image.shape == (64, 64, 3)
    np.testing.assert_allclose(ev.boxes, items[0].boxes * 64 / 96, atol=1e-4)
    images, targets = collate([ds.sample(0, rng), ds.sample(1, rng)])
    assert images.shape == (2, 3, 48, 48) and images.dtype == torch.float32 and float(images.max()) <= 1.0
    assert targets.boxes.shape[0] == 2 and targets.mask.dtype == torch.bool


def test_dataset_pastes_synthetic_plates_with_full_corner_weight(tmp_path: Path) -> None:
    items = _write_images(tmp_path, 2)
    ds = DetectionDataset(items, 128, augment=True, crop=128, synth_fraction=1.0, mosaic=0.0)

    def render(rng: np.random.Generator) -> np.ndarray:
        return np.full((20, 60, 3), 250, np.uint8)

    import alpr.train.scenes as scenes

    orig = scenes.paste_plates
    scenes.paste_plates = lambda *a, **k: orig(*a, render=render, **k)  # type: ignore[assignment]
    try:
        weights = np.concatenate([ds.sample(0, np.random.default_rng(i)).corner_weight for i in range(10)])
    finally:
        scenes.paste_plates = orig  # type: ignore[assignment]
    assert (weights == 1.0).any() and (weights < 1.0).any()


def _tiny_set(root: Path, n_train: int = 8, n_valid: int = 4) -> None:
    rng = np.random.default_rng(2)
    (root / "images" / "t").mkdir(parents=True)
    (root / "labels" / "t").mkdir(parents=True)
    rows = []
    for i in range(n_train + n_valid):
        img, box = _scene(rng, 96)
        cv2.imwrite(str(root / "images" / "t" / f"{i}.jpg"), img)
        x0, y0, x1, y1 = box[0] / 96
        (root / "labels" / "t" / f"{i}.txt").write_text(
            f"0 {(x0 + x1) / 2} {(y0 + y1) / 2} {x1 - x0} {y1 - y0}\n", encoding="utf-8"
        )
        rows.append(["t", f"images/t/{i}.jpg", 96, 96, 1, "train" if i < n_train else "valid"])
    with open(root / "manifest.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["source", "image", "width", "height", "n_plates", "split"])
        w.writerows(rows)


def test_train_detector_writes_run_folder_and_resumes(tmp_path: Path) -> None:
    _tiny_set(tmp_path / "data")
    cfg = TrainConfig(
        data=str(tmp_path / "data"),
        negatives=None,
        out=str(tmp_path / "run"),
        imgsz=64,
        crop=64,
        batch=4,
        epochs=3,
        warmup_steps=2,
        pretrained=False,
        synth_fraction=0.0,
        max_steps=2,
    )
    stats = train_detector(cfg, log=lambda m: None)
    assert 0.0 <= stats["map50"] <= 1.0
    run = tmp_path / "run"
    for name in ("last.pt", "best.pt", "metrics.csv", "curves.png"):
        assert (run / name).is_file(), name
    cfg.max_steps = 4
    train_detector(cfg, log=lambda m: None)
    state = torch.load(run / "last.pt", weights_only=False)
    assert state["step"] == 4 and state["epoch"] == 1
    with open(run / "metrics.csv", encoding="utf-8") as fh:
        assert len(list(csv.DictReader(fh))) == 2
