"""Real sockets on loopback: round trips, topics, gaps and replay, restarts, CurveZMQ, malformed input."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import zmq

from alpr.stream import (
    ConsumerStats,
    PlateEvent,
    Publisher,
    ReliableConsumer,
    StreamMessage,
    _wire,
    subscribe,
)

HB = 0.05  # fast heartbeats keep the tests short


def drain(consumer: ReliableConsumer, n: int, timeout: float = 10.0) -> list[StreamMessage]:
    """Receive until ``n`` messages arrived or ``timeout`` passed."""
    out: list[StreamMessage] = []
    deadline = time.monotonic() + timeout
    while len(out) < n and time.monotonic() < deadline:
        out += consumer.recv_batch(n - len(out), timeout=0.1)
    return out


class Pump:
    """Publish events in a background thread until stopped (beats the PUB/SUB slow-joiner race)."""

    def __init__(self, pub: Publisher, make: Callable[[int], tuple[PlateEvent, bytes | None]]) -> None:
        self.pub, self.make, self.stop = pub, make, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        i = 0
        while not self.stop.is_set():
            self.pub.publish(*self.make(i))
            i += 1
            time.sleep(0.002)

    def close(self) -> None:
        self.stop.set()
        self.thread.join()


def _first(it: Iterator[StreamMessage], n: int) -> list[StreamMessage]:
    out = []
    for msg in it:
        out.append(msg)
        if len(out) == n:
            break
    return out


def test_subscribe_round_trip_with_crop(
    endpoint: str, event_factory: Callable[..., PlateEvent], tiny_jpeg: bytes
) -> None:
    with Publisher(endpoint, heartbeat_s=HB) as pub:
        events = [event_factory(i) for i in range(10_000)]
        pump = Pump(pub, lambda i: (events[i], tiny_jpeg if i % 2 else None))
        try:
            got = _first(subscribe(pub.endpoint, idle_timeout=5), 20)
        finally:
            pump.close()
    assert len(got) == 20
    seqs = [m.seq for m in got]
    assert seqs == list(range(seqs[0], seqs[0] + 20))  # in order, no holes once joined
    for m in got:
        assert m.event == events[m.seq - 1]
        assert m.crop_jpeg == (None if (m.seq - 1) % 2 == 0 else tiny_jpeg)
        assert m.publisher == pub.publisher_id and not m.replayed


def test_subscribe_filters_topics_exactly(endpoint: str, event_factory: Callable[..., PlateEvent]) -> None:
    cams = ["cam1", "cam10", "cam2"]  # "cam10" starts with "cam1": ZeroMQ alone would let it through
    stats = ConsumerStats()
    with Publisher(endpoint, heartbeat_s=HB) as pub:
        pump = Pump(pub, lambda i: (event_factory(i, cams[i % 3]), None))
        try:
            got = _first(subscribe(pub.endpoint, topics=["cam1"], idle_timeout=5, stats=stats), 10)
            both = _first(subscribe(pub.endpoint, topics=["cam10", "cam2"], idle_timeout=5), 10)
        finally:
            pump.close()
    assert len(got) == 10 and {m.event.camera for m in got} == {"cam1"}
    assert all((m.seq - 1) % 3 == 0 for m in got)
    assert {m.event.camera for m in both} == {"cam10", "cam2"}
    assert stats.malformed == 0


def test_subscribe_counts_gaps_it_cannot_fill(event_factory: Callable[..., PlateEvent]) -> None:
    stats = ConsumerStats()
    with Publisher("tcp://127.0.0.1:*", heartbeat_s=HB) as pub:
        gen = subscribe(pub.endpoint, idle_timeout=5, stats=stats)
        pump = Pump(pub, lambda i: (event_factory(i), None))
        try:
            first = next(gen)
        finally:
            pump.close()
        pub.outbox.append([(b"cam1", event_factory(0).to_json(), None)])  # stored, never sent: a hole
        pub.publish(event_factory(1))
        rest = []
        for m in gen:
            rest.append(m)
            if m.seq == pub.last_seq:
                break
        gen.close()
    assert first.seq < rest[-1].seq
    assert stats.gaps == 1


def test_late_consumer_gets_everything_through_replay(
    endpoint: str, event_factory: Callable[..., PlateEvent], tiny_jpeg: bytes
) -> None:
    with Publisher(endpoint, heartbeat_s=HB) as pub:
        events = [event_factory(i) for i in range(2_500)]
        pub.publish_many([(e, tiny_jpeg if i % 3 == 0 else None) for i, e in enumerate(events)])
        with ReliableConsumer(pub.endpoint, name="late", replay_batch=500) as consumer:
            got = drain(consumer, 2_500)
            assert consumer.recv(timeout=0.2) is None  # nothing more, no duplicates
            stats = consumer.stats
    assert [m.seq for m in got] == list(range(1, 2_501))
    assert [m.event for m in got] == events
    assert all(m.replayed for m in got) and stats.replayed == 2_500
    assert [m.crop_jpeg is not None for m in got] == [i % 3 == 0 for i in range(2_500)]
    assert stats.gaps == 0 and stats.lost == 0 and stats.malformed == 0


def test_gap_in_the_live_stream_is_replayed_in_order(event_factory: Callable[..., PlateEvent]) -> None:
    with Publisher("tcp://127.0.0.1:*", heartbeat_s=HB) as pub:
        with ReliableConsumer(pub.endpoint, name="gaps") as consumer:
            pub.publish(event_factory(1))
            assert [m.seq for m in drain(consumer, 1)] == [1]
            # A message dropped on the way: stored in the outbox but never sent.
            missing = event_factory(2)
            pub.outbox.append([(b"cam1", missing.to_json(), None)])
            pub.publish(event_factory(3))
            got = drain(consumer, 2)
            assert consumer.stats.gaps == 1
        assert [m.seq for m in got] == [2, 3]
        assert got[0].event == missing and got[0].replayed  # 3 may come live or with the replay


def test_lost_tail_is_found_through_the_heartbeat(event_factory: Callable[..., PlateEvent]) -> None:
    with (
        Publisher("tcp://127.0.0.1:*", heartbeat_s=HB) as pub,
        ReliableConsumer(pub.endpoint, name="tail") as consumer,
    ):
        pub.publish(event_factory(1))
        assert len(drain(consumer, 1)) == 1
        pub.outbox.append([(b"cam1", event_factory(2).to_json(), None)])  # no later event will follow
        got = drain(consumer, 1, timeout=5)
    assert [m.seq for m in got] == [2]


def test_pub_high_water_mark_drops_are_recovered(event_factory: Callable[..., PlateEvent]) -> None:
    n = 10_000
    events = [event_factory(i) for i in range(n)]
    with (
        Publisher("tcp://127.0.0.1:*", hwm=50, heartbeat_s=HB) as pub,
        ReliableConsumer(pub.endpoint, name="slow", hwm=50) as consumer,
    ):
        pub.publish(events[0])
        assert len(drain(consumer, 1)) == 1  # connected and caught up
        for i in range(1, n, 1000):  # a burst far beyond both HWMs while the consumer is not reading
            pub.publish_many(events[i : i + 1000])
        got = drain(consumer, n - 1, timeout=30)
        stats = consumer.stats
    assert [m.seq for m in got] == list(range(2, n + 1))
    assert stats.gaps >= 1 and stats.replayed > 0 and stats.lost == 0


def test_topics_with_reliable_consumer(event_factory: Callable[..., PlateEvent]) -> None:
    with Publisher("tcp://127.0.0.1:*", heartbeat_s=HB) as pub:
        pub.publish_many([event_factory(i, ["cam1", "cam10"][i % 2]) for i in range(100)])
        with ReliableConsumer(pub.endpoint, name="t", topics=["cam10"]) as consumer:
            got = drain(consumer, 50)
            pub.publish_many([event_factory(i, ["cam1", "cam10"][i % 2]) for i in range(100, 110)])
            got += drain(consumer, 5)
            assert consumer.recv(timeout=0.2) is None
    assert [m.seq for m in got] == list(range(2, 111, 2))
    assert {m.event.camera for m in got} == {"cam10"}


def test_acks_prune_the_outbox_and_a_restarted_consumer_resumes_after_them(
    tmp_path: Path, event_factory: Callable[..., PlateEvent]
) -> None:
    with Publisher("tcp://127.0.0.1:*", outbox=tmp_path / "ob.db", heartbeat_s=HB) as pub:
        pub.publish_many([event_factory(i) for i in range(100)])
        with ReliableConsumer(pub.endpoint, name="store") as consumer:
            got = drain(consumer, 100)
            consumer.ack(got[59])  # stored the first 60 only, then "crashes"
        deadline = time.monotonic() + 5
        while pub.outbox.pending() > 40 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert pub.outbox.pending() == 40 and pub.outbox.acked("store") == 60
        with ReliableConsumer(pub.endpoint, name="store") as again:
            rest = drain(again, 40)
            assert again.recv(timeout=0.2) is None
            with ReliableConsumer(pub.endpoint, name="other") as other:
                # A consumer that never acknowledged starts from what the outbox still holds.
                assert [m.seq for m in drain(other, 40)] == list(range(61, 101))
            again.ack(pub.publisher_id, rest[-1].seq)
        deadline = time.monotonic() + 5
        while pub.outbox.pending() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert pub.outbox.pending() == 0
    assert [m.seq for m in rest] == list(range(61, 101))


def test_ack_argument_errors() -> None:
    with ReliableConsumer("tcp://127.0.0.1:1", name="x") as consumer:
        consumer.ack("00" * 16, 3)  # an unknown (e.g. replaced) publisher: nothing to do
        with pytest.raises(ValueError, match="32 hex"):
            consumer.ack("zz", 3)
        with pytest.raises(TypeError, match="seq"):
            consumer.ack("00" * 16)


def test_publisher_restart_with_its_outbox_loses_nothing(
    tmp_path: Path, event_factory: Callable[..., PlateEvent]
) -> None:
    ep, db = f"ipc://{tmp_path}/ev", tmp_path / "ob.db"
    events = [event_factory(i) for i in range(300)]
    with ReliableConsumer(ep, name="bridge") as consumer:
        with Publisher(ep, outbox=db, heartbeat_s=HB) as pub:
            pid = pub.publisher_id
            pub.publish_many(events[:100])
            got = drain(consumer, 50)
            # Accepted (committed) but the process died before sending it.
            pub.outbox.append([(b"cam1", events[100].to_json(), None)])
        got += drain(consumer, 50)  # what was already in flight
        with Publisher(ep, outbox=db, heartbeat_s=HB) as pub:
            assert pub.publisher_id == pid and pub.last_seq == 101
            assert pub.publish_many(events[101:200])[0] == 102
            got += drain(consumer, 100)  # 101 (from the outbox) and 102..200
            pub.publish_many(events[200:])
            got += drain(consumer, 100)
            assert consumer.recv(timeout=0.2) is None
    assert [m.seq for m in got] == list(range(1, 301))
    assert [m.event for m in got] == events


def test_two_publishers_one_consumer(tmp_path: Path, event_factory: Callable[..., PlateEvent]) -> None:
    with (
        Publisher("tcp://127.0.0.1:*", heartbeat_s=HB) as a,
        Publisher(f"ipc://{tmp_path}/b", heartbeat_s=HB) as b,
    ):
        a.publish_many([event_factory(i, "a") for i in range(30)])
        b.publish_many([event_factory(i, "b") for i in range(20)])
        with ReliableConsumer([a.endpoint, b.endpoint], name="both") as consumer:
            got = drain(consumer, 50)
            assert set(consumer.publishers) == {a.publisher_id, b.publisher_id}
    by_pub: dict[str, list[int]] = {}
    for m in got:
        by_pub.setdefault(m.publisher, []).append(m.seq)
    assert by_pub == {a.publisher_id: list(range(1, 31)), b.publisher_id: list(range(1, 21))}


def test_curve_encryption(event_factory: Callable[..., PlateEvent]) -> None:
    server_public, server_secret = zmq.curve_keypair()
    wrong_public, _ = zmq.curve_keypair()
    with Publisher("tcp://127.0.0.1:*", curve_server_secret=server_secret, heartbeat_s=HB) as pub:
        pub.publish_many([event_factory(i) for i in range(10)])
        with ReliableConsumer(pub.endpoint, name="c", curve_server_key=server_public) as consumer:
            assert [m.seq for m in drain(consumer, 10)] == list(range(1, 11))
        with ReliableConsumer(pub.endpoint, name="w", curve_server_key=wrong_public) as wrong:
            assert wrong.recv(timeout=0.5) is None
        with ReliableConsumer(pub.endpoint, name="p") as plain:
            assert plain.recv(timeout=0.5) is None


def test_malformed_frames_are_counted_and_skipped(event_factory: Callable[..., PlateEvent]) -> None:
    ctx = zmq.Context.instance()
    rogue = ctx.socket(zmq.PUB)
    rogue.bind("tcp://127.0.0.1:*")
    rogue_ep = rogue.get_string(zmq.LAST_ENDPOINT)
    pid = b"\x01" * 16
    good = event_factory(7).to_json()
    junk: list[list[bytes]] = [
        [b"cam1"],  # wrong number of frames
        [b"cam1", b"short", good, b""],  # bad header
        [b"cam1", bytes([9]) + pid + bytes(8), good, b""],  # unknown version
        [b"cam1", _wire.pack_header(pid, 1), b"{not json", b""],
        [b"cam1", _wire.pack_header(pid, 2), orjson.dumps({"schema": "alpr.plate/1"}), b""],
        [_wire.HEARTBEAT_TOPIC, _wire.pack_header(pid, 3), b"[]", b""],  # bad heartbeat
    ]
    try:
        with Publisher("tcp://127.0.0.1:*", heartbeat_s=HB) as pub:
            stats = ConsumerStats()
            gen = subscribe([rogue_ep, pub.endpoint], idle_timeout=5, stats=stats)
            with ReliableConsumer([rogue_ep, pub.endpoint], name="m") as consumer:
                # Wait until both are subscribed to the rogue socket (PUB drops before that): the
                # simple one yields a valid rogue probe, the reliable one counts a malformed probe.
                pump = Pump(pub, lambda i: (event_factory(i), None))
                deadline = time.monotonic() + 10
                try:
                    while time.monotonic() < deadline:
                        rogue.send_multipart([b"cam1", _wire.pack_header(pid, 1), good, b""])
                        if next(gen).publisher == pid.hex():
                            break
                    while consumer.stats.malformed == 0 and time.monotonic() < deadline:
                        # A bad heartbeat: skipped unread by subscribe, counted by the reliable one.
                        rogue.send_multipart([_wire.HEARTBEAT_TOPIC, _wire.pack_header(pid, 0), b"[]", b""])
                        consumer.recv(timeout=0.01)
                finally:
                    pump.close()
                assert stats.malformed == 0 and consumer.stats.malformed > 0
                before = consumer.stats.malformed
                for frames in junk:
                    rogue.send_multipart(frames)
                rogue.send_multipart([b"cam1", _wire.pack_header(pid, 1_000), good, b""])
                ok = next(m for m in gen if m.publisher == pid.hex() and m.seq == 1_000)
                assert ok.event == PlateEvent.from_json(good)
                assert stats.malformed == 5  # the bad heartbeat is just skipped by subscribe
                # The reliable consumer counts the broken frames and the bad heartbeat, and goes on
                # (it does not decode events of a publisher that never introduced itself: the two
                # bad documents are dropped unread, to be replayed once it does).
                while consumer.stats.malformed < before + 4 and time.monotonic() < deadline:
                    consumer.recv(timeout=0.05)
                assert consumer.stats.malformed >= before + 4
                n = pub.publish(event_factory(99))
                seen: list[int] = []
                while n not in seen and time.monotonic() < deadline:
                    seen += [m.seq for m in consumer.recv_batch(1_000, timeout=0.1)]
                assert n in seen
    finally:
        rogue.close(linger=0)


def test_bad_replay_requests_do_not_stop_the_publisher(event_factory: Callable[..., PlateEvent]) -> None:
    with Publisher("tcp://127.0.0.1:*", heartbeat_s=HB) as pub:
        pub.publish_many([event_factory(i) for i in range(5)])
        dealer = zmq.Context.instance().socket(zmq.DEALER)
        dealer.connect(pub.replay_endpoint)
        try:
            for frames in (
                [b"HELLO"],
                [b"HELLO", b"not json"],
                [b"REPLAY", b'{"from": -1, "max": 5}'],
                [b"ACK", b'{"consumer": "", "seq": 1}'],
                [b"BOGUS", b"{}"],
            ):
                dealer.send_multipart(frames)
                assert dealer.poll(2000)
                assert dealer.recv_multipart()[0] == b"ERROR"
            dealer.send_multipart([b"REPLAY", b'{"from": 2, "max": 2}'])
            assert dealer.poll(2000)
            reply = dealer.recv_multipart()
        finally:
            dealer.close(linger=0)
        assert pub.stats.bad_requests == 5
    assert reply[0] == b"BATCH" and orjson.loads(reply[1])["through"] == 3
    assert [_wire.unpack_header(reply[i])[1] for i in (2, 5)] == [2, 3]


def test_publisher_replaced_without_its_outbox_is_retired() -> None:
    """A new publisher (new id, no outbox) answers on the old replay endpoint: the old one's unsent
    events cannot come back; the consumer says so (lost) instead of taking the new one's events."""
    ctx = zmq.Context.instance()
    pub, router = ctx.socket(zmq.PUB), ctx.socket(zmq.ROUTER)
    pub.bind("tcp://127.0.0.1:*")
    router.bind("tcp://127.0.0.1:*")
    old, new = b"\x0a" * 16, b"\x0b" * 16
    try:
        with ReliableConsumer(pub.get_string(zmq.LAST_ENDPOINT), name="r") as consumer:
            beat = orjson.dumps({"replay": router.get_string(zmq.LAST_ENDPOINT), "first": 1, "last": 7})
            deadline = time.monotonic() + 5
            while not router.poll(0) and time.monotonic() < deadline:
                pub.send_multipart([_wire.HEARTBEAT_TOPIC, _wire.pack_header(old, 7), beat, b""])
                consumer.recv(timeout=0.02)
            ident, command, _ = router.recv_multipart()
            assert command == _wire.HELLO and consumer.publishers == {old.hex(): None}
            welcome = {"publisher": new.hex(), "acked": None, "first": 1, "last": 3}
            router.send_multipart([ident, _wire.WELCOME, orjson.dumps(welcome)])
            while consumer.publishers and time.monotonic() < deadline:
                consumer.recv(timeout=0.02)
            assert consumer.publishers == {}
            assert consumer.stats.lost == 7
    finally:
        pub.close(linger=0)
        router.close(linger=0)


