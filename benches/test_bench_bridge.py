"""Stream -> bridge -> SQLite throughput, with nothing lost.

A producer PROCESS publishes ``N`` plate events as fast as it can (``Publisher.publish_many`` in
chunks of 200, durable outbox on); the bridge in this process consumes them with the reliable
consumer and stores them (AES-GCM plate text, HMAC blind index, 10 watchlist entries checked per
event, one MQTT outbox row per event, stream cursor, all in one transaction per batch). The clock
runs from the producer's first publish until the last event is committed. Then every published
``event_id`` must be in the store (0 lost).

Baseline, same run, same producer: the bridge a user would otherwise write - the same reliable
consumer, stdlib ``sqlite3`` (WAL, synchronous=FULL, one commit per received batch) storing the
event JSON in clear, no index, no watchlist, no outbox.

    python -m pytest benches/test_bench_bridge.py -s -p no:cacheprovider --benchmark-enable
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("sqlalchemy")

from alpr.bridge.config import BridgeConfig
from alpr.bridge.crypto import generate_keyfile
from alpr.bridge.service import Bridge
from alpr.bridge.store import Sink
from alpr.stream import ReliableConsumer

N = 30_000
TARGET_EVENTS_PER_S = 5_000

_PRODUCER = """
import sys, time
from alpr.stream import Publisher
from alpr.stream.events import PlateEvent
ep, outbox, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
pub = Publisher(ep, outbox=outbox)
sys.stdin.readline()                      # wait for "go" (the consumer is connected)
t0 = time.time()
ids = []
for start in range(0, n, 200):
    evs = [PlateEvent.create(camera=("gate", "exit", "lane3")[i % 3], plate=f"BN{i:06d}", confidence=0.9,
                             char_confidences=(0.9,) * 8, box=(10.0, 20.0, 110.0, 50.0), track_id=i)
           for i in range(start, min(n, start + 200))]
    pub.publish_many(evs)
    ids += [e.event_id for e in evs]
print(t0, flush=True)
print(" ".join(ids), flush=True)
sys.stdin.readline()                      # keep the replay endpoint up until told to stop
pub.close()
"""


def _endpoint() -> str:
    for _ in range(50):
        with socket.socket() as a, socket.socket() as b:
            try:
                a.bind(("127.0.0.1", 0))
                port = a.getsockname()[1]
                b.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
            return f"tcp://127.0.0.1:{port}"
    raise RuntimeError("no free ports")


def _run(tmp: Path, consume: Callable[[str, Callable[[], bool]], Callable[[], int]]) -> dict[str, Any]:
    """Start the producer, hand the endpoint to ``consume`` (returns a stored-count probe), time it."""
    ep = _endpoint()
    with subprocess.Popen(
        [sys.executable, "-c", _PRODUCER, ep, str(tmp / "outbox.db"), str(N)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as prod:
        assert prod.stdin is not None and prod.stdout is not None
        done = [False]
        stored = consume(ep, lambda: done[0])
        time.sleep(1.0)  # let the consumer connect and handshake
        cpu0 = time.process_time()  # CPU time of THIS process: the consumer side only
        prod.stdin.write("go\n")
        prod.stdin.flush()
        t0 = float(prod.stdout.readline())
        ids = prod.stdout.readline().split()
        while stored() < N:
            time.sleep(0.005)
        elapsed = time.time() - t0
        cpu = time.process_time() - cpu0
        done[0] = True
        prod.stdin.write("stop\n")
        prod.stdin.flush()
        prod.wait(30)
    return {"elapsed": elapsed, "ids": ids, "cpu": cpu}


def _bridge(tmp: Path) -> tuple[dict[str, Any], Bridge]:
    holder: dict[str, Bridge] = {}

    def consume(ep: str, _done: Callable[[], bool]) -> Callable[[], int]:
        ring = generate_keyfile(tmp / "keys.json")
        bridge = Bridge(BridgeConfig(db=f"sqlite:///{tmp / 'bridge.db'}", zmq=[ep], batch_size=1000), ring)
        for i in range(5):
            bridge.store.add_watch(f"WANT{i}", reason="stolen")
        for pat in ("ZZ*", "Q?9*", "X*X"):
            bridge.store.add_watch(pat, kind="wildcard", reason="fleet")
        for pat in ("AB1234", "CD5678"):
            bridge.store.add_watch(pat, kind="fuzzy", reason="vip", max_distance=1.0)
        bridge.reload_watchlist()
        bridge.sinks.append(Sink("mqtt"))  # outbox rows as with a broker configured (not drained here)
        bridge.start()
        holder["b"] = bridge
        return lambda: bridge.ingested

    res = _run(tmp, consume)
    return res, holder["b"]


def _baseline(tmp: Path) -> dict[str, Any]:
    import threading

    count = [0]
    db_ids: list[str] = []

    def consume(ep: str, done: Callable[[], bool]) -> Callable[[], int]:
        def loop() -> None:
            db = sqlite3.connect(tmp / "naive.db")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("CREATE TABLE reads (event_id TEXT PRIMARY KEY, camera TEXT, ts TEXT, doc TEXT)")
            with ReliableConsumer(ep, name="naive") as c:
                while not done():
                    msgs = c.recv_batch(1000, timeout=0.1)
                    if not msgs:
                        continue
                    db.executemany(
                        "INSERT OR IGNORE INTO reads VALUES (?, ?, ?, ?)",
                        [
                            (m.event.event_id, m.event.camera, m.event.ts, m.event.to_json().decode())
                            for m in msgs
                        ],
                    )
                    db.commit()
                    c.ack(msgs[-1])
                    count[0] = db.execute("SELECT count(*) FROM reads").fetchone()[0]
            db_ids.extend(r[0] for r in db.execute("SELECT event_id FROM reads"))
            db.close()

        threads.append(threading.Thread(target=loop, daemon=True))
        threads[0].start()
        return lambda: count[0]

    threads: list[threading.Thread] = []
    res = _run(tmp, consume)
    threads[0].join(30)
    res["stored_ids"] = set(db_ids)
    return res


def _consumer_only(tmp: Path) -> dict[str, Any]:
    """The stream's own ceiling: the reliable consumer receiving, decoding and acking, storing nothing."""
    import threading

    count = [0]

    def consume(ep: str, done: Callable[[], bool]) -> Callable[[], int]:
        def loop() -> None:
            with ReliableConsumer(ep, name="null") as c:
                while not done():
                    msgs = c.recv_batch(1000, timeout=0.1)
                    if msgs:
                        count[0] += len(msgs)
                        c.ack(msgs[-1])

        threading.Thread(target=loop, daemon=True).start()
        return lambda: count[0]

    return _run(tmp, consume)


