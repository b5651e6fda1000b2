"""``alpr doctor``: checks the models, the engine providers, the clock, the disk and (optionally) the camera.

Each check returns a :class:`Check` record; :func:`run_checks` collects them and the command prints a table
(or ``--json``) and exits 1 when any check failed, each failure carrying what to do about it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "Check",
    "add_parsers",
    "check_clock",
    "check_disk",
    "check_models",
    "check_providers",
    "check_source",
    "run_checks",
]

#: Years outside this range mean an unset RTC (boards without a battery boot in 1970 or 2000).
_PLAUSIBLE_YEARS = (2024, 2100)


@dataclass(frozen=True, slots=True)
class Check:
    """One doctor line: ``name``, ``ok``, what was found (``detail``) and, when not ok, ``fix``."""

    name: str
    ok: bool
    detail: str
    fix: str = ""


def check_models(folder: Path | None = None) -> list[Check]:
    """Every manifest model and variant present with the manifest's sha256."""
    from alpr._models import ModelEntry, load_manifest
    from alpr.engines.base import file_sha256
    from alpr.errors import ModelLoadError

    try:
        root, manifest = load_manifest(folder)
    except ModelLoadError as exc:
        return [Check("models", False, str(exc), "reinstall alpr-engine or set ALPR_MODELS_DIR")]
    out = []
    for kind, raw in sorted(manifest["models"].items()):
        try:
            entry = ModelEntry.model_validate(raw)
        except ValueError as exc:
            out.append(Check(f"model {kind}", False, f"invalid manifest entry: {exc}", "reinstall"))
            continue
        files = {"": (entry.file, entry.sha256)}
        files.update({f".{k}": (v.file, v.sha256) for k, v in entry.variants.items()})
        for suffix, (name, sha) in files.items():
            label, path = f"model {kind}{suffix}", root / name
            if not path.is_file():
                out.append(Check(label, False, f"missing: {path}", "reinstall alpr-engine (file not found)"))
            elif sha and file_sha256(path) != sha:
                out.append(
                    Check(label, False, f"sha256 mismatch: {path}", "corrupt or replaced file: reinstall")
                )
            else:
                out.append(Check(label, True, f"{path.name} ({path.stat().st_size / 1e6:.1f} MB)"))
    return out


def check_providers() -> list[Check]:
    """ONNX Runtime's execution providers, and whether TensorRT / OpenVINO are importable."""
    try:
        import onnxruntime as ort
    except ImportError as exc:  # pragma: no cover - a hard dependency
        return [Check("onnxruntime", False, str(exc), "pip install onnxruntime")]
    out = [Check("onnxruntime", True, f"{ort.__version__}: {', '.join(ort.get_available_providers())}")]
    for mod, extra in (("tensorrt", "tensorrt"), ("openvino", "openvino")):
        found = importlib.util.find_spec(mod) is not None
        # Optional runtimes: their absence is information, not a failure.
        out.append(Check(mod, True, "available" if found else f"not installed (alpr-engine[{extra}])"))
    return out


def check_clock(now: dt.datetime | None = None) -> list[Check]:
    """The year is plausible and, where ``timedatectl`` exists, NTP has synchronised the clock."""
    now = now or dt.datetime.now(dt.timezone.utc)
    lo, hi = _PLAUSIBLE_YEARS
    stamp = now.isoformat(timespec="seconds")
    if lo <= now.year < hi:
        out = [Check("clock", True, stamp)]
    else:
        out = [Check("clock", False, f"implausible time {stamp}", "set the clock / enable NTP")]
    if shutil.which("timedatectl"):
        try:
            res = subprocess.run(
                ["timedatectl", "show", "-p", "NTPSynchronized", "--value"],
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            out.append(Check("ntp", True, f"unknown ({exc})"))
        else:
            val = res.stdout.strip()
            if val == "yes":
                out.append(Check("ntp", True, "synchronised"))
            elif val == "no":
                out.append(Check("ntp", False, "not synchronised", "sudo timedatectl set-ntp true"))
            else:
                out.append(Check("ntp", True, "unknown (no systemd-timedated)"))
    return out


def check_disk(path: Path, min_free_mb: float = 500.0) -> list[Check]:
    """Free space at ``path`` (its nearest existing parent) is at least ``min_free_mb``."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free_mb = shutil.disk_usage(probe).free / 1e6
    if free_mb < min_free_mb:
        return [
            Check(
                "disk",
                False,
                f"{free_mb:.0f} MB free at {probe} (< {min_free_mb:.0f} MB)",
                "free space or point the database/output elsewhere",
            )
        ]
    return [Check("disk", True, f"{free_mb:.0f} MB free at {probe}")]


def check_source(source: str, timeout: float = 15.0) -> list[Check]:
    """``source`` (camera index, file, URL, pipeline) opens and yields one frame within ``timeout`` s."""
    import queue

    from alpr.errors import AlprError
    from alpr.sources import open_source

    fix = "check the camera cable, URL, permissions (group video) or the file path"
    try:
        src = open_source(source)
    except (AlprError, OSError, ValueError) as exc:
        return [Check("source", False, f"{source}: {exc}", fix)]
    try:
        frame = src.get(timeout=timeout)
    except queue.Empty:
        frame = None
    finally:
        src.close()
    if frame is None:
        why = src.error or f"no frame within {timeout:.0f} s"
        return [Check("source", False, f"{source}: {why}", fix)]
    h, w = frame.image.shape[:2]
    return [Check("source", True, f"{source}: {w}x{h} frame read")]


def run_checks(
    *, source: str | None = None, data_path: Path = Path("."), min_free_mb: float = 500.0
) -> list[Check]:
    """All checks, in table order."""
    checks = check_models() + check_providers() + check_clock() + check_disk(data_path, min_free_mb)
    if source is not None:
        checks += check_source(source)
    return checks


def _cmd(args: argparse.Namespace) -> int:
    checks = run_checks(source=args.source, data_path=Path(args.data), min_free_mb=args.min_free_mb)
    if args.json:
        import orjson

        print(orjson.dumps([asdict(c) for c in checks]).decode())
    else:
        width = max(len(c.name) for c in checks)
        for c in checks:
            line = f"{'ok  ' if c.ok else 'FAIL'}  {c.name:<{width}}  {c.detail}"
            print(line + (f"  -> {c.fix}" if not c.ok and c.fix else ""))
    bad = [c for c in checks if not c.ok]
    if bad:
        print(f"alpr: error: {len(bad)} check(s) failed", file=sys.stderr)
    return 1 if bad else 0


def add_parsers(sub: Any) -> None:
    """Register ``alpr doctor`` on the top-level subparsers."""
    p = sub.add_parser("doctor", help="check camera, models, engine providers, clock and disk")
    p.add_argument("--source", help="also open this source (camera index, file, URL) and read a frame")
    p.add_argument("--data", default=".", metavar="DIR", help="database/output folder to check (default .)")
    p.add_argument("--min-free-mb", type=float, default=500.0, metavar="MB", help="disk threshold")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd)