def test_curve_client_allow_list(event_factory: Callable[..., PlateEvent]) -> None:
    server_public, server_secret = zmq.curve_keypair()
    allowed, stranger = zmq.curve_keypair(), zmq.curve_keypair()
    with Publisher(
        "tcp://127.0.0.1:*", curve_server_secret=server_secret, curve_client_keys=[allowed[0]], heartbeat_s=HB
    ) as pub:
        pub.publish_many([event_factory(i) for i in range(5)])
        with ReliableConsumer(
            pub.endpoint, name="a", curve_server_key=server_public, curve_keypair=allowed
        ) as ok:
            assert [m.seq for m in drain(ok, 5)] == [1, 2, 3, 4, 5]
        with ReliableConsumer(
            pub.endpoint, name="s", curve_server_key=server_public, curve_keypair=stranger
        ) as refused:
            assert refused.recv(timeout=0.5) is None
    with pytest.raises(ValueError, match="curve_server_secret"):
        Publisher("tcp://127.0.0.1:*", curve_client_keys=[allowed[0]])
    with pytest.raises(ValueError, match="Z85"):
        Publisher("tcp://127.0.0.1:*", curve_server_secret=server_secret, curve_client_keys=[b"short"])


def test_command_line_tail(
    tmp_path: Path, event_factory: Callable[..., PlateEvent], tiny_jpeg: bytes
) -> None:
    import subprocess
    import sys

    events = [event_factory(i) for i in range(5)]
    with Publisher(f"ipc://{tmp_path}/ev", heartbeat_s=HB) as pub:
        pub.publish_many([(e, tiny_jpeg) for e in events])
        out = subprocess.run(
            [sys.executable, "-m", "alpr.stream", pub.endpoint, "--name", "cli", "--count", "5"],
            capture_output=True,
            timeout=30,
            check=True,
        ).stdout
        deadline = time.monotonic() + 5
        while pub.outbox.acked("cli") != 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert pub.outbox.acked("cli") == 5  # acknowledged what it printed
    lines = [orjson.loads(line) for line in out.splitlines()]
    assert [line["seq"] for line in lines] == [1, 2, 3, 4, 5]
    assert [PlateEvent.from_dict(line["event"]) for line in lines] == events
    assert {line["crop_bytes"] for line in lines} == {len(tiny_jpeg)}


