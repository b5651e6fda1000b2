"""The detector training loop (resumable, EMA, cosine over a wall-time budget) and its CLI entry."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from alpr.train.detector.config import TrainConfig
from alpr.train.detector.loss import DetectorLoss
from alpr.train.detector.model import PlateDetector, load_pretrained_backbone


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
    from alpr.train.detector.data import DetectionDataset, collate, load_split

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
            from alpr.train.detector.validate import evaluate_model

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
                "config": cfg.model_dump(),
            },
        )
        try:
            from alpr.train.plots import plot_history

            plot_history(metrics.rows, out / "curves.png")
        except Exception as exc:  # plotting must never stop a run
            log(f"plot failed: {exc}")
        if is_last or past_deadline:
            break
    return best_stats


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``alpr train detector``."""
    from alpr.train.detector.config import build_train_parser

    return cli_train(vars(build_train_parser().parse_args(argv)))


def cli_train(args: dict[str, Any]) -> int:
    """Run training from parsed ``alpr train detector`` arguments."""
    from alpr.train.detector.config import config_from_args

    cfg, resume = config_from_args(args)
    stats = train_detector(cfg, resume=resume, log=lambda m: print(m, flush=True))
    print({k: v for k, v in stats.items() if isinstance(v, (int, float))}, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
