"""The plate OCR networks :class:`CRNN` (CNN + BiGRU) and :class:`PlateViT`, read with CTC.

Both read one- and two-row plates in one model. Also: loading checkpoints and warm starts from ONNX.

The CNN / ViT shrinks the ``(3, H, W)`` crop to a feature map of 2 rows and ``W/4`` columns; the rows are
unrolled *top row first, then bottom row* into one sequence of ``T = 2 * W/4`` steps, so a two-line plate
is read line 1 then line 2 and a one-line plate is free to emit its characters in either row. The
exported ONNX graph ends in a softmax, output ``float32 (N, T, len(charset) + 1)``, blank = 0.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import cast

import numpy as np
import torch
from torch import nn

__all__ = [
    "ARCHS",
    "CHARSET",
    "CRNN",
    "OcrConfig",
    "OcrModel",
    "PlateViT",
    "build_model",
    "init_from_onnx",
    "load_model",
]

CHARSET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
ARCHS = ("crnn", "vit")


@dataclass(frozen=True)
class OcrConfig:
    """Model shape. Stored in checkpoints and (input part) in ``models/manifest.json``.

    Attributes:
        height: input height in pixels; must be divisible by 16 (four 2x pools leave height 2).
        width: input width in pixels; must be divisible by 4.
        channels: CNN widths of the five conv stages.
        hidden: GRU hidden size per direction (0 = no GRU, a 1x1 conv head only).
        charset: the characters; class ``k`` is ``charset[k - 1]``, class 0 the CTC blank.
        mean: input normalisation mean, applied as ``(px / 255 - mean) / std``.
        std: input normalisation std.
        extras: free-form notes kept with the checkpoint.
        arch: ``crnn`` (:class:`CRNN`) or ``vit`` (:class:`PlateViT`, the transformer recognizer).
        dim: ViT token width.
        depth: ViT encoder blocks.
        heads: ViT attention heads.
    """

    height: int = 32
    width: int = 128
    channels: tuple[int, ...] = (32, 64, 96, 128, 160)
    hidden: int = 96
    charset: str = CHARSET
    mean: float = 0.5
    std: float = 0.5
    extras: dict[str, str] = field(default_factory=dict)
    arch: str = "crnn"
    dim: int = 128
    depth: int = 4
    heads: int = 4

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"arch: expected one of {ARCHS}, got {self.arch!r}")
        if self.arch == "vit" and (self.height % 8 or self.dim % self.heads):
            raise ValueError(
                "vit: expected height % 8 == 0 and dim % heads == 0, "
                f"got {self.height} / {self.dim}, {self.heads}"
            )
        if self.height % 16 or self.width % 4:
            raise ValueError(
                f"input: expected height % 16 == 0 and width % 4 == 0, got {self.height}x{self.width}"
            )
        if len(self.channels) != 5:
            raise ValueError(f"channels: expected 5 stage widths, got {len(self.channels)}")
        if len(set(self.charset)) != len(self.charset):
            raise ValueError(f"charset: expected unique characters, got {self.charset!r}")

    @property
    def num_classes(self) -> int:
        """``len(charset) + 1`` (blank = 0)."""
        return len(self.charset) + 1

    @property
    def seq_len(self) -> int:
        """CTC sequence length ``T = 2 * width / 4``."""
        return 2 * (self.width // 4)

    def to_dict(self) -> dict[str, object]:
        """Plain-JSON form (for checkpoints)."""
        d = asdict(self)
        d["channels"] = list(self.channels)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> OcrConfig:
        """Inverse of :meth:`to_dict`."""
        kw = dict(d)
        channels = kw["channels"]
        if not isinstance(channels, (list, tuple)):
            raise ValueError(f"channels: expected a list of 5 ints, got {channels!r}")
        kw["channels"] = tuple(int(c) for c in channels)
        return cls(**kw)  # type: ignore[arg-type]


def _conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class CRNN(nn.Module):
    """CNN + BiGRU + CTC head.

    ``forward(x)``: x float32 ``(N, 3, H, W)`` normalised RGB -> logits ``(N, T, C)`` (training);
    with ``softmax=True`` (the exported form) the probabilities instead.
    """

    def __init__(self, config: OcrConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or OcrConfig()
        c1, c2, c3, c4, c5 = cfg.channels
        h = cfg.height
        self.cnn = nn.Sequential(
            _conv(3, c1),
            nn.MaxPool2d(2, 2),  # H/2, W/2
            _conv(c1, c2),
            nn.MaxPool2d(2, 2),  # H/4, W/4
            _conv(c2, c3),
            _conv(c3, c3),
            nn.MaxPool2d((2, 1), (2, 1)),  # H/8
            _conv(c3, c4),
            _conv(c4, c4),
            nn.MaxPool2d((2, 1), (2, 1)),  # H/16
            _conv(c4, c5),
            # Collapse what is left of the height (H/16) to exactly 2 rows (top line, bottom line).
            nn.MaxPool2d((h // 16 - 1, 1), 1) if h > 32 else nn.Identity(),
            nn.Dropout2d(0.1),
        )
        self.rows = 2
        self.softmax = False
        if cfg.hidden > 0:
            self.rnn: nn.GRU | None = nn.GRU(c5, cfg.hidden, batch_first=True, bidirectional=True)
            head_in = 2 * cfg.hidden
        else:
            self.rnn = None
            head_in = c5
        self.head = nn.Linear(head_in, cfg.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Per-step class scores ``(N, T, C)``: logits, or probabilities when ``softmax`` is set."""
        f = self.cnn(x)  # (N, C, 2, W/4)
        n, c, _h, _w = f.shape
        # Unroll the rows: (N, C, 2, W') -> (N, 2, W', C) -> (N, 2W', C); top row first.
        seq = f.permute(0, 2, 3, 1).reshape(n, -1, c)
        if self.rnn is not None:
            seq, _ = self.rnn(seq)
        logits: torch.Tensor = self.head(seq)
        if self.softmax:
            return torch.softmax(logits, dim=-1)
        return logits


