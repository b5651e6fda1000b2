"""Shared training utilities: seeding, device and AMP selection, checkpoints, metrics logs, progress bars.

Used by every trainer in :mod:`alpr.train` (OCR and detector). The API here is kept stable:

* :func:`seed_everything` - seed Python, NumPy and torch (CPU and CUDA).
* :func:`select_device` / :func:`amp_dtype` / :func:`autocast` - pick the device and mixed precision.
* :func:`set_threads` - cap torch's intra-op threads (the dev machine has 2 shared cores).
* :func:`auto_batch_size` - a batch size from the memory the device has free.
* :func:`save_checkpoint` / :func:`load_checkpoint` - atomic, resumable checkpoints.
* :class:`MetricsLog` - one row per epoch (or step) to ``metrics.csv`` and ``metrics.jsonl``.
* :func:`progress` - a tqdm bar that goes quiet when stderr is not a terminal.
* :func:`write_json` / :func:`read_json` - small JSON helpers with sorted, indented output.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import random
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

__all__ = [
    "MODEL_VERSION",
    "MetricsLog",
    "amp_dtype",
    "auto_batch_size",
    "autocast",
    "load_checkpoint",
    "progress",
    "read_json",
    "save_checkpoint",
    "seed_everything",
    "select_device",
    "set_threads",
    "write_json",
]

T = TypeVar("T")

MODEL_VERSION = "0.4.0"
"""Version written into each exported model's manifest entry: 0.1.0 = the first weights (partly trained
on sources without a licence), 0.2.0 = retrained without them, pseudo-labelled OCR data."""


def seed_everything(seed: int, *, deterministic: bool = False) -> np.random.Generator:
    """Seed Python's ``random``, NumPy's global state and torch (CPU and all CUDA devices).

    Args:
        seed: the seed.
        deterministic: also ask torch for deterministic kernels (slower; cuDNN benchmark off).

    Returns:
        A fresh ``np.random.Generator`` seeded with ``seed``, for code that prefers explicit generators.
    """
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    return np.random.default_rng(seed)


def set_threads(num_threads: int | None) -> None:
    """Cap torch's intra-op CPU threads (``None`` or ``<= 0`` leaves torch's default)."""
    if num_threads is not None and num_threads > 0:
        torch.set_num_threads(num_threads)


def select_device(name: str = "auto") -> torch.device:
    """Pick the torch device.

    Args:
        name: ``"auto"`` (CUDA if available, else MPS, else CPU), or an explicit torch device string
            such as ``"cpu"``, ``"cuda"``, ``"cuda:1"``.

    Raises:
        ValueError: an explicit CUDA/MPS device was asked for and is not available.
    """
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device: expected an available device, got {name!r} (torch sees no CUDA device)")
    return device


def amp_dtype(device: torch.device, mode: str = "auto") -> torch.dtype | None:
    """The autocast dtype to train with on ``device``, or ``None`` for plain fp32.

    Args:
        device: the training device.
        mode: ``"auto"`` (bf16 on CUDA devices that support it, else fp16 on CUDA; fp32 elsewhere),
            ``"bf16"``, ``"fp16"`` or ``"off"``.
    """
    if mode == "off":
        return None
    if mode not in ("auto", "bf16", "fp16"):
        raise ValueError(f"amp: expected one of auto, bf16, fp16, off, got {mode!r}")
    if device.type != "cuda":
        # CPU autocast (bf16) is slower than fp32 on most CPUs without AMX; keep fp32 there.
        return None
    if mode == "fp16":
        return torch.float16
    if mode == "bf16" or torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager[Any]:
    """A ``torch.autocast`` context for ``dtype`` on ``device``, or a no-op context when ``dtype`` is None."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def auto_batch_size(
    bytes_per_sample: int,
    device: torch.device,
    *,
    fraction: float = 0.25,
    minimum: int = 8,
    maximum: int = 512,
) -> int:
    """A power-of-two batch size that uses about ``fraction`` of the free memory of ``device``.

    Args:
        bytes_per_sample: estimated training memory per sample (activations + gradients), in bytes.
        device: CUDA devices report free memory through ``torch.cuda.mem_get_info``; on the CPU the
            available RAM is read from ``/proc/meminfo`` (or 4 GiB is assumed).
        fraction: the share of free memory to plan for.
        minimum: lower bound of the result.
        maximum: upper bound of the result.
    """
    if bytes_per_sample <= 0:
        raise ValueError(f"bytes_per_sample: expected > 0, got {bytes_per_sample}")
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
    else:
        free = _available_ram()
    fit = max(1, int(free * fraction) // bytes_per_sample)
    size = 1 << (fit.bit_length() - 1)
    return int(min(maximum, max(minimum, size)))


def _available_ram() -> int:
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 4 << 30


def save_checkpoint(path: str | os.PathLike[str], state: Mapping[str, Any]) -> Path:
    """Write ``state`` with ``torch.save`` atomically (temp file + rename), creating parent folders.

    A crash mid-write never leaves a truncated checkpoint behind, so resuming always finds a good one.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=target.name, suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        torch.save(dict(state), tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def load_checkpoint(path: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint`.

    Raises:
        FileNotFoundError: ``path`` does not exist.
    """
    target = Path(path)
    if not target.is_file():
        raise FileNotFoundError(f"checkpoint: expected a file, got {str(target)!r} (not found)")
    state = torch.load(target, map_location=map_location, weights_only=False)
    if not isinstance(state, dict):
        raise ValueError(f"checkpoint: expected a dict, got {type(state).__name__}")
    return state


class MetricsLog:
    """Append-only metrics log: ``metrics.csv`` (one column per key ever seen) and ``metrics.jsonl``.

    The CSV is rewritten whole on each :meth:`log` (logs are small: one row per epoch), so a new key
    appearing later simply adds a column. Opening an existing run folder reloads its rows, which keeps
    the log continuous across resumes.

    Args:
        run_dir: the run folder; created if missing.
        resume: keep the rows already in ``run_dir/metrics.jsonl`` (else start a fresh log).
    """

    def __init__(self, run_dir: str | os.PathLike[str], *, resume: bool = True) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.csv_path = self.run_dir / "metrics.csv"
        self.jsonl_path = self.run_dir / "metrics.jsonl"
        self.rows: list[dict[str, Any]] = []
        if resume and self.jsonl_path.is_file():
            with open(self.jsonl_path, encoding="utf-8") as fh:
                self.rows = [json.loads(line) for line in fh if line.strip()]
        else:
            self.jsonl_path.write_text("", encoding="utf-8")

    def log(self, **values: Any) -> dict[str, Any]:
        """Append one row (numbers, strings or None); returns the row as stored."""
        row = {k: _plain(v) for k, v in values.items()}
        self.rows.append(row)
        with open(self.jsonl_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")
        self._write_csv()
        return row

    def column(self, key: str) -> list[Any]:
        """The values of ``key`` over all rows (None where a row lacks it)."""
        return [row.get(key) for row in self.rows]

    def _write_csv(self) -> None:
        keys: list[str] = []
        for row in self.rows:
            keys.extend(k for k in row if k not in keys)
        tmp = self.csv_path.with_suffix(".csv.tmp")
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=keys)
            writer.writeheader()
            writer.writerows(self.rows)
        os.replace(tmp, self.csv_path)


def _plain(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().item() if value.numel() == 1 else value.detach().cpu().tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    return value


def progress(
    iterable: Iterable[T], *, desc: str = "", total: int | None = None, disable: bool | None = None
) -> Iterator[T]:
    """Wrap ``iterable`` in a tqdm progress bar.

    Args:
        iterable: what to iterate.
        desc: the bar's label.
        total: number of items when ``iterable`` has no ``len``.
        disable: force the bar off (True) or on (False); by default it shows only on a terminal, so
            background runs with redirected output do not fill their logs with carriage returns.
    """
    from tqdm import tqdm

    if disable is None:
        disable = not sys.stderr.isatty()
    return iter(tqdm(iterable, desc=desc, total=total, disable=disable, dynamic_ncols=True, leave=False))


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write ``obj`` as indented, key-sorted JSON (numpy/torch scalars converted); returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(obj, indent=2, sort_keys=True, default=_plain) + "\n", encoding="utf-8")
    return target


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read a JSON file."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def max_abs_diff(ref: np.ndarray, got: np.ndarray, atol: float) -> float:
    """Max |ref - got| of an exported model's output against the training framework's (export checks).

    Raises:
        AssertionError: the shapes differ or the difference exceeds ``atol``.
    """
    if ref.shape != got.shape:
        raise AssertionError(f"onnx output: expected shape {ref.shape}, got {got.shape}")
    diff = float(np.abs(ref - got).max())
    if diff > atol:
        raise AssertionError(f"onnx output: expected max |torch - ort| <= {atol}, got {diff:.3g}")
    return diff
