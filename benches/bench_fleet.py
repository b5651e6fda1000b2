# ruff: noqa: E501  (generated rows and markdown tables read better on one line each)
"""Fleet benchmark: N simulated cameras x 2 events/s into PostgreSQL through 1 and 3 bridges, then
session / journey query latency over a large store. Prints markdown tables for benches/RESULTS.md.

    python benches/bench_fleet.py --cameras 10,50,200 --bridges 1,3 --seconds 20 --reads 10000000

Part 1 (throughput): a throwaway PostgreSQL and Mosquitto (as the tests start them); K bridges share the
database and the broker, each with an MQTT sink. Camera ``i`` feeds bridge ``i % K`` (a bridge ingests its
cameras' reads every 0.25 s, as the stream consumer's batches would; a third of the cameras are entry /
exit cameras of 5 sites, so sessions open and close too). A subscriber counts every plate message: lost =
offered - distinct received, duplicated = received - distinct. "burst" rows feed as fast as the bridges
take it. Part 2 (queries): ``--reads`` read rows in their monthly partitions (migration 0007; filler
ciphertext: only their volume matters to these queries), one session per 10 reads over 20 sites and one journey per 10 reads, with real per-row
ciphertext, then p95 over 200 random queries of each kind through the Store API.
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the conftest's own imports (netutil), as pytest sets it up
_spec = importlib.util.spec_from_file_location("bridge_conftest", ROOT / "tests/bridge/conftest.py")
assert _spec is not None and _spec.loader is not None
cf: Any = importlib.util.module_from_spec(_spec)
sys.modules["bridge_conftest"] = cf  # dataclasses look their module up there
_spec.loader.exec_module(cf)

from alpr.bridge import schema as S  # noqa: E402
from alpr.bridge.config import BridgeConfig, Retention  # noqa: E402
from alpr.bridge.crypto import generate_keyfile  # noqa: E402
from alpr.bridge.service import Bridge  # noqa: E402
from alpr.bridge.store import Ingest, Store  # noqa: E402
from alpr.bridge.store.partitions import ensure_month_partitions  # noqa: E402
from alpr.stream.events import PlateEvent  # noqa: E402

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def start_postgres(base: Path) -> Any:
    import os
    import pwd

    initdb, pg_ctl = cf._pg_bin("initdb"), cf._pg_bin("pg_ctl")
    runas: list[str] = []
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        runas = ["runuser", "-u", "postgres", "--"]
        os.chown(base, pw.pw_uid, pw.pw_gid)
    port = cf.free_port()
    data = base / "data"
    subprocess.run(
        [*runas, initdb, "-D", str(data), "-U", "alpr", "--auth=trust", "--no-sync"],
        check=True,
        capture_output=True,
    )
    # Durable settings are PostgreSQL's defaults except fsync (a throwaway cluster on a shared disk).
    opts = f"-k {base} -h 127.0.0.1 -p {port} -c fsync=off -c shared_buffers=512MB -c max_connections=200"
    subprocess.run(
        [*runas, pg_ctl, "-D", str(data), "-o", opts, "-l", str(base / "pg.log"), "-w", "start"],
        check=True,
        capture_output=True,
    )
    pg = cf.Postgres(base, port, runas)
    pg.stop = lambda: subprocess.run(
        [*runas, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True
    )
    return pg


def throughput(
    pg: Any, broker: Any, tmp: Path, cameras: int, bridges: int, seconds: float, burst: bool
) -> dict[str, Any]:
    db = pg.new_database()
    ring = generate_keyfile(tmp / f"k{cameras}_{bridges}_{burst}.json")
    col = cf.Collector(broker, "alpr/+/plate")
    # Retention off: the simulated reads are dated from T0 and the leader's first retention pass would
    # otherwise delete those older than 30 days while the run counts them.
    keep = Retention(reads_days=0, crops_days=0, alerts_days=0, audit_days=0)
    fleet = [Bridge(BridgeConfig(db=db, mqtt=broker.url, retention=keep), ring) for _ in range(bridges)]
    for i in range(0, cameras, 3):
        fleet[0].store.set_camera(f"cam{i}", site=f"S{i % 5}", role="entry" if i % 2 else "exit")
    for b in fleet:
        b.start(consume=False)
    offered = 0
    lag = [0.0]
    lock = threading.Lock()

    def feed(k: int) -> None:
        nonlocal offered
        mine = [c for c in range(cameras) if c % bridges == k]
        tick, n_tick, t_start, sent = 0.25, 0, time.monotonic(), 0
        rng = random.Random(k)
        while time.monotonic() - t_start < seconds:
            # Scheduled load: 2 events/s per camera, exactly (fractions carried to the next tick).
            per = 500 if burst else int(2 * len(mine) * (n_tick + 1) * tick) - sent
            sent += per
            batch = [
                PlateEvent.create(
                    camera=f"cam{rng.choice(mine)}", plate=f"P{rng.randrange(2000):04d}", confidence=0.9,
                    box=(0, 0, 10, 5), ts=T0 + timedelta(seconds=time.monotonic() - t_start),
                )
                for _ in range(per)
            ]  # fmt: skip
            if batch:
                fleet[k].ingest([Ingest(e) for e in batch])
            with lock:
                offered += len(batch)
            n_tick += 1
            if not burst:
                due = t_start + n_tick * tick
                now = time.monotonic()
                lag[0] = max(lag[0], now - due)
                if due > now:
                    time.sleep(due - now)

    threads = [threading.Thread(target=feed, args=(k,)) for k in range(bridges)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    t_fed = time.monotonic() - t0
    col.wait_for(lambda: len(col.topics()) >= offered, 120)
    idle = all(b.wait_idle(60) for b in fleet)
    t_all = time.monotonic() - t0
    time.sleep(1.0)  # late duplicates would show up here
    ids = [orjson.loads(p)["event_id"] for _t, p, _r in col.topics()]
    stored = fleet[0].store.stats()["reads"]
    sessions = len(fleet[0].store.query_sessions(limit=100_000)[0])
    for b in fleet:
        b.stop()
    col.close()
    distinct = len(set(ids))
    return {
        "cameras": cameras,
        "bridges": bridges,
        "mode": "burst" if burst else "2 ev/s/camera",
        "offered": offered,
        "stored": stored,
        "sessions": sessions,
        "rate": round(stored / t_fed, 1),
        "e2e_rate": round(distinct / t_all, 1),
        "lost": offered - distinct,
        "dup": len(ids) - distinct,
        "max_lag_s": round(lag[0], 3),
        "drained": idle,
        "per_bridge": [b.mqtt.delivered for b in fleet],
        "top_dup": Counter(ids).most_common(1)[0][1] if ids else 0,
    }


def big_store(pg: Any, tmp: Path, reads: int) -> tuple[Store, list[str], float]:
    db = pg.new_database()
    ring = generate_keyfile(tmp / "big.json")
    store = Store(db, ring)
    t0 = time.monotonic()
    day = 86_400_000
    t_base = 1_767_225_600_000  # 2026-01-01
    span = 30 * day
    with store.engine.begin() as conn:  # reads: volume only (filler ciphertext, never decrypted here)
        # Monthly partitions for the generated span (a live store has them: bridges make them ahead).
        ensure_month_partitions(conn, t_base, t_base + span)
        conn.exec_driver_sql(
            f"""INSERT INTO reads (event_id, camera, ts, ts_ms, plate_ct, plate_bidx, key_id, confidence, extra,
                    has_crop, created_ms)
                SELECT md5(g::text), 'cam' || (g %% 200), '2026-01-01T00:00:00.000Z', {t_base} + g::bigint * {span // reads},
                       '\\x00'::bytea, md5((g %% 100000)::text), 'k1', 0.9, '{{}}', false, 0
                FROM generate_series(1, {reads}) AS g"""
        )
    plates = [f"PL{i:05d}" for i in range(100_000)]
    n_side = reads // 10
    rng = random.Random(1)
    chunk = 20_000
    for start in range(0, n_side, chunk):
        srows, jrows = [], []
        for g in range(start, min(n_side, start + chunk)):
            p = plates[rng.randrange(len(plates))]
            eid = f"s{g:011d}"
            entry = t_base + rng.randrange(span)
            closed = rng.random() < 0.95
            srows.append(
                {
                    "site": f"S{g % 20}", "state": "closed" if closed else "open",
                    "plate_ct": ring.encrypt_text(p, b"session:" + eid.encode()), "plate_bidx": ring.blind_index(p),
                    "key_id": ring.active, "entry_event_id": eid, "entry_camera": f"cam{g % 200}",
                    "entry_ms": entry, "exit_event_id": None, "exit_camera": f"cam{(g + 1) % 200}" if closed else None,
                    "exit_ms": entry + rng.randrange(7_200_000) if closed else None, "exit_plate_ct": None,
                    "distance": 0.0 if closed else None, "paid_ms": None, "payment_ref": None, "overstay_ms": None,
                    "created_ms": 0,
                }
            )  # fmt: skip
            jid = f"j{g:011d}"
            jrows.append(
                {
                    "plate_ct": ring.encrypt_text(p, b"journey:" + jid.encode()), "plate_bidx": ring.blind_index(p),
                    "key_id": ring.active, "from_camera": f"cam{g % 200}", "to_camera": f"cam{(g * 7) % 200}",
                    "from_ms": entry, "to_ms": entry + rng.randrange(1_800_000), "from_event_id": f"f{g:011d}",
                    "to_event_id": jid,
                }
            )  # fmt: skip
        with store.engine.begin() as conn:
            conn.execute(S.parking_sessions.insert(), srows)
            conn.execute(S.journeys.insert(), jrows)
    with store.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
    return store, plates, time.monotonic() - t0


def latency(store: Store, plates: list[str], n: int = 200) -> list[tuple[str, float, float]]:
    rng = random.Random(2)
    t_base = 1_767_225_600_000
    hour = 3_600_000

    def one_day() -> dict[str, int]:
        s = t_base + rng.randrange(29) * 24 * hour
        return {"since_ms": s, "until_ms": s + 24 * hour}

    cases = {
        "sessions: open at a site (100)": lambda: store.query_sessions(
            site=f"S{rng.randrange(20)}", state="open"
        ),
        "sessions: a plate": lambda: store.query_sessions(plate=rng.choice(plates)),
        "sessions: closed at a site, one day": lambda: store.query_sessions(
            site=f"S{rng.randrange(20)}", state="closed", **one_day()
        ),
        "occupancy of a site": lambda: store.occupancy(f"S{rng.randrange(20)}"),
        "journeys: a plate": lambda: store.query_journeys(plate=rng.choice(plates)),
        "journeys: one hour (100)": lambda: store.query_journeys(
            since_ms=(s := t_base + rng.randrange(700) * hour), until_ms=s + hour
        ),
        "OD matrix: one day": lambda: store.od_matrix(**one_day()),
    }
    out = []
    for name, fn in cases.items():
        times = []
        for _ in range(n):
            t = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t) * 1000)
        times.sort()
        out.append((name, statistics.median(times), times[int(0.95 * len(times)) - 1]))
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cameras", default="10,50,200")
    ap.add_argument("--bridges", default="1,3")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--reads", type=int, default=10_000_000)
    ap.add_argument("--skip-throughput", action="store_true")
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="alpr-bench-"))
    pg = start_postgres(base)
    (base / "mq").mkdir()
    broker = cf.Mosquitto(base / "mq", cf.free_port())
    broker.start()
    try:
        if not args.skip_throughput:
            print(
                "| cameras | bridges | load | offered | stored | events/s stored | events/s on MQTT | lost | dup | max lag s | MQTT messages per bridge |"
            )
            print("|---|---|---|---|---|---|---|---|---|---|---|")
            runs = [
                (c, k, False)
                for c in map(int, args.cameras.split(","))
                for k in map(int, args.bridges.split(","))
            ]
            runs += [(200, k, True) for k in map(int, args.bridges.split(","))]
            for c, k, burst in runs:
                r = throughput(pg, broker, base, c, k, args.seconds, burst)
                print(
                    f"| {r['cameras']} | {r['bridges']} | {r['mode']} | {r['offered']} | {r['stored']} | {r['rate']} | "
                    f"{r['e2e_rate']} | {r['lost']} | {r['dup']} | {r['max_lag_s']} | {r['per_bridge']} |",
                    flush=True,
                )
        if args.reads:
            store, plates, t_gen = big_store(pg, base, args.reads)
            print(
                f"\ngenerated {args.reads} reads + {args.reads // 10} sessions + {args.reads // 10} journeys in {t_gen:.0f} s\n"
            )
            print("| query | median ms | p95 ms |\n|---|---|---|")
            for name, med, p95 in latency(store, plates):
                print(f"| {name} | {med:.2f} | {p95:.2f} |", flush=True)
            store.close()
    finally:
        broker.stop()
        pg.stop()
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