def test_bridge_sustains_5000_events_per_s_into_sqlite(benchmark: Any, tmp_path: Path) -> None:
    out: dict[str, Any] = {}

    def run() -> None:
        (tmp_path / "c").mkdir()
        out["consumer"] = _consumer_only(tmp_path / "c")
        (tmp_path / "b").mkdir()
        res, bridge = _bridge(tmp_path / "b")
        try:
            stored = {r["event_id"] for r in bridge.store.query_reads(limit=N + 10)[0]}
        finally:
            bridge.stop()
        out["bridge"] = res | {"lost": len(set(res["ids"]) - stored), "dupes": len(res["ids"]) - len(stored)}
        (tmp_path / "n").mkdir()
        base = _baseline(tmp_path / "n")
        out["baseline"] = base | {"lost": len(set(base["ids"]) - base["stored_ids"])}

    benchmark.pedantic(run, rounds=1, iterations=1)
    b, n, c = out["bridge"], out["baseline"], out["consumer"]
    rate, base_rate, c_rate = N / b["elapsed"], N / n["elapsed"], N / c["elapsed"]

    def cpu(r: dict[str, Any]) -> str:
        return f"{r['cpu'] / N * 1e6:.0f} us CPU/event"

    print(
        f"\nload average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        f"\nconsumer only (stream ceiling, stores nothing): {c['elapsed']:.2f} s = {c_rate:,.0f} events/s,"
        f" {cpu(c)}"
        f"\nbaseline (plaintext sqlite3, no index/outbox): {n['elapsed']:.2f} s = {base_rate:,.0f} events/s,"
        f" {cpu(n)}, lost {n['lost']}"
        f"\nbridge: {N} events in {b['elapsed']:.2f} s = {rate:,.0f} events/s, {cpu(b)}, lost {b['lost']}"
        f"\nratio bridge/baseline {rate / base_rate:.2f}, bridge/consumer-only {rate / c_rate:.2f};"
        f" bridge capacity {N / b['cpu']:,.0f} events per CPU-second"
    )
    benchmark.extra_info.update(
        bridge_events_per_s=rate, baseline_events_per_s=base_rate, consumer_only=c_rate
    )
    assert b["lost"] == 0 and b["dupes"] == 0 and n["lost"] == 0
    # Wall-clock is the target; on a machine loaded beyond its cores the consumer side is starved of
    # CPU whatever it does, so there the CPU-time capacity (one core's worth) is what is checked.
    if os.getloadavg()[0] < (os.cpu_count() or 1):
        assert rate >= TARGET_EVENTS_PER_S, f"{rate:.0f} events/s < {TARGET_EVENTS_PER_S}"
    else:
        assert N / b["cpu"] >= TARGET_EVENTS_PER_S, f"{N / b['cpu']:.0f} events per CPU-second"


