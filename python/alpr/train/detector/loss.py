"""The detector loss: task-aligned assignment, BCE on IoU-aligned targets, GIoU, corner smooth-L1."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from alpr.train.detector.model import STRIDES, decode_predictions, make_anchors


def box_iou_pairwise(a: Tensor, b: Tensor, eps: float = 1e-7) -> Tensor:
    """IoU of matching rows of ``a`` and ``b`` (..., 4) xyxy."""
    lt = torch.maximum(a[..., :2], b[..., :2])
    rb = torch.minimum(a[..., 2:], b[..., 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    area_a = (a[..., 2:] - a[..., :2]).clamp(min=0).prod(-1)
    area_b = (b[..., 2:] - b[..., :2]).clamp(min=0).prod(-1)
    return inter / (area_a + area_b - inter + eps)


def giou_pairwise(a: Tensor, b: Tensor, eps: float = 1e-7) -> Tensor:
    """Generalised IoU of matching rows (..., 4) xyxy."""
    iou = box_iou_pairwise(a, b, eps)
    lt = torch.minimum(a[..., :2], b[..., :2])
    rb = torch.maximum(a[..., 2:], b[..., 2:])
    hull = (rb - lt).clamp(min=0).prod(-1)
    lt_i = torch.maximum(a[..., :2], b[..., :2])
    rb_i = torch.minimum(a[..., 2:], b[..., 2:])
    inter = (rb_i - lt_i).clamp(min=0).prod(-1)
    union = (a[..., 2:] - a[..., :2]).clamp(min=0).prod(-1) + (b[..., 2:] - b[..., :2]).clamp(min=0).prod(-1)
    union = union - inter
    return iou - (hull - union) / (hull + eps)


@dataclass
class Targets:
    """Padded per-image ground truth for a batch.

    Attributes:
        boxes: float32 (N, M, 4) xyxy input px.
        corners: float32 (N, M, K, 2) input px.
        corner_weight: float32 (N, M) weight of the corner loss per object (0 = unsupervised).
        mask: bool (N, M) which rows are real objects.
    """

    boxes: Tensor
    corners: Tensor
    corner_weight: Tensor
    mask: Tensor


class DetectorLoss:
    """Task-aligned assignment + BCE (soft targets) + GIoU + smooth-L1 corner loss.

    Args:
        topk: anchors kept per object by the alignment metric.
        alpha: score exponent of the alignment metric.
        beta: IoU exponent of the alignment metric.
        radius: candidate anchors lie inside the box or within ``radius`` strides of its centre.
        w_cls, w_box, w_kpt: loss weights.
    """

    def __init__(
        self,
        topk: int = 10,
        alpha: float = 0.5,
        beta: float = 6.0,
        radius: float = 2.5,
        w_cls: float = 1.0,
        w_box: float = 2.5,
        w_kpt: float = 1.0,
    ) -> None:
        self.topk, self.alpha, self.beta, self.radius = topk, alpha, beta, radius
        self.w_cls, self.w_box, self.w_kpt = w_cls, w_box, w_kpt

    def __call__(
        self, raw: Tensor, targets: Targets, height: int, width: int
    ) -> tuple[Tensor, dict[str, float]]:
        """The weighted total loss of a batch of raw outputs and its parts.

        Args:
            raw: the network's raw outputs ``(N, A, 1 + 4 + 2K)``.
            targets: the padded ground truth of the batch.
            height: input height in px (for the anchors).
            width: input width in px.

        Returns:
            The total loss and its ``cls`` / ``box`` / ``kpt`` parts as floats.
        """
        points, strides = make_anchors(height, width, raw.device)
        boxes, logits, corners = decode_predictions(raw, points, strides)
        n, a = logits.shape
        target_scores = torch.zeros_like(logits)
        if targets.mask.any():
            with torch.no_grad():
                assigned, fg, align = self._assign(
                    logits.detach().sigmoid(), boxes.detach(), points, strides, targets
                )
            target_scores = align
        else:
            fg = torch.zeros((n, a), dtype=torch.bool, device=raw.device)
            assigned = torch.zeros((n, a), dtype=torch.long, device=raw.device)
        norm = target_scores.sum().clamp(min=1.0)
        loss_cls = F.binary_cross_entropy_with_logits(logits, target_scores, reduction="sum") / norm
        loss_box = raw.new_zeros(())
        loss_kpt = raw.new_zeros(())
        if fg.any():
            bidx = torch.arange(n, device=raw.device)[:, None].expand(n, a)[fg]
            gidx = assigned[fg]
            gt_boxes = targets.boxes[bidx, gidx]
            weight = target_scores[fg]
            giou = giou_pairwise(boxes[fg], gt_boxes)
            loss_box = ((1.0 - giou) * weight).sum() / norm
            gt_corners = targets.corners[bidx, gidx]
            gt_wh = (gt_boxes[:, 2:] - gt_boxes[:, :2]).clamp(min=1.0)
            pts = points[None].expand(n, a, 2)[fg]
            tgt = (gt_corners - pts[:, None, :]) / gt_wh[:, None, :]
            k = corners.shape[2]
            pred = raw[..., 5:][fg].reshape(-1, k, 2)
            kw = targets.corner_weight[bidx, gidx] * weight
            loss_kpt = (
                F.smooth_l1_loss(pred, tgt, reduction="none", beta=0.1).mean((1, 2)) * kw
            ).sum() / norm
        total = self.w_cls * loss_cls + self.w_box * loss_box + self.w_kpt * loss_kpt
        parts = {
            "cls": float(loss_cls.detach()),
            "box": float(loss_box.detach()),
            "kpt": float(loss_kpt.detach()),
        }
        return total, parts

    def _assign(
        self, scores: Tensor, boxes: Tensor, points: Tensor, strides: Tensor, t: Targets
    ) -> tuple[Tensor, Tensor, Tensor]:
        gt = t.boxes  # (N, M, 4)
        n, m = gt.shape[:2]
        a = points.shape[0]
        px, py = points[:, 0], points[:, 1]
        inside = (
            (px[None, None] > gt[..., 0:1])
            & (px[None, None] < gt[..., 2:3])
            & (py[None, None] > gt[..., 1:2])
            & (py[None, None] < gt[..., 3:4])
        )
        cx = (gt[..., 0:1] + gt[..., 2:3]) / 2
        cy = (gt[..., 1:2] + gt[..., 3:4]) / 2
        r = self.radius * strides[None, None]
        near = ((px[None, None] - cx).abs() < r) & ((py[None, None] - cy).abs() < r)
        # Level matching: keep the radius candidates only on levels whose stride suits the box size.
        size = torch.maximum(gt[..., 2:3] - gt[..., 0:1], gt[..., 3:4] - gt[..., 1:2])
        level_ok = (size > strides[None, None] * 0.5) | (strides[None, None] == STRIDES[0])
        cand = (inside | (near & level_ok)) & t.mask[..., None]
        ious = box_iou_pairwise(boxes[:, None, :, :].expand(n, m, a, 4), gt[:, :, None, :].expand(n, m, a, 4))
        ious = ious * cand
        sc = scores[:, None, :].expand(n, m, a)
        metric = sc.pow(self.alpha) * ious.pow(self.beta)
        metric = metric * cand
        # Tie-break towards the centre so that early training (all metrics ~0) still picks sensible anchors.
        dist = ((px[None, None] - cx) ** 2 + (py[None, None] - cy) ** 2).sqrt() / strides[None, None]
        rank = metric + cand.float() * 1e-9 / (1.0 + dist)
        k = min(self.topk, a)
        top = rank.topk(k, dim=-1).indices
        sel = torch.zeros_like(cand)
        sel.scatter_(-1, top, True)
        sel = sel & cand
        # An anchor claimed by several objects goes to the one it overlaps most.
        multi = sel.sum(1) > 1  # (N, A)
        if multi.any():
            best = ious.argmax(1)  # (N, A)
            onehot = F.one_hot(best, m).permute(0, 2, 1).bool()
            sel = torch.where(multi[:, None, :], onehot & sel, sel)
        fg = sel.any(1)
        assigned = sel.float().argmax(1)
        metric = metric * sel
        max_metric = metric.amax(-1, keepdim=True)
        max_iou = (ious * sel).amax(-1, keepdim=True)
        norm_metric = (metric * max_iou / (max_metric + 1e-9)).amax(1)
        return assigned, fg, norm_metric
