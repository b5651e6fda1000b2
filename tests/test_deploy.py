"""The deployment files parse and carry what running unattended needs (deploy/, .github/workflows/)."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[1]


def _unit(name: str) -> configparser.ConfigParser:
    cp = configparser.ConfigParser(interpolation=None, strict=True)
    cp.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    cp.read_string((ROOT / "deploy" / "systemd" / name).read_text())
    return cp


@pytest.mark.parametrize("name", ["alpr-run.service", "alpr-serve.service"])
def test_units_restart_journal_and_etc_config(name: str) -> None:
    unit = _unit(name)
    assert set(unit.sections()) == {"Unit", "Service", "Install"}
    svc = unit["Service"]
    assert svc["Restart"] == "on-failure" and int(svc["RestartSec"]) > 0
    assert svc["StandardOutput"] == "journal" and svc["StandardError"] == "journal"
    assert svc["EnvironmentFile"].startswith("/etc/alpr/")
    argv = shlex.split(svc["ExecStart"])
    assert argv[0].endswith("/alpr") and argv[1] == name.split("-")[1].split(".")[0]
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_run_unit_watchdog_matches_the_process() -> None:
    from alpr.cli import build_parser

    svc = _unit("alpr-run.service")["Service"]
    # Type=notify only works because alpr run sends READY=1 (alpr.stream.health.Watchdog).
    assert svc["Type"] == "notify" and int(svc["WatchdogSec"]) >= 10
    argv = [a for a in shlex.split(svc["ExecStart"])[1:] if a != "$ALPR_RUN_ARGS"]
    args = build_parser().parse_args([*argv, "rtsp://camera"])
    assert args.health_port == 8081 and args.no_progress


def test_env_example_keys_are_used_by_the_units() -> None:
    env = (ROOT / "deploy" / "systemd" / "alpr.env.example").read_text()
    keys = {ln.split("=", 1)[0] for ln in env.splitlines() if ln and not ln.startswith("#")}
    assert keys == {"ALPR_RUN_ARGS", "ALPR_SERVE_ARGS"}


def test_release_workflow_builds_tests_and_publishes_both_arches() -> None:
    wf = yaml.safe_load((ROOT / ".github" / "workflows" / "release.yml").read_text())
    jobs = wf["jobs"]
    assert {"wheels", "sdist", "test", "publish"} <= set(jobs)
    assert set(jobs["wheels"]["strategy"]["matrix"]["target"]) == {"x86_64", "aarch64"}
    steps = jobs["wheels"]["steps"]
    assert any(str(s.get("uses", "")).startswith("PyO3/maturin-action") for s in steps)
    tested = {m["target"] for m in jobs["test"]["strategy"]["matrix"]["include"]}
    assert tested == {"x86_64", "aarch64"} and set(jobs["publish"]["needs"]) == {"wheels", "sdist", "test"}


def test_dockerfile_installs_the_wheel_per_arch() -> None:
    text = (ROOT / "deploy" / "Dockerfile").read_text()
    assert "ARG TARGETARCH" in text and "alpr_engine-" in text and "aarch64" in text
    assert "HEALTHCHECK" in text and 'ENTRYPOINT ["alpr"]' in text
