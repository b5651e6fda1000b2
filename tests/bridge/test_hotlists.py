"""Hotlists: CSV watchlists imported from a path and reloaded when the file changes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from alpr.bridge.config import BridgeConfig, Hotlist
from alpr.bridge.crypto import Keyring
from alpr.bridge.hotlists import HotlistLoader, parse_hotlist
from alpr.bridge.service import Bridge
from alpr.bridge.store import Ingest, Store
from alpr.errors import ConfigError
from alpr.stream.events import PlateEvent


def ev(plate: str) -> PlateEvent:
    return PlateEvent.create(camera="gate", plate=plate, confidence=0.9, box=(0, 0, 10, 5))


def test_parse(tmp_path: Path) -> None:
    cfg = Hotlist(path=tmp_path / "x.csv", reason="stolen")
    text = "plate,reason,expires\n# a comment\n\nAB123,,\nXY 999,plates stolen,2027-01-01T00:00:00Z\nQQ1\n"
    got = parse_hotlist(text, cfg)
    assert [(e["pattern"], e["reason"], e["expires_ms"]) for e in got] == [
        ("AB123", "stolen", None),
        ("XY 999", "plates stolen", 1798761600000),
        ("QQ1", "stolen", None),
    ]
    with pytest.raises(ConfigError, match=r"x.csv:2: expires"):
        parse_hotlist("AB1,,\nAB2,,soon\n", cfg)
    with pytest.raises(ConfigError, match=r"x.csv:1: expected a plate"):
        parse_hotlist("!!!,x\n", cfg)
    assert [e["pattern"] for e in parse_hotlist("AB1,x\rAB2,y\r", cfg)] == ["AB1", "AB2"]
    with pytest.raises(ConfigError, match=r"x.csv: not a CSV file"):
        parse_hotlist('"' + "A" * 200_000 + '"\n', cfg)


def test_loader_replaces_its_own_entries_only(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "stolen.csv"
    path.write_text("AB123\nCD456\n")
    manual = store.add_watch("MANUAL1", reason="by hand")
    loader = HotlistLoader(store, [Hotlist(path=path, reason="stolen")])
    assert loader.poll() == 1
    assert sorted(e.pattern for e in store.list_watch()) == ["AB123", "CD456", "MANUAL1"]
    assert loader.poll() == 0  # unchanged file: nothing to do
    path.write_text("CD456\nEF789\n")
    assert loader.poll() == 1
    assert sorted(e.pattern for e in store.list_watch()) == ["CD456", "EF789", "MANUAL1"]
    path.write_text("EF789,,not-a-date\n")  # a broken file leaves the previous import in place
    assert loader.poll() == 0
    assert sorted(e.pattern for e in store.list_watch()) == ["CD456", "EF789", "MANUAL1"]
    path.unlink()
    assert loader.poll() == 0 and len(store.list_watch()) == 3
    assert store.get_watch(manual) is not None


def test_bridge_reloads_the_file_on_schedule_and_alerts(tmp_path: Path, keyring: Keyring) -> None:
    path = tmp_path / "feed.csv"
    path.write_text("plate,reason\nSTOLEN1,stolen car\n")
    cfg = BridgeConfig(
        db=f"sqlite:///{tmp_path / 'h.db'}",
        hotlists=[Hotlist(path=path, interval_s=0.1, kind="fuzzy", max_distance=0.5)],
    )
    bridge = Bridge(cfg, keyring)
    bridge.start(consume=False)
    try:
        deadline = time.monotonic() + 10
        while len(bridge._watch) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert bridge.ingest([Ingest(ev("STOLENI"))]).alerts == 1  # fuzzy: I for 1
        path.write_text("plate,reason\nSTOLEN2,stolen car\n")
        while bridge.ingest([Ingest(ev("STOLEN2"))]).alerts == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert bridge.ingest([Ingest(ev("STOLEN1"))]).alerts == 0  # gone from the feed
        alerts = bridge.store.query_alerts()[0]
        assert (alerts[0]["reason"], alerts[0]["plate"]) == ("stolen car", "STOLEN2")
    finally:
        bridge.stop()
