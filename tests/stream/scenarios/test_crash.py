"""SIGKILL on either side mid-stream: every accepted event still reaches the store (at least once)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

from alpr.stream import PlateEvent, Publisher, ReliableConsumer

HB = 0.05

CONSUMER = textwrap.dedent(
    """
    import sys
    from alpr.stream import ReliableConsumer

    endpoint, store = sys.argv[1], sys.argv[2]
    with open(store, "a", buffering=1) as out, ReliableConsumer(endpoint, name="bridge") as consumer:
        for msg in consumer:
            out.write(f"{msg.seq} {msg.event.event_id}\\n")  # "commit" to the store, then ack
            consumer.ack(msg)
    """
)

PUBLISHER = textwrap.dedent(
    """
    import sys, time
    from alpr.stream import PlateEvent, Publisher

    endpoint, outbox = sys.argv[1], sys.argv[2]
    with Publisher(endpoint, outbox=outbox, heartbeat_s=0.05) as pub:
        i = 0
        while True:
            e = PlateEvent.create(camera="cam1", plate=f"P{i:06d}", confidence=0.9, box=(0, 0, 10, 5))
            seq = pub.publish(e)
            print(seq, e.event_id, flush=True)  # accepted
            i += 1
            time.sleep(0.0005)
    """
)


def _spawn(code: str, *args: str, stdout: int = subprocess.PIPE) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", code, *args], stdout=stdout, text=True)


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_consumer_killed_mid_stream_loses_nothing(
    tmp_path: Path, event_factory: Callable[..., PlateEvent]
) -> None:
    store = tmp_path / "store.txt"
    n = 3_000
    events = [event_factory(i) for i in range(n)]
    with Publisher(f"ipc://{tmp_path}/ev", outbox=tmp_path / "ob.db", heartbeat_s=HB) as pub:
        stop = threading.Event()

        def produce() -> None:
            for i in range(0, n, 10):
                pub.publish_many(events[i : i + 10])
                if stop.wait(0.002):
                    return

        child = _spawn(CONSUMER, pub.endpoint, str(store), stdout=subprocess.DEVNULL)
        producer = threading.Thread(target=produce)
        producer.start()
        try:
            deadline = time.monotonic() + 30
            while len(_lines(store)) < 1_000 and time.monotonic() < deadline:
                time.sleep(0.01)
            while (pub.outbox.acked("bridge") or 0) < 500 and time.monotonic() < deadline:
                time.sleep(0.005)
            acked = pub.outbox.acked("bridge") or 0
            os.kill(child.pid, signal.SIGKILL)  # mid-stream, no chance to flush anything
            child.wait()
        finally:
            producer.join()
        before = _lines(store)
        assert 1_000 <= len(before) < n
        with ReliableConsumer(pub.endpoint, name="bridge") as consumer:
            after: list[str] = []
            while True:
                batch = consumer.recv_batch(1_000, timeout=1.0)
                if not batch:
                    break
                after += [f"{m.seq} {m.event.event_id}" for m in batch]
                consumer.ack(batch[-1])
    stored = {line.split()[1] for line in before + after}
    assert stored == {e.event_id for e in events}  # nothing lost
    resumed_at = int(after[0].split()[0])
    # It resumed after the last acknowledgement, not from the start (redeliveries are the unacked tail).
    assert 500 < acked + 1 <= resumed_at <= int(before[-1].split()[0]) + 1
    assert len(before) + len(after) - n == int(before[-1].split()[0]) - resumed_at + 1


def test_publisher_killed_mid_stream_loses_nothing(
    tmp_path: Path, event_factory: Callable[..., PlateEvent]
) -> None:
    ep, outbox = f"ipc://{tmp_path}/ev", str(tmp_path / "ob.db")
    with ReliableConsumer(ep, name="bridge") as consumer:
        child = _spawn(PUBLISHER, ep, outbox)
        assert child.stdout is not None
        accepted: list[tuple[int, str]] = []
        got = consumer.recv_batch(10_000, timeout=20)
        while len(accepted) < 500:
            seq, event_id = child.stdout.readline().split()
            accepted.append((int(seq), event_id))
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        # Lines printed before the kill are accepted events too.
        accepted += [(int(s), i) for s, i in (line.split() for line in child.stdout.read().splitlines())]
        child.stdout.close()
        with Publisher(ep, outbox=outbox, heartbeat_s=HB) as pub:
            assert pub.last_seq >= accepted[-1][0]
            more = [event_factory(i) for i in range(100)]
            pub.publish_many(more)
            deadline = time.monotonic() + 20
            while (not got or got[-1].seq < pub.last_seq) and time.monotonic() < deadline:
                got += consumer.recv_batch(10_000, timeout=0.2)
            last = pub.last_seq
    assert [m.seq for m in got] == list(range(1, last + 1))  # in order, no hole, no duplicate
    received = {m.event.event_id for m in got}
    assert {i for _, i in accepted} <= received
    assert {e.event_id for e in more} <= received
