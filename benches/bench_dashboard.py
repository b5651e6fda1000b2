"""Dashboard page load with 1 M stored reads (issue 12: "stays under 1 s on this machine").

A page load here is what a signed-in browser fetches to show the operator page: ``/`` and its static
files, the live view's first lists (``/api/v1/reads?limit=20``, ``/api/v1/alerts?state=open&limit=20``),
the camera health and the stats charts (``/api/v1/stats/charts?hours=24&days=14``), one after the other
over real HTTP to ``create_app`` on uvicorn, SQLite store. Baseline in the same run: the same page load on
a store with 1,000 reads (what the page costs before the data grows).

With ``--browser``, also the page as an operator sees it: Debian's Chromium driven by Playwright, signed
in once, then per round a reload of the Live view until its newest read is on screen, and a switch to
the Stats view until its first chart is drawn (rendering and scripts included).

    python benches/bench_dashboard.py --reads 1000000 --rounds 20 [--browser]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import httpx  # noqa: E402
import uvicorn  # noqa: E402

from alpr.bridge.api import create_app  # noqa: E402
from alpr.bridge.crypto import generate_keyfile  # noqa: E402
from alpr.bridge.store import Ingest, Store  # noqa: E402
from alpr.stream.events import PlateEvent  # noqa: E402
from netutil import free_port, serving  # noqa: E402

PAGE = [
    "/",
    "/app.js",
    "/app.css",
    "/live.js",
    "/reads.js",
    "/cameras.js",
    "/api/v1/reads?limit=20",
    "/api/v1/alerts?state=open&limit=20",
    "/api/v1/camera-health",
    "/api/v1/stats/charts?hours=24&days=14",
]


def fill(store: Store, filler: int, real: int) -> None:
    """``filler`` reads spread over the last 14 days (volume for the charts and indexes; their
    ciphertext is a placeholder, they are older than every real read so no listing decrypts them),
    then ``real`` encrypted reads through the normal ingest (the newest)."""
    now = datetime.now(timezone.utc)
    t_end = int((now - timedelta(hours=1)).timestamp() * 1000)
    span = 14 * 86_400_000
    if filler:
        with store.engine.begin() as conn:
            conn.exec_driver_sql(
                f"""INSERT INTO reads (event_id, camera, ts, ts_ms, plate_ct, plate_bidx, key_id, confidence,
                        extra, has_crop, created_ms)
                    WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < {filler})
                    SELECT printf('f%011d', x), 'cam' || (x % 8), '2026-01-01T00:00:00.000Z',
                           {t_end - span} + x * {span // filler}, x'00', printf('%032x', x % 100000), 'k1',
                           0.9, '{{}}', 0, 0
                    FROM g"""
            )
    events = [
        PlateEvent.create(
            camera=f"cam{i % 8}",
            plate=f"PL{i:05d}",
            confidence=0.9,
            box=(1, 1, 20, 8),
            ts=now - timedelta(seconds=real - i),
        )
        for i in range(real)
    ]
    for i in range(0, real, 500):
        store.ingest([Ingest(e, None) for e in events[i : i + 500]])


def browser_loads(url: str, user: str, password: str, rounds: int) -> dict[str, Any]:
    """Median / p95 ms in Chromium: reload -> the Live view's newest read visible; Stats -> first chart."""
    import shutil

    from playwright import sync_api

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("--browser needs Debian's chromium (scripts/system-deps.sh)")
    live: list[float] = []
    stats: list[float] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        page.set_default_timeout(30_000)
        page.goto(url + "/")
        page.get_by_label("Username", exact=True).fill(user)
        page.get_by_label("Password", exact=True).fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.locator("#live-reads li").first.wait_for()
        for r in range(rounds + 1):  # the first round warms caches and is not counted
            t = time.perf_counter()
            page.reload()
            page.locator("#live-reads li").first.wait_for()
            t_live = time.perf_counter() - t
            t = time.perf_counter()
            page.get_by_role("link", name="Stats").click()
            page.locator("#chart-hours svg").first.wait_for()
            t_stats = time.perf_counter() - t
            page.get_by_role("link", name="Live").click()
            if r:
                live.append(t_live)
                stats.append(t_stats)
        browser.close()

    def summary(v: list[float]) -> dict[str, float]:
        v = sorted(v)
        return {
            "median": round(statistics.median(v) * 1000, 1),
            "p95": round(v[min(len(v) - 1, int(0.95 * len(v)))] * 1000, 1),
        }

    return {"browser_live_view_ms": summary(live), "browser_stats_view_ms": summary(stats)}


def page_loads(tmp: Path, filler: int, rounds: int, browser: bool = False) -> dict[str, Any]:
    ring = generate_keyfile(tmp / "keys.json")
    store = Store(f"sqlite:///{tmp / 'dash.db'}", ring)
    t0 = time.monotonic()
    fill(store, filler, 1000)
    filled = time.monotonic() - t0
    token = store.create_token("viewer")
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(store), host="127.0.0.1", port=port, log_level="error", access_log=False)
    )
    times: list[float] = []
    per_url: dict[str, list[float]] = {u: [] for u in PAGE}
    with serving(server), httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as c:
        headers = {"Authorization": f"Bearer {token}"}
        for r in range(rounds + 1):  # the first round warms caches and is not counted
            start = time.perf_counter()
            for u in PAGE:
                t = time.perf_counter()
                resp = c.get(u, headers=headers)
                resp.raise_for_status()
                if r:
                    per_url[u].append(time.perf_counter() - t)
            if r:
                times.append(time.perf_counter() - start)
        in_browser = {}
        if browser:
            store.create_user("bench", "viewer", "bench password 1")
            in_browser = browser_loads(f"http://127.0.0.1:{port}", "bench", "bench password 1", rounds)
    stats = store.stats()
    store.close()
    times.sort()
    return {
        **in_browser,
        "stored_reads": stats["reads"],
        "fill_s": round(filled, 1),
        "page_load_ms": {
            "median": round(statistics.median(times) * 1000, 1),
            "p95": round(times[min(len(times) - 1, int(0.95 * len(times)))] * 1000, 1),
            "max": round(times[-1] * 1000, 1),
        },
        "median_ms_per_request": {u: round(statistics.median(v) * 1000, 1) for u, v in per_url.items()},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reads", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--browser", action="store_true", help="also time the page in Chromium (Playwright)")
    args = ap.parse_args(argv)
    out = {}
    for name, filler in (("baseline: 1,000 reads", 0), (f"{args.reads:,} reads", args.reads - 1000)):
        with tempfile.TemporaryDirectory(prefix="alpr-dash-") as tmp:
            out[name] = page_loads(Path(tmp), filler, args.rounds, args.browser)
            print(name, json.dumps(out[name], indent=1), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
