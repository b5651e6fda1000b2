"""scripts/wait-bridge.sh, which scripts/demo.sh uses to notice a bridge that did not start."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from netutil import free_port

ROOT = Path(__file__).resolve().parents[1]
WAIT = ROOT / "scripts" / "wait-bridge.sh"

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")


def _wait(pid: int, url: str, token: str, log: Path, limit: int = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(WAIT), str(pid), url, token, str(log), str(limit)],
        capture_output=True,
        text=True,
        timeout=limit + 30,
    )


def _keys(tmp_path: Path) -> Path:
    from alpr.bridge.crypto import generate_keyfile

    generate_keyfile(tmp_path / "k.json")
    return tmp_path / "k.json"


def _token(tmp_path: Path, db: str, keys: Path) -> str:
    from alpr.bridge.crypto import Keyring
    from alpr.bridge.store import Store

    store = Store(db, Keyring.load(keys))
    token = store.create_token("viewer")
    store.close()
    return token


def test_a_bridge_that_exits_is_reported_with_its_log(tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    keys = _keys(tmp_path)
    port = free_port()
    with socket.socket() as taken:  # the port is in use: uvicorn cannot bind and the bridge exits
        taken.bind(("127.0.0.1", port))
        taken.listen()
        db = f"sqlite:///{tmp_path / 'a.db'}"
        token = _token(tmp_path, db, keys)
        with log.open("w") as f:
            cmd = [sys.executable, "-m", "alpr", "serve", "--db", db, "--key-file", str(keys)]
            p = subprocess.Popen([*cmd, "--http", f"127.0.0.1:{port}"], stdout=f, stderr=subprocess.STDOUT)
        try:
            r = _wait(p.pid, f"http://127.0.0.1:{port}", token, log)
        finally:
            p.kill()
            p.wait()
    assert r.returncode == 1
    assert "exited before it answered" in r.stderr and "address already in use" in r.stderr.lower(), r.stderr


def test_a_running_bridge_is_waited_for(tmp_path: Path) -> None:
    keys, port, log = _keys(tmp_path), free_port(), tmp_path / "serve.log"
    db = f"sqlite:///{tmp_path / 'a.db'}"
    token = _token(tmp_path, db, keys)
    with log.open("w") as f:
        cmd = [sys.executable, "-m", "alpr", "serve", "--db", db, "--key-file", str(keys)]
        p = subprocess.Popen([*cmd, "--http", f"127.0.0.1:{port}"], stdout=f, stderr=subprocess.STDOUT)
    try:
        t0 = time.monotonic()
        r = _wait(p.pid, f"http://127.0.0.1:{port}", token, log)
        assert r.returncode == 0, r.stderr
        assert time.monotonic() - t0 < 30
        # A wrong token never gets a healthy answer: the wait runs out and says so.
        r = _wait(p.pid, f"http://127.0.0.1:{port}", "alpr_wrong", log, limit=2)
        assert r.returncode == 1 and "did not answer" in r.stderr
    finally:
        p.terminate()
        p.wait(30)


def test_usage_error() -> None:
    r = subprocess.run(["bash", str(WAIT)], capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "usage" in r.stderr


def _fake_bin(tmp_path: Path, installed: set[str]) -> tuple[Path, Path]:
    """dpkg-query / apt-get / service / sudo / id stand-ins that log their calls."""
    bin_, log = tmp_path / "bin", tmp_path / "calls.log"
    bin_.mkdir()
    known = " ".join(sorted(installed))
    stubs = {
        "dpkg-query": (
            f'for p in {known}; do [ "${{@: -1}}" = "$p" ] && {{ echo "install ok installed"; exit 0; }};'
            " done; exit 1"
        ),
        "apt-get": f'echo "apt-get $*" >> {log}',
        "service": f'echo "service $*" >> {log}',
        "sudo": '"$@"',
        "id": "echo 0",
    }
    for name, body in stubs.items():
        (bin_ / name).write_text(f"#!/usr/bin/env bash\n{body}\n")
        (bin_ / name).chmod(0o755)
    return bin_, log


def _system_deps(bin_: Path) -> subprocess.CompletedProcess[str]:
    import os

    env = {**os.environ, "PATH": f"{bin_}:{os.environ['PATH']}"}
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / "system-deps.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_system_deps_leaves_a_running_broker_and_database_alone(tmp_path: Path) -> None:
    # mosquitto and postgresql were already there (and may be serving the user); only a font is missing.
    bin_, log = _fake_bin(
        tmp_path, {"mosquitto", "postgresql", "mosquitto-clients", "libzmq3-dev", "chromium"}
    )
    r = _system_deps(bin_)
    assert r.returncode == 0, r.stderr
    calls = log.read_text()
    assert "apt-get install" in calls and "fonts-roadgeek" in calls
    assert "service" not in calls and "mosquitto" not in calls.split("install", 1)[1]


def test_system_deps_stops_only_what_it_installed(tmp_path: Path) -> None:
    bin_, log = _fake_bin(tmp_path, {"postgresql"})
    assert _system_deps(bin_).returncode == 0
    calls = log.read_text().splitlines()
    assert "service mosquitto stop" in calls and "service postgresql stop" not in calls


def test_system_deps_does_nothing_when_all_is_installed(tmp_path: Path) -> None:
    # The script's own package list (one `pkgs=(...)` line), so a package added there is covered here.
    line = next(
        ln for ln in (ROOT / "scripts" / "system-deps.sh").read_text().splitlines() if ln.startswith("pkgs=(")
    )
    pkgs = set(line.removeprefix("pkgs=(").removesuffix(")").split())
    assert {"mosquitto", "postgresql", "chromium"} <= pkgs
    bin_, log = _fake_bin(tmp_path, pkgs)
    assert _system_deps(bin_).returncode == 0 and not log.exists()
