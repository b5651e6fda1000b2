"""Stream throughput: events/s from a producer PROCESS to a consumer in this process, nothing lost.

alpr: ``Publisher`` with a durable SQLite outbox (WAL) -> ``ReliableConsumer`` (validated
``PlateEvent``s, sequence tracking, acks after each received batch so the outbox is pruned as it
goes). Two producer modes: ``publish`` (one outbox transaction per event, what ``alpr run
--publish`` does) and ``publish_many`` (chunks of 200, one transaction each; also with the outbox
encrypted by AES-GCM). Plus ``replay``: the consumer starts only after all events were published and
gets them from the outbox.

Baseline, same run, same events: the loop a user would otherwise write - a bare pyzmq PUB socket
sending ``json.dumps(event_dict)`` and a SUB socket doing ``json.loads`` (no outbox, no validation,
no sequence numbers: whatever PUB/SUB drops at its default high-water mark is silently lost, and is
reported as ``lost``).

The clock runs from "go" (events already built in the producer, sockets connected) until the
consumer holds the N-th event (or, for the baseline, until the stream went quiet). Three rounds per
mode; the median is reported.

    python -m pytest benches/test_bench_stream.py -s -p no:cacheprovider --benchmark-enable
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import zmq

from alpr.stream import ReliableConsumer

N = 50_000

_ALPR_PRODUCER = """
import os, sys
from alpr.stream import Publisher, PlateEvent
ep, outbox, n, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
key = os.urandom(32) if mode.endswith("_encrypted") else None
evs = [PlateEvent.create(camera=("gate", "exit", "lane3")[i % 3], plate=f"BN{i:06d}", confidence=0.9,
                         char_confidences=(0.9,) * 8, box=(10.0, 20.0, 110.0, 50.0), track_id=i)
       for i in range(n)]
with Publisher(ep, outbox=outbox, heartbeat_s=0.1, outbox_key=key) as pub:
    print(pub.endpoint, flush=True)
    if mode != "replay":
        sys.stdin.readline()                      # "go"
    if mode.startswith("publish_many"):
        for i in range(0, n, 200):
            pub.publish_many(evs[i : i + 200])
    else:
        for e in evs:
            pub.publish(e)
    print("done", flush=True)
    sys.stdin.readline()                      # keep the replay endpoint up until told to stop
"""

_BARE_PRODUCER = """
import json, sys, zmq
from alpr.stream import PlateEvent
ep, n = sys.argv[1], int(sys.argv[2])
evs = [PlateEvent.create(camera=("gate", "exit", "lane3")[i % 3], plate=f"BN{i:06d}", confidence=0.9,
                         char_confidences=(0.9,) * 8, box=(10.0, 20.0, 110.0, 50.0), track_id=i).to_dict()
       for i in range(n)]
ctx = zmq.Context()
pub = ctx.socket(zmq.PUB)
pub.connect(ep)
print("ready", flush=True)
sys.stdin.readline()                          # "go"
for d in evs:
    pub.send_multipart([d["camera"].encode(), json.dumps(d).encode()])
print("done", flush=True)
sys.stdin.readline()
pub.close(linger=2000)
"""


def _alpr(tmp: Path, mode: str) -> dict[str, Any]:
    with subprocess.Popen(
        [sys.executable, "-c", _ALPR_PRODUCER, "tcp://127.0.0.1:*", str(tmp / f"{mode}.db"), str(N), mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        endpoint = proc.stdout.readline().strip()
        if mode == "replay":
            assert proc.stdout.readline().strip() == "done"
        with ReliableConsumer(endpoint, name="bench", replay_batch=2_000) as consumer:
            if mode != "replay":
                while consumer.publishers == {} or None in consumer.publishers.values():
                    consumer.recv(timeout=0.01)  # handshake done: connected
                proc.stdin.write("go\n")
                proc.stdin.flush()
            t0 = time.perf_counter()
            seqs: list[int] = []
            while len(seqs) < N:
                batch = consumer.recv_batch(2_000, timeout=10)
                assert batch, f"stalled at {len(seqs)} events"
                seqs += [m.seq for m in batch]
                consumer.ack(batch[-1])
            dt = time.perf_counter() - t0
            stats = consumer.stats
        assert seqs == list(range(1, N + 1))  # every event, in order, once
        proc.stdin.write("stop\n")
        proc.stdin.flush()
        proc.wait(30)
    return {"events_per_s": round(N / dt), "lost": 0, "replayed": stats.replayed, "gaps": stats.gaps}


def _bare(tmp: Path) -> dict[str, Any]:
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    port = sub.bind_to_random_port("tcp://127.0.0.1")
    try:
        proc = subprocess.Popen(
            [sys.executable, "-c", _BARE_PRODUCER, f"tcp://127.0.0.1:{port}", str(N)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdin is not None and proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.5)  # slow joiner: let the subscription reach the publisher
        proc.stdin.write("go\n")
        proc.stdin.flush()
        t0 = time.perf_counter()
        got, t_last = 0, t0
        while got < N and sub.poll(1000):
            _, body = sub.recv_multipart()
            json.loads(body)
            got += 1
            t_last = time.perf_counter()
        proc.stdin.write("stop\n")
        proc.stdin.flush()
        proc.wait(30)
        proc.stdin.close()
        proc.stdout.close()
    finally:
        sub.close(linger=0)
        ctx.term()
    return {"events_per_s": round(got / (t_last - t0)), "lost": N - got, "replayed": 0, "gaps": None}


@pytest.mark.parametrize(
    "mode", ["bare_pubsub_json", "publish", "publish_many", "publish_many_encrypted", "replay"]
)
def test_stream_throughput(benchmark: Any, tmp_path: Path, mode: str) -> None:
    """Three rounds (fresh producer and outbox each); the median round is reported."""
    results: list[dict[str, Any]] = []

    def run() -> None:
        out = tmp_path / str(len(results))
        out.mkdir()
        results.append(_bare(out) if mode == "bare_pubsub_json" else _alpr(out, mode))

    benchmark.pedantic(run, rounds=3, iterations=1)
    result = sorted(results, key=lambda r: r["events_per_s"])[len(results) // 2]
    result["rounds_events_per_s"] = [r["events_per_s"] for r in results]
    result["lost_per_round"] = [r["lost"] for r in results]
    benchmark.extra_info.update(result)
    print(f"\n{mode}: {result}")
    if mode != "bare_pubsub_json":
        assert result["events_per_s"] > 5_000