def test_chaos_restarts_drops_and_partial_acks_lose_nothing(
    tmp_path: Path, event_factory: Callable[..., PlateEvent]
) -> None:
    """Bursts beyond the high-water marks, consumer sessions that stop at random points and acknowledge
    only part of what they got, a publisher restart: the union of what was stored is everything, and
    each session sees an unbroken run of sequence numbers."""
    import random

    rng = random.Random(5)
    ep, db = f"ipc://{tmp_path}/ev", tmp_path / "ob.db"
    events = [event_factory(i, ["a", "b", "c"][i % 3]) for i in range(6_000)]
    stored: set[str] = set()
    published = replayed = 0
    pub = Publisher(ep, outbox=db, hwm=20, heartbeat_s=HB)
    try:
        for session in range(8):
            if session == 4:
                pub.close()
                pub = Publisher(ep, outbox=db, hwm=20, heartbeat_s=HB)
            with ReliableConsumer(ep, name="bridge", hwm=20, replay_batch=rng.choice([7, 100, 1_000])) as c:
                seqs: list[int] = []
                for _ in range(rng.randint(3, 8)):
                    burst = rng.randint(0, 900)
                    pub.publish_many(events[published : published + burst])
                    published = min(len(events), published + burst)
                    got = c.recv_batch(rng.randint(1, 1_500), timeout=0.3)
                    seqs += [m.seq for m in got]
                    keep = got[: rng.randint(0, len(got))]  # "stored" only a prefix
                    stored.update(m.event.event_id for m in keep)
                    if keep:
                        c.ack(keep[-1])
                    if len(keep) < len(got):
                        break  # crash before storing the rest
                if seqs:
                    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
                replayed += c.stats.replayed
        pub.publish_many(events[published:])
        with ReliableConsumer(ep, name="bridge") as c:
            while True:
                got = c.recv_batch(2_000, timeout=1.0)
                if not got:
                    break
                stored.update(m.event.event_id for m in got)
                c.ack(got[-1])
            assert c.stats.lost == 0
    finally:
        pub.close()
    assert stored == {e.event_id for e in events}
    assert replayed > 0  # sessions resumed from the outbox