class PlateViT(nn.Module):
    """The transformer recognizer: a small ViT (SVTR/PARSeq-style encoder) read with CTC.

    A convolutional stem (three 3x3 convs, strides 2, 2 and (2, 1)) turns the ``(3, H, W)`` crop into an
    ``(H/8) x (W/4)`` grid of ``dim``-wide tokens; learned 2-D position embeddings, then ``depth``
    pre-norm encoder blocks with global self-attention (every character sees the whole plate, which is
    what two-row plates need); the grid's rows are then averaged down to 2 (top half, bottom half) and
    unrolled top row first into ``T = 2 * W/4`` steps - the same output contract as :class:`CRNN`, so
    the runtime decodes both alike.
    """

    def __init__(self, config: OcrConfig) -> None:
        super().__init__()
        self.config = cfg = config
        d = cfg.dim
        self.stem = nn.Sequential(
            nn.Conv2d(3, d // 4, 3, 2, 1, bias=False),
            nn.BatchNorm2d(d // 4),
            nn.GELU(),
            nn.Conv2d(d // 4, d // 2, 3, 2, 1, bias=False),
            nn.BatchNorm2d(d // 2),
            nn.GELU(),
            nn.Conv2d(d // 2, d, 3, (2, 1), 1, bias=False),
            nn.BatchNorm2d(d),
        )
        self.grid = (cfg.height // 8, cfg.width // 4)
        self.pos = nn.Parameter(torch.zeros(1, self.grid[0] * self.grid[1], d))
        nn.init.trunc_normal_(self.pos, std=0.02)
        layer = nn.TransformerEncoderLayer(
            d,
            cfg.heads,
            dim_feedforward=3 * d,
            dropout=0.1,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, cfg.depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, cfg.num_classes)
        self.softmax = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Per-step class scores ``(N, T, C)``: logits, or probabilities when ``softmax`` is set."""
        f = self.stem(x)  # (N, D, H/8, W/4)
        n, d, gh, gw = f.shape
        tokens = self.encoder(f.flatten(2).transpose(1, 2) + self.pos)  # (N, gh*gw, D)
        rows = tokens.reshape(n, 2, gh // 2, gw, d).mean(dim=2)  # (N, 2, W/4, D): top half, bottom half
        logits: torch.Tensor = self.head(self.norm(rows.reshape(n, 2 * gw, d)))
        if self.softmax:
            return torch.softmax(logits, dim=-1)
        return logits


OcrModel = CRNN | PlateViT
"""Either recognizer (same input and output contract)."""


def build_model(config: OcrConfig) -> OcrModel:
    """The recognizer ``config.arch`` names."""
    return PlateViT(config) if config.arch == "vit" else CRNN(config)


def load_model(path: str | os.PathLike[str]) -> OcrModel:
    """A :class:`CRNN` or :class:`PlateViT` from a ``best.pt`` / ``last.pt`` checkpoint, in eval mode.

    The EMA weights are loaded when the checkpoint has them.
    """
    from alpr.train import common

    state = common.load_checkpoint(path)
    model = build_model(OcrConfig.from_dict(state["config"]))
    weights = state.get("ema") or state["model"]
    if "n_averaged" in weights:  # an AveragedModel state dict: strip the "module." prefix
        weights = {k.removeprefix("module."): v for k, v in weights.items() if k.startswith("module.")}
    model.load_state_dict(weights)
    return model.eval()


def _onnx_charset(path: str | os.PathLike[str]) -> str:
    """The charset of an exported OCR: from the ``manifest.json`` beside it, else :data:`CHARSET`."""
    import json

    manifest = Path(path).parent / "manifest.json"
    if manifest.is_file():
        for entry in json.loads(manifest.read_text(encoding="utf-8")).get("models", {}).values():
            if entry.get("file") == Path(path).name and entry.get("charset"):
                return str(entry["charset"])
    return CHARSET


def init_from_onnx(
    model: CRNN, path: str | os.PathLike[str], old_charset: str, calib: torch.Tensor
) -> dict[str, int]:
    """Warm-start a :class:`CRNN` from an exported ``plate_ocr.onnx`` of the same shape.

    This is for fine-tuning when only the ONNX file survives, e.g. to grow the charset.

    The export folds each BatchNorm into its conv; the folded weights are loaded into the convs and the
    BatchNorms are rebuilt so that the network computes the same function in eval mode *and* about the
    same in train mode: the per-channel mean/std of each conv's output on ``calib`` become the BN's
    running statistics and affine parameters. The GRU gates are reordered (ONNX z, r, h -> PyTorch
    r, z, n). Head rows are copied for the characters both charsets share (and the blank); new
    characters start from small random weights with the mean old bias.

    Args:
        model: the target model (``config.charset`` may be a superset of ``old_charset``).
        path: the ONNX file.
        old_charset: the charset the ONNX model was trained with.
        calib: a float32 ``(N, 3, H, W)`` batch of preprocessed crops for the BN statistics.

    Returns:
        ``{"convs": ..., "copied_classes": ..., "new_classes": ...}``.

    Raises:
        ValueError: the ONNX graph does not have the shape of ``model``.
    """
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    init = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    convs = [n for n in graph.node if n.op_type == "Conv"]
    gru = next((n for n in graph.node if n.op_type == "GRU"), None)
    matmul = [n for n in graph.node if n.op_type == "MatMul" and n.input[1] in init]
    blocks = [m for m in model.cnn if isinstance(m, nn.Sequential)]
    if len(convs) != len(blocks) or gru is None or len(matmul) != 1 or model.rnn is None:
        raise ValueError(f"{path}: expected a CRNN export with {len(blocks)} convs, a GRU and a head")
    with torch.no_grad():
        for node, block in zip(convs, blocks, strict=True):
            conv, bn = cast(nn.Conv2d, block[0]), cast(nn.BatchNorm2d, block[1])
            w, b = init[node.input[1]], init[node.input[2]]
            if tuple(conv.weight.shape) != w.shape:
                raise ValueError(f"{path}: conv shape {w.shape} != model {tuple(conv.weight.shape)}")
            conv.weight.copy_(torch.from_numpy(np.array(w)))
            bn.weight.fill_(1.0)
            bn.bias.copy_(torch.from_numpy(np.array(b)))
            cast(torch.Tensor, bn.running_mean).zero_()
            cast(torch.Tensor, bn.running_var).fill_(1.0 - bn.eps)
        # GRU: W (2, 3H, in), R (2, 3H, H), B (2, 6H); ONNX gate order z r h, PyTorch r z n.
        w_ih, w_hh, bias = (init[gru.input[i]] for i in (1, 2, 3))
        hid = model.rnn.hidden_size

        def reorder(a: np.ndarray) -> torch.Tensor:
            z, r, h = a[:hid], a[hid : 2 * hid], a[2 * hid :]
            return torch.from_numpy(np.concatenate([r, z, h]).copy())

        for d, suffix in enumerate(("", "_reverse")):
            getattr(model.rnn, f"weight_ih_l0{suffix}").copy_(reorder(w_ih[d]))
            getattr(model.rnn, f"weight_hh_l0{suffix}").copy_(reorder(w_hh[d]))
            getattr(model.rnn, f"bias_ih_l0{suffix}").copy_(reorder(bias[d, : 3 * hid]))
            getattr(model.rnn, f"bias_hh_l0{suffix}").copy_(reorder(bias[d, 3 * hid :]))
        head_w = init[matmul[0].input[1]].T  # (C_old, 2H)
        head_b = next(v for k, v in init.items() if k.endswith("head.bias"))
        old_index = {ch: i + 1 for i, ch in enumerate(old_charset)}
        nn.init.normal_(model.head.weight, std=0.01)
        model.head.bias.fill_(float(head_b[1:].mean()))
        copied = 0
        for k in range(model.config.num_classes):
            src = 0 if k == 0 else old_index.get(model.config.charset[k - 1])
            if src is not None:
                model.head.weight[k] = torch.from_numpy(np.array(head_w[src]))
                model.head.bias[k] = float(head_b[src])
                copied += 1
        # Rebuild the BatchNorms from the conv output statistics (eval mode = the folded network).
        stats: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        hooks = [
            block[1].register_forward_hook(
                lambda mod, inp, _out, i=i: stats.__setitem__(
                    i, (inp[0].mean(dim=(0, 2, 3)), inp[0].std(dim=(0, 2, 3)).clamp_min(1e-2))
                )
            )
            for i, block in enumerate(blocks)
        ]
        was = model.training
        model.eval()
        model(calib)
        for h in hooks:
            h.remove()
        for i, block in enumerate(blocks):
            bn = cast(nn.BatchNorm2d, block[1])
            mu, sd = stats[i]
            bn.weight.copy_(sd)
            bn.bias.add_(mu)
            cast(torch.Tensor, bn.running_mean).copy_(mu)
            cast(torch.Tensor, bn.running_var).copy_(sd * sd - bn.eps)
        model.train(was)
    return {"convs": len(blocks), "copied_classes": copied, "new_classes": model.config.num_classes - copied}
