"""scripts/build-wheels.sh and scripts/test-aarch64.sh parse and lint clean; scripts/check_wheel.py (the
auditwheel-style wheel check they run) passes a good wheel and names what is wrong with a bad one.

The builds themselves (minutes, a debootstrap root, qemu) are not run here: see deploy/README.md."""

from __future__ import annotations

import importlib.util
import json
import platform
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ["scripts/build-wheels.sh", "scripts/test-aarch64.sh", "scripts/lib/roots.sh"]
NATIVE = ROOT / "python" / "alpr" / "_native.abi3.so"


def _check_wheel() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_wheel", ROOT / "scripts" / "check_wheel.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["check_wheel"] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("script", SCRIPTS)
def test_script_parses(script: str) -> None:
    r = subprocess.run(["bash", "-n", str(ROOT / script)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed (system-deps.sh)")
def test_scripts_pass_shellcheck() -> None:
    r = subprocess.run(["shellcheck", "-x", *SCRIPTS], cwd=ROOT, capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stdout + r.stderr


def test_build_script_targets_both_arches_the_policy_and_keeps_roots_outside() -> None:
    text = (ROOT / "scripts" / "build-wheels.sh").read_text()
    assert text.startswith("#!/usr/bin/env bash") and "set -euo pipefail" in text
    for needle in ("x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu", "maturin sdist"):
        assert needle in text
    assert "--compatibility $POLICY" in text and "--auditwheel check" in text
    assert re.search(r'POLICY="\$\{ALPR_MANYLINUX:-manylinux_2_28\}"', text)
    assert "check_wheel.py" in text and "auditwheel show" in text
    # The roots are made outside the repository, never under it.
    roots = (ROOT / "scripts" / "lib" / "roots.sh").read_text()
    defaults = re.findall(r"ALPR_ROOTS=(\S+);", roots)
    assert defaults and all(not d.startswith(("./", "$PWD", "$REPO")) for d in defaults)


def test_aarch64_script_runs_the_suites_and_alpr_read_and_fails_loudly() -> None:
    text = (ROOT / "scripts" / "test-aarch64.sh").read_text()
    assert "set -euo pipefail" in text and "--arch=arm64" in text
    assert "tests/native tests/pipeline" in text and "not slow and not gpu and not services" in text
    assert "alpr read" in text and 'die "aarch64 wheel' in text
    # Not part of the default CI run (it is minutes under emulation).
    assert "test-aarch64" not in (ROOT / "scripts" / "test.sh").read_text()


def _wheel(tmp: Path, name: str, so: Path, *, models: bool = True, entry: bool = True) -> Path:
    path = tmp / name
    manifest = json.loads((ROOT / "python" / "alpr" / "models" / "manifest.json").read_text())
    entries = manifest["models"].values()
    files = sorted(
        {e["file"] for e in entries} | {v["file"] for e in entries for v in e["variants"].values()}
    )
    with zipfile.ZipFile(path, "w") as zf:
        zf.write(so, "alpr/_native.abi3.so")
        zf.writestr("alpr/models/manifest.json", json.dumps(manifest))
        for f in files if models else files[1:]:
            zf.writestr(f"alpr/models/{f}", b"onnx")
        if entry:
            zf.writestr(
                "alpr_engine-0.1.0.dist-info/entry_points.txt", "[console_scripts]\nalpr = alpr.cli:main\n"
            )
    return path


needs_elf = pytest.mark.skipif(
    shutil.which("readelf") is None
    or not NATIVE.is_file()
    or platform.machine() not in ("x86_64", "aarch64"),
    reason="needs readelf and the built extension",
)
ARCH = platform.machine()
GOOD = f"alpr_engine-0.1.0-cp310-abi3-manylinux_2_99_{ARCH}.whl"


def _with_test_policy(cw: ModuleType) -> ModuleType:
    cw.POLICIES["manylinux_2_99"] = {"GLIBC": (2, 99), "GCC": (99, 0, 0)}
    return cw


@needs_elf
def test_check_wheel_accepts_a_complete_wheel_and_reports_its_facts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cw = _with_test_policy(_check_wheel())
    w = _wheel(tmp_path, GOOD, NATIVE)
    facts = cw.check_wheel(w, "manylinux_2_99")
    assert facts.arch == ARCH and "libc.so.6" in facts.needed
    assert "plate_detector.onnx" in facts.models and "plate_ocr.onnx" in facts.models
    assert facts.size == w.stat().st_size and facts.extension == NATIVE.stat().st_size
    assert re.fullmatch(r"2\.\d+", facts.glibc)
    assert cw.main(["--policy", "manylinux_2_99", str(w)]) == 0
    assert f"check_wheel: OK {GOOD}" in capsys.readouterr().out


@needs_elf
def test_check_wheel_names_each_defect(tmp_path: Path) -> None:
    import _ssl  # links libssl/libcrypto: libraries no manylinux policy allows

    cw = _with_test_policy(_check_wheel())
    other = "aarch64" if ARCH == "x86_64" else "x86_64"
    cases: list[tuple[str, dict[str, Any], str, str]] = [
        (GOOD, {"models": False}, "manylinux_2_99", "bundled models missing"),
        (GOOD, {"entry": False}, "manylinux_2_99", "console script"),
        (GOOD.replace(ARCH, other), {}, "manylinux_2_99", f"not {other}"),
        (GOOD, {}, "manylinux_2_28", "is not manylinux_2_28"),
        ("alpr-0.1.0-py3-none-any.whl", {}, "manylinux_2_99", "not an abi3"),
        (GOOD, {"so": Path(_ssl.__file__)}, "manylinux_2_99", "outside the manylinux policy"),
    ]
    if cw.symbol_versions(NATIVE).get("GLIBC", (0,)) > (2, 17):  # any current build needs newer than 2.17
        cases.append((GOOD.replace("2_99", "2_17"), {}, "manylinux_2_17", "newer than manylinux_2_17"))
    for i, (name, kw, policy, message) in enumerate(cases):
        folder = tmp_path / str(i)
        folder.mkdir()
        wheel = _wheel(folder, name, kw.pop("so", NATIVE), **kw)
        with pytest.raises(cw.WheelError, match=message):
            cw.check_wheel(wheel, policy)
    assert cw.main(["--policy", "manylinux_2_28", str(tmp_path / "3" / GOOD)]) == 1