def test_search_cost_exact_index_vs_fuzzy_scan(benchmark: Any, tmp_path: Path) -> None:
    """What privacy costs at query time, 50,000 stored reads.

    Exact search goes through the HMAC blind index (one indexed lookup, then decrypt the hits);
    baseline: the same lookup on a plaintext, indexed sqlite3 table. Fuzzy search cannot use an
    index: it decrypts and compares every candidate (reported per row).
    """
    from alpr.bridge.store import Ingest, Store
    from alpr.stream.events import PlateEvent

    rows = 50_000
    ring = generate_keyfile(tmp_path / "k.json")
    store = Store(f"sqlite:///{tmp_path / 's.db'}", ring)
    plain = sqlite3.connect(tmp_path / "plain.db")
    plain.execute("CREATE TABLE reads (id INTEGER PRIMARY KEY, plate TEXT, doc TEXT)")
    plain.execute("CREATE INDEX ix ON reads (plate)")
    evs = [
        PlateEvent.create(camera="gate", plate=f"SR{i % 20_000:06d}", confidence=0.9, box=(0, 0, 1, 1))
        for i in range(rows)
    ]
    for i in range(0, rows, 2000):
        store.ingest([Ingest(e) for e in evs[i : i + 2000]])
    plain.executemany("INSERT INTO reads (plate, doc) VALUES (?, ?)", [(e.plate, e.to_json()) for e in evs])
    plain.commit()

    def exact() -> int:
        return len(store.query_reads(plate="SR001234")[0])

    n = benchmark(exact)
    assert n == 3
    t_exact = benchmark.stats.stats.median
    reps = 200
    t0 = time.perf_counter()
    for _ in range(reps):
        assert len(plain.execute("SELECT doc FROM reads WHERE plate = ?", ("SR001234",)).fetchall()) == 3
    t_plain = (time.perf_counter() - t0) / reps
    t0 = time.perf_counter()
    items, _ = store.query_reads(plate="ZZ999999", fuzzy=True, max_distance=1.0, scan_limit=rows)
    t_fuzzy = time.perf_counter() - t0
    assert items == []
    print(
        f"\nexact via blind index: {t_exact * 1e3:.2f} ms (plaintext indexed baseline {t_plain * 1e3:.2f} ms,"
        f" ratio {t_exact / t_plain:.1f}x); fuzzy scan of {rows} rows: {t_fuzzy:.2f} s"
        f" = {t_fuzzy / rows * 1e6:.1f} us per row"
    )
    benchmark.extra_info.update(fuzzy_us_per_row=t_fuzzy / rows * 1e6, plain_exact_ms=t_plain * 1e3)
    store.close()
    plain.close()


def test_mqtt_delivery_vs_bare_paho(benchmark: Any, tmp_path: Path) -> None:
    """Outbox -> Mosquitto drain rate (decrypt, QoS 1 publish, wait for PUBACK, delete the row) vs a
    bare paho-mqtt QoS 1 publish loop (1,000 in flight) with the same payloads, same broker, same run."""
    import shutil

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from alpr.bridge.store import Ingest
    from alpr.stream.events import PlateEvent

    exe = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin")
    if exe is None:
        pytest.skip("mosquitto not installed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf = tmp_path / "m.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\n" + ("user root\n" if os.geteuid() == 0 else "")
    )
    n = 20_000
    with subprocess.Popen([exe, "-c", str(conf)], stderr=subprocess.DEVNULL) as broker:
        try:
            time.sleep(0.5)
            ring = generate_keyfile(tmp_path / "k.json")
            bridge = Bridge(
                BridgeConfig(db=f"sqlite:///{tmp_path / 'm.db'}", mqtt=f"mqtt://127.0.0.1:{port}"), ring
            )
            evs = [
                PlateEvent.create(camera="gate", plate=f"MQ{i:06d}", confidence=0.9, box=(0, 0, 1, 1))
                for i in range(n)
            ]
            for i in range(0, n, 1000):
                bridge.ingest([Ingest(e) for e in evs[i : i + 1000]])
            out: dict[str, float] = {}

            def run() -> None:
                t, cpu = time.time(), time.process_time()
                bridge.start(consume=False)
                assert bridge.wait_idle(300)
                out["bridge"], out["bridge_cpu"] = time.time() - t, time.process_time() - cpu
                bridge.stop()
                acked = [0]
                c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bare")
                c.max_inflight_messages_set(1000)
                c.on_publish = lambda *_a: acked.__setitem__(0, acked[0] + 1)
                c.connect("127.0.0.1", port)
                c.loop_start()
                payloads = [e.to_json() for e in evs]
                t, cpu = time.time(), time.process_time()
                sent = 0
                while acked[0] < n:
                    while sent < n and sent - acked[0] < 1000:
                        c.publish("alpr/gate/plate", payloads[sent], qos=1)
                        sent += 1
                    time.sleep(0.001)
                out["paho"], out["paho_cpu"] = time.time() - t, time.process_time() - cpu
                c.loop_stop()
                c.disconnect()

            benchmark.pedantic(run, rounds=1, iterations=1)
        finally:
            broker.terminate()
    print(
        f"\nMQTT delivery from the outbox: {n / out['bridge']:,.0f} msg/s,"
        f" {out['bridge_cpu'] / n * 1e6:.0f} us CPU/msg"
        f"\nbare paho QoS 1 loop: {n / out['paho']:,.0f} msg/s, {out['paho_cpu'] / n * 1e6:.0f} us CPU/msg"
        f"\nratio {out['paho'] / out['bridge']:.2f}x of bare paho throughput"
    )
