#!/usr/bin/env python3
"""Check built alpr wheels the way auditwheel would, plus what this project needs inside them.

    python scripts/check_wheel.py --policy manylinux_2_28 dist/alpr_engine-*.whl

For each wheel: the platform tag names the policy and an architecture; the extension
``alpr/_native.abi3.so`` is an ELF of that architecture; every library it links (``DT_NEEDED``) is one the
manylinux policy lets a wheel take from the system; no versioned ``GLIBC_`` / ``GCC_`` symbol it needs is
newer than the policy allows; the bundled models named in ``alpr/models/manifest.json`` are inside; the
``alpr`` console script is declared. Prints one line of sizes per wheel, exits 1 on the first failure.
Uses ``readelf`` (binutils), which reads ELF files of any architecture. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

# PEP 600 / auditwheel policy: the libraries a manylinux wheel may link from the system.
ALLOWED_LIBS = {
    "libc.so.6",
    "libm.so.6",
    "libdl.so.2",
    "librt.so.1",
    "libpthread.so.0",
    "libgcc_s.so.1",
    "libstdc++.so.6",
    "libutil.so.1",
    "libresolv.so.2",
    "libnsl.so.1",
    "ld-linux-x86-64.so.2",
    "ld-linux-aarch64.so.1",
}
# ELF machine names as readelf prints them, per wheel architecture tag.
MACHINES = {"x86_64": "Advanced Micro Devices X86-64", "aarch64": "AArch64"}
# Newest symbol versions per policy (auditwheel's policy.json, the GLIBC and GCC entries).
POLICIES = {
    "manylinux_2_17": {"GLIBC": (2, 17), "GCC": (4, 8, 0)},
    "manylinux_2_28": {"GLIBC": (2, 28), "GCC": (7, 0, 0)},
    "manylinux_2_34": {"GLIBC": (2, 34), "GCC": (7, 0, 0)},
}
EXTENSION = "alpr/_native.abi3.so"


class WheelError(Exception):
    """A wheel that breaks the policy or misses a part."""


@dataclass(frozen=True)
class WheelFacts:
    """What one checked wheel holds."""

    wheel: str
    arch: str
    size: int
    unpacked: int
    extension: int
    needed: list[str]
    glibc: str
    models: list[str]

    def line(self) -> str:
        return (
            f"{self.wheel}: {self.size / 1e6:.2f} MB ({self.unpacked / 1e6:.2f} MB unpacked, extension "
            f"{self.extension / 1e6:.2f} MB), {self.arch}, links {' '.join(self.needed)}, "
            f"newest GLIBC_{self.glibc}, models {', '.join(self.models)}"
        )


def _readelf(*args: str) -> str:
    return subprocess.run(["readelf", "-W", *args], check=True, capture_output=True, text=True).stdout


def symbol_versions(so: Path) -> dict[str, tuple[int, ...]]:
    """The newest version the file needs per symbol-version family (GLIBC, GCC, ...)."""
    newest: dict[str, tuple[int, ...]] = {}
    for family, ver in re.findall(r"Name: ([A-Z]+)_([0-9.]+)", _readelf("-V", str(so))):
        v = tuple(int(x) for x in ver.split(".") if x)
        newest[family] = max(newest.get(family, v), v)
    return newest


def check_wheel(path: Path, policy: str) -> WheelFacts:
    """Check one wheel; returns its facts (sizes, links, versions) or raises WheelError."""
    m = re.fullmatch(r"alpr_engine-[^-]+-cp3\d+-abi3-(.+)\.whl", path.name)
    if not m:
        raise WheelError(f"{path.name}: not an abi3 alpr_engine wheel name")
    arch = next((a for a in MACHINES if m.group(1).endswith("_" + a)), None)
    if arch is None or f"{policy}_{arch}" not in m.group(1).split("."):
        raise WheelError(f"{path.name}: platform tag {m.group(1)!r} is not {policy} x86_64/aarch64")
    with zipfile.ZipFile(path) as zf, tempfile.TemporaryDirectory() as tmp:
        names = set(zf.namelist())
        if EXTENSION not in names:
            raise WheelError(f"{path.name}: no {EXTENSION}")
        so = Path(zf.extract(EXTENSION, tmp))
        if "alpr/models/manifest.json" not in names:
            raise WheelError(f"{path.name}: no bundled alpr/models/manifest.json")
        manifest = json.loads(zf.read("alpr/models/manifest.json"))
        entries = manifest["models"].values()
        models = sorted(
            {e["file"] for e in entries}
            | {v["file"] for e in entries for v in e.get("variants", {}).values()}
        )
        missing = [f for f in models if f"alpr/models/{f}" not in names]
        if missing:
            raise WheelError(f"{path.name}: bundled models missing: {missing}")
        entry = next((n for n in names if n.endswith(".dist-info/entry_points.txt")), None)
        if entry is None or not re.search(r"^alpr\s*=\s*alpr\.cli:main\s*$", zf.read(entry).decode(), re.M):
            raise WheelError(f"{path.name}: no `alpr` console script")
        unpacked = sum(i.file_size for i in zf.infolist())
        machine = re.search(r"Machine:\s+(.+)", _readelf("-h", str(so)))
        if not machine or machine.group(1).strip() != MACHINES[arch]:
            raise WheelError(f"{path.name}: extension is {machine and machine.group(1)!r}, not {arch}")
        needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", _readelf("-d", str(so)))
        bad = sorted(set(needed) - ALLOWED_LIBS)
        if bad:
            raise WheelError(f"{path.name}: links libraries outside the manylinux policy: {bad}")
        versions = symbol_versions(so)
        for family, limit in POLICIES[policy].items():
            if family in versions and versions[family] > limit:
                have = ".".join(map(str, versions[family]))
                raise WheelError(f"{path.name}: needs {family}_{have}, newer than {policy} allows")
        so_size = so.stat().st_size
    return WheelFacts(
        wheel=path.name,
        arch=arch,
        size=path.stat().st_size,
        unpacked=unpacked,
        extension=so_size,
        needed=needed,
        glibc=".".join(map(str, versions.get("GLIBC", ()))),
        models=models,
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--policy", default="manylinux_2_28", choices=sorted(POLICIES))
    ap.add_argument("wheels", nargs="+", type=Path)
    args = ap.parse_args(argv)
    for w in args.wheels:
        try:
            r = check_wheel(w, args.policy)
        except WheelError as e:
            print(f"check_wheel: FAIL {e}", file=sys.stderr)
            return 1
        print(f"check_wheel: OK {r.line()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
