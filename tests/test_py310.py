"""Python 3.10, which ``requires-python`` promises: no 3.11-only syntax, stdlib module or typing name.

vermin reads the sources (it finds ``import tomllib`` without a version guard, ``typing.Self``,
``except*``, ...); ``tomllib`` itself comes from :mod:`alpr._compat` (``tomli`` before 3.11).
The core tests were also run on CPython 3.10 (README, "Tests": "Python versions").
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _vermin(*paths: Path) -> subprocess.CompletedProcess[str]:
    pytest.importorskip("vermin", reason="needs the dev extra: pip install 'alpr-engine[dev]'")
    exe = shutil.which("vermin", path=str(Path(sys.executable).parent)) or "vermin"
    cmd = [exe, "-t=3.10-", "--violations", "--no-tips", "--eval-annotations", *map(str, paths)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def test_package_runs_on_python_3_10() -> None:
    out = _vermin(ROOT / "python" / "alpr")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Minimum required versions: 3.10" in out.stdout


def test_the_check_catches_a_3_11_only_import(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text('import tomllib\n\nDATA = tomllib.loads("a = 1")\n')
    out = _vermin(tmp_path)
    assert out.returncode != 0 and "3.11" in out.stdout


def test_tomllib_comes_from_the_compat_shim() -> None:
    """Every TOML reader of the package goes through alpr._compat (a bare ``import tomllib`` is 3.11+)."""
    bare = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "python" / "alpr").rglob("*.py")
        if p.name != "_compat.py"
        and any(line.strip() == "import tomllib" for line in p.read_text(encoding="utf-8").splitlines())
    ]
    assert bare == [], bare