def test_replay_from_an_encrypted_outbox(
    tmp_path: Path, event_factory: Callable[..., PlateEvent], tiny_jpeg: bytes
) -> None:
    import os

    pytest.importorskip("cryptography")
    events = [event_factory(i) for i in range(300)]
    key = os.urandom(32)
    with Publisher(f"ipc://{tmp_path}/ev", outbox=tmp_path / "ob.db", outbox_key=key, heartbeat_s=HB) as pub:
        pub.publish_many([(e, tiny_jpeg) for e in events])
        with ReliableConsumer(pub.endpoint, name="late") as consumer:
            got = drain(consumer, 300)
    assert [m.event for m in got] == events and all(m.replayed and m.crop_jpeg == tiny_jpeg for m in got)


def test_heartbeats_carry_camera_health(event_factory: Callable[..., PlateEvent]) -> None:
    with (
        Publisher("tcp://127.0.0.1:*", heartbeat_s=HB) as pub,
        ReliableConsumer(pub.endpoint, name="health") as consumer,
    ):
        pub.publish(event_factory(1))
        assert len(drain(consumer, 1)) == 1
        assert consumer.take_health() == {}  # nothing reported yet: heartbeats carry no cameras
        pub.report_health("cam1", fps=24.987, frames=1000, dropped=7)
        deadline = time.monotonic() + 5
        health: dict[str, Any] = {}
        while not health and time.monotonic() < deadline:
            consumer.recv_batch(10, timeout=0.05)
            health = consumer.take_health()
    assert health == {pub.publisher_id: {"cam1": {"fps": 24.99, "frames": 1000, "dropped": 7}}}
    assert consumer.take_health() == {}  # taken once
