"""Validation of a torch detector: predictions with NMS, then the metrics of :mod:`alpr.train.metrics`."""

from __future__ import annotations

from typing import Any

import numpy as np

from alpr.train.metrics import F32, Prediction, detection_stats

__all__ = ["evaluate_model", "predict_batch"]


def predict_batch(
    model: Any, images: Any, *, conf_threshold: float = 0.001, iou_threshold: float = 0.5, max_det: int = 100
) -> list[Prediction]:
    """Run the torch detector on float32 (N, 3, H, W) 0..1 and apply NMS; coordinates in input px."""
    import torch
    from torchvision.ops import nms

    from alpr.train.detector.model import decode_predictions, make_anchors

    h, w = images.shape[-2:]
    with torch.no_grad():
        raw = model(images)
        points, strides = make_anchors(h, w, images.device)
        boxes, logits, corners = decode_predictions(raw, points, strides)
        scores = logits.sigmoid()
    out: list[Prediction] = []
    for i in range(images.shape[0]):
        keep = scores[i] > conf_threshold
        b, s, c = boxes[i][keep], scores[i][keep], corners[i][keep]
        idx = nms(b, s, iou_threshold)[:max_det]
        out.append(
            Prediction(
                b[idx].numpy().astype(np.float32),
                s[idx].numpy().astype(np.float32),
                c[idx].numpy().astype(np.float32),
            )
        )
    return out


def evaluate_model(
    model: Any, dataset: Any, *, conf_threshold: float = 0.25, batch: int = 8
) -> dict[str, Any]:
    """Evaluate a torch detector on a :class:`~alpr.train.detector.data.DetectionDataset` (letterboxed)."""
    import torch

    was_training = model.training
    model.eval()
    preds: list[Prediction] = []
    gts: list[F32] = []
    for start in range(0, len(dataset), batch):
        samples = [dataset.eval_sample(i) for i in range(start, min(len(dataset), start + batch))]
        x = torch.from_numpy(np.stack([s.image for s in samples])).permute(0, 3, 1, 2).float().div_(255.0)
        preds.extend(predict_batch(model, x))
        gts.extend(s.boxes for s in samples)
    model.train(was_training)
    return detection_stats(preds, gts, conf_threshold=conf_threshold)
