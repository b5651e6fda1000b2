"""PNG plots for training runs: loss curves, metric curves and a character confusion matrix.

matplotlib is imported lazily with the non-interactive Agg backend, so plotting works headless.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["char_confusions", "plot_confusion", "plot_history", "plot_losses", "plot_pr"]


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt: Any, fig: Any, path: str | os.PathLike[str], *, dpi: int) -> Path:
    """Lay out, write the PNG (creating its folder) and close the figure."""
    fig.tight_layout()
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=dpi)
    plt.close(fig)
    return target


def plot_losses(
    rows: Sequence[Mapping[str, Any]],
    path: str | os.PathLike[str],
    *,
    x: str = "epoch",
    losses: Sequence[str] = ("train_loss", "valid_loss"),
    metric_suffix: str = "/all/exact",
) -> Path:
    """Loss curves (left) and every ``*<metric_suffix>`` column (right) of a metrics log.

    Args:
        rows: metrics rows (e.g. :attr:`alpr.train.common.MetricsLog.rows`).
        path: the PNG to write.
        x: the x-axis column.
        losses: loss columns to draw (missing ones are skipped).
        metric_suffix: columns ending with this are drawn on the right panel.
    """
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    xs = [r.get(x) for r in rows]
    for key in losses:
        ys = [r.get(key) for r in rows]
        if any(v is not None for v in ys):
            ax1.plot(xs, [np.nan if v is None else v for v in ys], label=key)
    ax1.set_xlabel(x)
    ax1.set_ylabel("CTC loss")
    ax1.set_yscale("log")
    ax1.legend()
    metric_keys = sorted({k for r in rows for k in r if k.endswith(metric_suffix)})
    for key in metric_keys:
        ys = [r.get(key) for r in rows]
        ax2.plot(xs, [np.nan if v is None else v for v in ys], label=key.removesuffix(metric_suffix))
    ax2.set_xlabel(x)
    ax2.set_ylabel(metric_suffix.strip("/"))
    ax2.set_ylim(0, 1)
    if metric_keys:
        ax2.legend(fontsize=8)
    return _save(plt, fig, path, dpi=110)


def char_confusions(preds: Sequence[str], truths: Sequence[str], charset: str) -> np.ndarray:
    """Character confusion counts int64 ``(K+1, K+1)``: rows = truth, columns = read.

    Index K is a missing / extra character. Pairs come from a Levenshtein alignment of each read with its
    truth.
    """
    k = len(charset)
    index = {c: i for i, c in enumerate(charset)}
    m = np.zeros((k + 1, k + 1), dtype=np.int64)
    for p, t in zip(preds, truths, strict=True):
        # Edit-distance table, then walk back to recover aligned pairs.
        d = np.zeros((len(t) + 1, len(p) + 1), dtype=np.int32)
        d[:, 0] = np.arange(len(t) + 1)
        d[0, :] = np.arange(len(p) + 1)
        for i in range(1, len(t) + 1):
            for j in range(1, len(p) + 1):
                d[i, j] = min(d[i - 1, j] + 1, d[i, j - 1] + 1, d[i - 1, j - 1] + (t[i - 1] != p[j - 1]))
        i, j = len(t), len(p)
        while i > 0 or j > 0:
            if i > 0 and j > 0 and d[i, j] == d[i - 1, j - 1] + (t[i - 1] != p[j - 1]):
                m[index.get(t[i - 1], k), index.get(p[j - 1], k)] += 1
                i, j = i - 1, j - 1
            elif i > 0 and d[i, j] == d[i - 1, j] + 1:
                m[index.get(t[i - 1], k), k] += 1
                i -= 1
            else:
                m[k, index.get(p[j - 1], k)] += 1
                j -= 1
    return m


def plot_confusion(
    preds: Sequence[str],
    truths: Sequence[str],
    charset: str,
    path: str | os.PathLike[str],
    *,
    title: str = "",
) -> Path:
    """Draw the off-diagonal character confusions (log colour scale) to a PNG."""
    plt = _pyplot()
    m = char_confusions(preds, truths, charset).astype(np.float64)
    off = m.copy()
    np.fill_diagonal(off, 0)
    labels = [*charset, "∅"]
    fig, ax = plt.subplots(figsize=(9, 8))
    im = ax.imshow(np.log1p(off), cmap="magma_r")
    ax.set_xticks(range(len(labels)), labels, fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.set_xlabel("read")
    ax.set_ylabel("truth")
    errors = int(off.sum())
    ax.set_title(title or f"character confusions ({errors} errors of {int(m[:-1].sum())} characters)")
    fig.colorbar(im, ax=ax, label="log(1 + count)")
    return _save(plt, fig, path, dpi=110)


def plot_history(rows: Sequence[dict[str, Any]], path: str | os.PathLike[str]) -> Path:
    """Plot training losses and validation mAP per epoch into a PNG."""
    plt = _pyplot()

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    epochs = [r.get("epoch", i) for i, r in enumerate(rows)]
    for key in ("loss", "cls", "box", "kpt"):
        ax1.plot(epochs, [r.get(key, np.nan) for r in rows], label=key)
    ax1.set_xlabel("epoch")
    ax1.set_title("training loss")
    ax1.legend()
    for key in ("val_map50", "val_map", "val_precision", "val_recall"):
        ax2.plot(epochs, [r.get(key, np.nan) for r in rows], label=key.removeprefix("val_"))
    ax2.set_xlabel("epoch")
    ax2.set_title("validation")
    ax2.set_ylim(0, 1)
    ax2.legend()
    return _save(plt, fig, path, dpi=100)


def plot_pr(
    recall: np.ndarray, precision: np.ndarray, path: str | os.PathLike[str], *, title: str = "PR @ IoU 0.5"
) -> Path:
    """Plot a precision-recall curve into a PNG."""
    plt = _pyplot()

    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot(recall, precision)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title(title)
    return _save(plt, fig, path, dpi=100)
