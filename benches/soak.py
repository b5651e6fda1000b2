"""Soak: N frames of a rendered traffic video through ``alpr run`` with tracking and publishing.

What it shows: the process's resident memory (VmRSS) stays flat over a long run, every vehicle event the
run publishes reaches a ``ReliableConsumer`` (acknowledged, so the outbox drains), and the run ends cleanly.
The baseline in the same run is a plain OpenCV loop decoding the same file (``cv2.VideoCapture``): the
memory any decoder of this video needs, so that the growth of ``alpr run`` can be read against it.

    python benches/soak.py --frames 10000            # the long run (results in benches/RESULTS.md)
    python benches/soak.py --frames 1500 --json out.json

RSS is sampled every 0.2 s from ``/proc/PID/status`` (Linux); ``frames`` in the curve is ``alpr run``'s
``/health`` counter of analysed frames (every ``--stride``-th frame, 3 by default).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from netutil import free_port, free_port_pair  # noqa: E402


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def render(path: Path, frames: int, size: tuple[int, int]) -> list[dict[str, Any]]:
    spec = importlib.util.spec_from_file_location("make_demo_video", ROOT / "scripts" / "make_demo_video.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    per_vehicle, gap = 40, 10
    count = max(1, frames // (per_vehicle + gap))
    truth: list[dict[str, Any]] = mod.render_demo_video(
        path, count=count, size=size, frames_per_vehicle=per_vehicle, gap=gap, seed=11
    )
    return truth


class Consumer(threading.Thread):
    """Receives and acknowledges every event of the run (as a store would)."""

    def __init__(self, endpoint: str) -> None:
        super().__init__(daemon=True)
        self.endpoint = endpoint
        self.ids: set[str] = set()
        self.plates: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        from alpr.stream import ReliableConsumer

        with ReliableConsumer(self.endpoint, name="soak") as c:
            while not self.stop.is_set():
                msg = c.recv(timeout=0.2)
                if msg is None:
                    continue
                if msg.event.event_id not in self.ids:
                    self.ids.add(msg.event.event_id)
                    self.plates.append(msg.event.plate)
                c.ack(msg)
            c.flush()


def _sample(proc: subprocess.Popen[bytes], health: str | None, samples: list[dict[str, Any]]) -> None:
    t0 = time.monotonic()
    while proc.poll() is None:
        rss = _rss_mb(proc.pid)
        frames = None
        if health is not None:
            try:
                with urllib.request.urlopen(health, timeout=1) as r:
                    frames = json.loads(r.read())["frames"]
            except (OSError, ValueError, KeyError):
                frames = None
        if rss is not None:
            samples.append({"t": round(time.monotonic() - t0, 2), "frames": frames, "rss_mb": round(rss, 1)})
        time.sleep(0.2)


def run_alpr(video: Path, work: Path) -> dict[str, Any]:
    port, hport = free_port_pair(), free_port()
    consumer = Consumer(f"tcp://127.0.0.1:{port}")
    consumer.start()
    cmd = [
        sys.executable, "-m", "alpr", "run", str(video), "--camera", "soak", "--json", "--no-progress",
        "--publish", f"tcp://127.0.0.1:{port}", "--outbox", str(work / "outbox.db"),
        "--health-port", str(hport),
    ]  # fmt: skip
    samples: list[dict[str, Any]] = []
    with open(work / "events.jsonl", "wb") as out, open(work / "stderr.txt", "wb") as err:
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err)
        try:
            _sample(proc, f"http://127.0.0.1:{hport}/health", samples)
        finally:  # interrupted (a test's timeout): no process, socket or file left behind
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
                consumer.stop.set()
        wall = time.monotonic() - t0
    printed = [json.loads(line) for line in (work / "events.jsonl").read_text().splitlines() if line.strip()]
    deadline = time.monotonic() + 10
    while len(consumer.ids) < len(printed) and time.monotonic() < deadline:
        time.sleep(0.1)
    consumer.stop.set()
    consumer.join(10)
    return {
        "rc": proc.returncode,
        "wall_s": round(wall, 1),
        "events_printed": len(printed),
        "events_received": len(consumer.ids),
        "plates_received": consumer.plates,
        "samples": samples,
        "stderr_tail": (work / "stderr.txt").read_text(errors="replace")[-500:],
    }


_DECODE = """
import sys, time, cv2
cap = cv2.VideoCapture(sys.argv[1]); n = 0
while True:
    ok, frame = cap.read()
    if not ok: break
    n += 1
print(n)
"""


def run_baseline(video: Path) -> dict[str, Any]:
    proc = subprocess.Popen([sys.executable, "-c", _DECODE, str(video)], stdout=subprocess.PIPE)
    samples: list[dict[str, Any]] = []
    _sample(proc, None, samples)
    frames = int((proc.stdout.read() if proc.stdout else b"0").strip() or 0)
    return {"rc": proc.wait(), "frames": frames, "samples": samples}


def _summary(samples: list[dict[str, Any]]) -> dict[str, Any]:
    if any(s["frames"] is not None for s in samples):  # alpr run: only while /health answered (not teardown)
        samples = [s for s in samples if s["frames"] is not None]
    rss = [s["rss_mb"] for s in samples]
    if len(rss) < 4:
        return {"samples": len(rss)}
    n = len(rss)
    q = [rss[min(n - 1, int(n * f))] for f in (0.1, 0.25, 0.5, 0.75)] + [rss[-1]]
    # growth after warm-up: the second half's least-squares slope, in MB per minute
    half = samples[n // 2 :]
    ts = [s["t"] for s in half]
    ys = [s["rss_mb"] for s in half]
    mt, my = sum(ts) / len(ts), sum(ys) / len(ys)
    var = sum((t - mt) ** 2 for t in ts) or 1e-9
    slope = sum((t - mt) * (y - my) for t, y in zip(ts, ys, strict=True)) / var * 60
    return {
        "samples": n,
        "rss_mb_at_10_25_50_75_100pct": q,
        "peak_mb": max(rss),
        "growth_25_to_100pct_mb": round(q[-1] - q[1], 1),
        "slope_second_half_mb_per_min": round(slope, 2),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=10_000)
    ap.add_argument("--size", default="1280x720", help="WxH of the rendered video")
    ap.add_argument("--json", type=Path, help="write the full result (with the RSS curves) here")
    args = ap.parse_args(argv)
    w, h = (int(v) for v in args.size.lower().split("x"))
    with tempfile.TemporaryDirectory(prefix="alpr-soak-") as tmp:
        work = Path(tmp)
        video = work / "soak.mp4"
        t0 = time.monotonic()
        truth = render(video, args.frames, (w, h))
        took = time.monotonic() - t0
        print(f"rendered {args.frames} frames, {len(truth)} vehicles in {took:.0f}s", flush=True)
        base = run_baseline(video)
        res = run_alpr(video, work)
    expected = [t["plate"] for t in truth]
    got = set(res["plates_received"])
    result = {
        "frames": base["frames"],
        "vehicles": len(truth),
        "alpr_run": {k: v for k, v in res.items() if k not in ("samples", "plates_received")}
        | {"rss": _summary(res["samples"]), "vehicles_read_right": sum(p in got for p in expected)},
        "opencv_decode_baseline": {"rc": base["rc"], "rss": _summary(base["samples"])},
    }
    print(json.dumps(result, indent=1))
    if args.json:
        full = result | {"curves": {"alpr_run": res["samples"], "opencv_decode": base["samples"]}}
        args.json.write_text(json.dumps(full, indent=1))
    ok = res["rc"] == 0 and res["events_received"] == res["events_printed"]
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
