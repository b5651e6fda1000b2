"""The short variant of ``benches/soak.py`` (the 10,000-frame run and its RSS curve are in
``benches/RESULTS.md``): a rendered video through ``alpr run`` with tracking, publishing to a durable
outbox and a ``ReliableConsumer`` that acknowledges; every printed event must arrive, the run must end 0."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from alpr._models import load_manifest, models_dir
from alpr.errors import ModelLoadError

ROOT = Path(__file__).resolve().parents[2]


def _soak() -> Any:
    spec = importlib.util.spec_from_file_location("soak", ROOT / "benches" / "soak.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.timeout(300)
def test_short_soak_delivers_every_event(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ALPR_MODELS_DIR", raising=False)
    try:
        load_manifest(models_dir())
    except ModelLoadError:
        pytest.skip("bundled models not present")
    soak = _soak()
    video = tmp_path / "soak.mp4"
    truth = soak.render(video, 500, (640, 360))
    res = soak.run_alpr(video, tmp_path)
    assert res["rc"] == 0, res["stderr_tail"]
    assert res["events_printed"] >= len(truth) // 2
    assert res["events_received"] == res["events_printed"]
    # the frames counter of /health was sampled while it ran, and it only grows
    frames = [s["frames"] for s in res["samples"] if s["frames"] is not None]
    assert frames and frames == sorted(frames)
    right = sum(t["plate"] in set(res["plates_received"]) for t in truth)
    assert right >= len(truth) // 2, (res["plates_received"], [t["plate"] for t in truth])
