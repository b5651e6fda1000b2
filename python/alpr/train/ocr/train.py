"""Training the plate OCR: CTC loss, the batch loop and the validation sets it selects on.

The loop keeps an EMA of the weights, uses warm restarts and writes resumable checkpoints.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from alpr.train.metrics import evaluate_reads
from alpr.train.ocr.model import (
    CHARSET,
    CRNN,
    OcrConfig,
    OcrModel,
    _onnx_charset,
    build_model,
    init_from_onnx,
    load_model,
)

if TYPE_CHECKING:
    from alpr.train.ocr.data import OcrSample

__all__ = ["TrainOcrOptions", "ctc_loss", "encode_texts", "greedy_decode", "predict_probs", "train_ocr"]


def encode_texts(texts: Sequence[str], charset: str = CHARSET) -> tuple[torch.Tensor, torch.Tensor]:
    """Concatenated CTC targets and their lengths.

    Raises:
        ValueError: a text holds a character outside ``charset`` (or is empty).
    """
    index = {ch: i + 1 for i, ch in enumerate(charset)}
    flat: list[int] = []
    lengths: list[int] = []
    for t in texts:
        try:
            ids = [index[ch] for ch in t]
        except KeyError as exc:
            raise ValueError(f"text: expected characters of {charset!r}, got {t!r}") from exc
        if not ids:
            raise ValueError("text: expected a non-empty label, got ''")
        flat.extend(ids)
        lengths.append(len(ids))
    return torch.tensor(flat, dtype=torch.long), torch.tensor(lengths, dtype=torch.long)


def greedy_decode(probs: np.ndarray, charset: str = CHARSET) -> list[tuple[str, np.ndarray]]:
    """Best-path CTC decoding with the shipped kernel (:func:`alpr.ops.ctc_decode`).

    Training, evaluation and the runtime thus decode alike.

    Args:
        probs: float32 ``(B, T, C)`` probabilities (softmax already applied), blank = 0.
        charset: class ``k`` maps to ``charset[k - 1]``.

    Returns:
        One ``(text, conf)`` per row; ``conf`` float32 ``(len(text),)`` is, per character, the highest
        probability over the frames of its run.
    """
    from alpr import ops

    if probs.ndim != 3 or probs.shape[2] != len(charset) + 1:
        raise ValueError(f"probs: expected (B, T, {len(charset) + 1}), got {probs.shape}")
    return [
        (t, np.asarray(c, dtype=np.float32))
        for t, c in ops.ctc_decode(np.ascontiguousarray(probs, np.float32), charset)
    ]


@torch.no_grad()
def predict_probs(
    model: OcrModel, x: np.ndarray, batch_size: int = 256, device: str | torch.device = "cpu"
) -> np.ndarray:
    """Softmax probabilities float32 (N, T, C) for preprocessed inputs float32 (N, 3, H, W)."""
    was_training, was_softmax = model.training, model.softmax
    model.eval()
    model.softmax = True
    outs = []
    try:
        for i in range(0, len(x), batch_size):
            xb = torch.from_numpy(np.ascontiguousarray(x[i : i + batch_size])).to(device)
            outs.append(model(xb).float().cpu().numpy())
    finally:
        model.train(was_training)
        model.softmax = was_softmax
    if not outs:
        return np.zeros((0, model.config.seq_len, model.config.num_classes), dtype=np.float32)
    return np.concatenate(outs)


def ctc_loss(logits: torch.Tensor, texts: Sequence[str], charset: str = CHARSET) -> torch.Tensor:
    """Mean CTC loss of ``logits`` (N, T, C) for ``texts`` (blank = 0; infinite losses zeroed)."""
    targets, lengths = encode_texts(texts, charset)
    log_probs = logits.float().log_softmax(-1).transpose(0, 1)  # (T, N, C)
    n, t = logits.shape[0], logits.shape[1]
    input_lengths = torch.full((n,), t, dtype=torch.long)
    return nn.functional.ctc_loss(log_probs, targets, input_lengths, lengths, blank=0, zero_infinity=True)


class TrainOcrOptions(BaseModel):
    """Options of :func:`train_ocr`, validated on construction and on assignment (as the detector's).

    The ``alpr train ocr`` command line maps onto these.

    Attributes:
        labels: OCR label TSV(s) (shared ``labels.tsv`` or generic ``path<TAB>text``); train split used
            for training, valid split for validation. Empty: synthetic plates only.
        out: the run folder (checkpoints, metrics, plots).
        valid_labels: extra validation TSV(s) (all rows); generic TSVs have no split column.
        openalpr_dirs: OpenALPR-format folders evaluated each epoch as a reported check (never used
            for model selection).
        backgrounds: a folder of plate-free images to put synthetic plates on.
        epochs: number of epochs; an epoch is ``steps_per_epoch`` batches.
        steps_per_epoch: batches per epoch.
        batch_size: 0 = from available memory (capped at 64 on the CPU, 512 on a GPU).
        lr: peak AdamW learning rate.
        weight_decay: AdamW weight decay.
        t0: epochs of the first cosine cycle (warm restarts).
        t_mult: cycle length multiplier.
        synth_fraction: share of synthetic plates in each batch.
        eu_weight: oversampling factor of real EU crops (the rarest region).
        seed: random seed.
        device: ``auto``, ``cpu``, ``cuda``...
        amp: ``auto``, ``bf16``, ``fp16`` or ``off``.
        threads: torch CPU threads (0 = torch default).
        resume: continue from ``out/last.pt`` when present.
        time_limit: stop after the epoch that passes this many minutes (0 = no limit).
        config: the model shape.
        ema: decay of the weight moving average that is evaluated and saved (0 = off).
        max_real: use only the first N real training crops (0 = all; for quick tests).
        aug_strength: photometric augmentation strength, 0..1.
        warmup: linear learning-rate warm-up steps.
        init: start from the weights of this checkpoint (fine-tuning; a fresh schedule and optimiser),
            or of an exported CRNN ``.onnx`` (:func:`init_from_onnx`; the charset may grow).
        exclude_sources: label sources (the TSV ``source`` column) left out of training and validation.
        region_weights: oversampling factor of real crops per region (overrides ``eu_weight`` for EU).
        synth_regions: region -> share weight of synthetic plates (``US``, ``EU``, ``BR``).
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    labels: list[str] = Field(default_factory=list)
    out: str = "runs/ocr"
    valid_labels: list[str] = Field(default_factory=list)
    openalpr_dirs: list[str] = Field(default_factory=list)
    backgrounds: str | None = None
    epochs: int = Field(default=60, ge=1)
    steps_per_epoch: int = Field(default=128, ge=1)
    batch_size: int = Field(default=0, ge=0)
    lr: float = Field(default=2e-3, gt=0.0)
    weight_decay: float = Field(default=0.02, ge=0.0)
    t0: int = Field(default=4, ge=1)
    t_mult: int = Field(default=2, ge=1)
    synth_fraction: float = Field(default=0.45, ge=0.0, le=1.0)
    eu_weight: float = Field(default=4.0, ge=0.0)
    seed: int = 0
    device: str = "auto"
    amp: Literal["auto", "bf16", "fp16", "off"] = "auto"
    threads: int = Field(default=0, ge=0)
    resume: bool = True
    time_limit: float = Field(default=0.0, ge=0.0)
    config: OcrConfig = Field(default_factory=OcrConfig)
    ema: float = Field(default=0.995, ge=0.0, lt=1.0)
    max_real: int = Field(default=0, ge=0)
    aug_strength: float = Field(default=1.0, ge=0.0, le=1.0)
    warmup: int = Field(default=200, ge=0)
    init: str | None = None
    exclude_sources: list[str] = Field(default_factory=list)
    region_weights: dict[str, float] = Field(default_factory=dict)
    synth_regions: dict[str, float] = Field(default_factory=lambda: {"US": 1.0, "EU": 1.5, "BR": 1.0})


def _usable(rows: list[OcrSample], opts: TrainOcrOptions, cfg: OcrConfig) -> list[OcrSample]:
    """The rows whose text the charset can spell and whose source is not excluded."""
    return [r for r in rows if not set(r.text) - set(cfg.charset) and r.source not in opts.exclude_sources]


def _load_valid_sets(
    opts: TrainOcrOptions, cfg: OcrConfig
) -> dict[str, tuple[np.ndarray, list[str], list[str]]]:
    from alpr.train.ocr.data import crop_box, load_rgb, preprocess, read_label_tsv, read_openalpr_dir

    sets: dict[str, tuple[np.ndarray, list[str], list[str]]] = {}
    rows = []
    for tsv in opts.labels:
        rows += [s for s in read_label_tsv(tsv, split="valid") if s.split == "valid"]
    for tsv in opts.valid_labels:
        rows += read_label_tsv(tsv)
    rows = _usable(rows, opts, cfg)
    if rows:
        crops = [load_rgb(r.path) for r in rows]
        groups = [(r.region or "ALL") + ("-synth" if r.synthetic else "") for r in rows]
        sets["valid"] = (
            preprocess(crops, cfg.width, cfg.height, cfg.mean, cfg.std),
            [r.text for r in rows],
            groups,
        )
    for d in opts.openalpr_dirs:
        gts = [g for g in read_openalpr_dir(d) if not set(g.text) - set(cfg.charset)]
        crops, keep = [], []
        cache: dict[str, np.ndarray] = {}
        for g in gts:
            img = cache.setdefault(str(g.image), load_rgb(g.image))
            try:
                crops.append(crop_box(img, g.box))
                keep.append(g)
            except ValueError:
                continue
        name = "openalpr:" + os.path.basename(os.path.normpath(d))
        sets[name] = (
            preprocess(crops, cfg.width, cfg.height, cfg.mean, cfg.std),
            [g.text for g in keep],
            [g.region for g in keep],
        )
    return sets


def train_ocr(opts: TrainOcrOptions) -> dict[str, object]:
    """Train the CRNN; returns the final summary (also written to ``out/summary.json``).

    Checkpoints: ``out/last.pt`` (every epoch, resumable) and ``out/best.pt`` (best exact match on the
    valid split). ``out/options.json``: the options of every start of the run. Logs:
    ``out/metrics.csv`` / ``metrics.jsonl``, ``out/eval_<epoch>.json``; plots at the end
    (``loss.png``, ``confusion.png``).
    """
    import time

    from alpr.train import common
    from alpr.train.ocr.data import OcrSampler, load_rgb, read_label_tsv

    cfg = opts.config
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    # The run's own record of how it was made (resumed runs append, so every start is kept).
    starts = common.read_json(out / "options.json") if (out / "options.json").is_file() else []
    common.write_json(out / "options.json", [*starts, {"started": time.time(), **opts.model_dump()}])
    rng = common.seed_everything(opts.seed)
    common.set_threads(opts.threads)
    device = common.select_device(opts.device)
    amp = common.amp_dtype(device, opts.amp)

    # ---- data
    train_rows = []
    for tsv in opts.labels:
        train_rows += [s for s in read_label_tsv(tsv, split="train") if s.split in ("train", "")]
    train_rows = _usable(train_rows, opts, cfg)
    if opts.max_real:
        train_rows = train_rows[: opts.max_real]
    crops = [load_rgb(r.path) for r in train_rows]
    region_weights = {"EU": opts.eu_weight, **opts.region_weights}
    weights = [region_weights.get(r.region, 1.0) for r in train_rows]
    backgrounds = []
    if opts.backgrounds:
        files = sorted(
            p for p in Path(opts.backgrounds).rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png")
        )
        backgrounds = [load_rgb(p) for p in files[:300]]
    sampler = OcrSampler(
        crops,
        [r.text for r in train_rows],
        weights=weights,
        width=cfg.width,
        height=cfg.height,
        synth_fraction=opts.synth_fraction,
        synth_regions=opts.synth_regions,
        backgrounds=backgrounds,
        charset=cfg.charset,
        mean=cfg.mean,
        std=cfg.std,
        aug_strength=opts.aug_strength,
    )
    valid_sets = _load_valid_sets(opts, cfg)
    print(
        f"train: {len(train_rows)} real crops, synth fraction {opts.synth_fraction}; "
        f"valid sets: {', '.join(f'{k} ({len(v[1])})' for k, v in valid_sets.items())}",
        flush=True,
    )

    # ---- model
    model = build_model(cfg).to(device)
    if opts.init and str(opts.init).endswith(".onnx"):
        if not isinstance(model, CRNN):
            raise ValueError(f"init: an .onnx warm start needs arch 'crnn', got {cfg.arch!r}")
        old_charset = _onnx_charset(opts.init)
        calib, _ = sampler.batch(np.random.default_rng(opts.seed), 128)
        info = init_from_onnx(model, opts.init, old_charset, torch.from_numpy(calib))
        print(f"init from {opts.init}: {info}", flush=True)
        model.to(device)
    elif opts.init:
        model.load_state_dict(load_model(opts.init).state_dict())
    ema = (
        torch.optim.swa_utils.AveragedModel(
            model,
            multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(opts.ema),  # type: ignore[no-untyped-call]
            use_buffers=True,
        )
        if opts.ema > 0
        else None
    )
    bytes_per_sample = (
        3 * cfg.height * cfg.width * 4 * 200
    )  # activations + grads, measured order of magnitude
    batch = opts.batch_size or common.auto_batch_size(
        bytes_per_sample, device, maximum=64 if device.type == "cpu" else 512
    )
    optim = torch.optim.AdamW(model.parameters(), lr=opts.lr, weight_decay=opts.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
        optim, T_0=opts.t0, T_mult=opts.t_mult, eta_min=opts.lr * 0.01
    )
    scaler = torch.amp.GradScaler("cuda") if amp == torch.float16 else None
    log = common.MetricsLog(out, resume=opts.resume)
    start_epoch, best = 0, -1.0
    last = out / "last.pt"
    if opts.resume and last.is_file():
        state = common.load_checkpoint(last, map_location=device)
        model.load_state_dict(state["model"])
        optim.load_state_dict(state["optim"])
        sched.load_state_dict(state["sched"])
        # A resume may change the peak learning rate; the rest of the schedule is kept.
        sched.base_lrs = [opts.lr for _ in sched.base_lrs]
        sched.eta_min = opts.lr * 0.01
        if ema is not None and state.get("ema") is not None:
            ema.load_state_dict(state["ema"])
        rng.bit_generator.state = state["rng"]
        start_epoch, best = int(state["epoch"]) + 1, float(state["best"])
        print(f"resumed from {last} at epoch {start_epoch} (best {best:.4f})", flush=True)
    n_params = sum(p.numel() for p in model.parameters())
    print(
        f"model: {n_params / 1e6:.3f} M params, input {cfg.height}x{cfg.width}, T={cfg.seq_len}; "
        f"device {device}, amp {amp}, batch {batch}",
        flush=True,
    )

    t_start = time.time()
    summary: dict[str, object] = {}
    for epoch in range(start_epoch, opts.epochs):
        model.train()
        t0 = time.time()
        losses = []
        warm = opts.warmup
        for step in common.progress(range(opts.steps_per_epoch), desc=f"epoch {epoch}"):
            sched.step(epoch + step / opts.steps_per_epoch)
            global_step = epoch * opts.steps_per_epoch + step
            if global_step < warm:  # linear warm-up on top of the cosine schedule
                for g in optim.param_groups:
                    g["lr"] *= (global_step + 1) / warm
            xb, texts = sampler.batch(rng, batch)
            x = torch.from_numpy(xb).to(device)
            with common.autocast(device, amp):
                logits = model(x)
            loss = ctc_loss(logits, texts, cfg.charset)
            optim.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()  # type: ignore[no-untyped-call]
                scaler.unscale_(optim)
                nn.utils.clip_grad_norm_(model.parameters(), 5.0)
                scaler.step(optim)
                scaler.update()
            else:
                loss.backward()  # type: ignore[no-untyped-call]
                nn.utils.clip_grad_norm_(model.parameters(), 5.0)
                optim.step()
            if ema is not None:
                ema.update_parameters(model)
            losses.append(float(loss.detach()))
        train_time = time.time() - t0
        eval_model: OcrModel = ema.module if ema is not None else model  # type: ignore[assignment]
        results: dict[str, object] = {}
        valid_loss = float("nan")
        for name, (xv, texts, groups) in valid_sets.items():
            probs = predict_probs(eval_model, xv, device=device)
            results[name] = evaluate_reads(greedy_decode(probs, cfg.charset), texts, groups)
            if name == "valid":
                with torch.no_grad():
                    lp = torch.from_numpy(np.log(np.clip(probs, 1e-8, 1.0)))
                    valid_loss = float(ctc_loss(lp, texts, cfg.charset))
        common.write_json(out / f"eval_{epoch:03d}.json", results)
        valid_all: dict[str, float] = results.get("valid", {}).get("all", {})  # type: ignore[attr-defined]
        score = float(valid_all["exact"]) if valid_all else -float(np.mean(losses))
        row: dict[str, object] = {
            "epoch": epoch,
            "lr": optim.param_groups[0]["lr"],
            "train_loss": float(np.mean(losses)),
            "valid_loss": valid_loss,
            "train_s": round(train_time, 1),
        }
        for name, res in results.items():
            for grp, m in res.items():  # type: ignore[attr-defined]
                row[f"{name}/{grp}/exact"] = round(m["exact"], 4)
                row[f"{name}/{grp}/char_acc"] = round(m["char_acc"], 4)
        log.log(**row)
        is_best = score > best
        best = max(best, score)
        state = {
            "model": model.state_dict(),
            "ema": ema.state_dict() if ema is not None else None,
            "optim": optim.state_dict(),
            "sched": sched.state_dict(),
            "rng": rng.bit_generator.state,
            "epoch": epoch,
            "best": best,
            "config": cfg.to_dict(),
        }
        common.save_checkpoint(last, state)
        if is_best:
            common.save_checkpoint(
                out / "best.pt",
                {
                    "model": eval_model.state_dict(),
                    "config": cfg.to_dict(),
                    "epoch": epoch,
                    "score": score,
                    "results": results,
                },
            )
        brief = " ".join(
            f"{k}={v}"
            for k, v in row.items()
            if k.endswith("all/exact") or (k.endswith("char_acc") and "/all/" in k)
        )
        print(
            f"epoch {epoch}: loss {row['train_loss']:.4f} val_loss {valid_loss:.4f} {brief} "
            f"({train_time:.0f}s){' *' if is_best else ''}",
            flush=True,
        )
        summary = {"epoch": epoch, "best": best, "results": results}
        if opts.time_limit and (time.time() - t_start) / 60 > opts.time_limit:
            print(f"time limit {opts.time_limit} min reached after epoch {epoch}", flush=True)
            break
    common.write_json(out / "summary.json", summary)
    try:
        from alpr.train.plots import plot_losses

        plot_losses(log.rows, out / "loss.png")
    except Exception as exc:  # plots are a convenience; never lose a run over them
        print(f"plotting failed: {exc}", flush=True)
    return summary
