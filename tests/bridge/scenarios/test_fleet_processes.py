"""A fleet as deployed: two edge publishers, two ``alpr serve`` processes on one PostgreSQL, one broker
and one webhook endpoint. Every event is stored once and delivered once on MQTT and once to the webhook,
whichever bridge received it (both receive every event: PUB/SUB fans out to every subscriber)."""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from alpr.bridge.crypto import Keyring
from alpr.bridge.store import Store
from alpr.stream import PlateEvent, Publisher
from netutil import Receiver, free_port_pair, serve_command

pytestmark = [pytest.mark.services, pytest.mark.timeout(240)]


def _serve(
    db: str, key_file: Path, mqtt: str, hook: str, edges: list[str], log: Path
) -> subprocess.Popen[bytes]:
    zmq = [a for ep in edges for a in ("--zmq", ep)]
    cmd = serve_command(db, key_file, "--mqtt", mqtt, "--webhook", hook, *zmq)
    with log.open("ab") as err:
        return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)


def test_two_serve_processes_two_edges_each_event_once_everywhere(
    postgres: Any, mosquitto: Any, collector: Any, tmp_path: Path, key_file: Path, keyring: Keyring
) -> None:
    db = postgres.new_database()
    col = collector(mosquitto, "alpr/+/plate")
    rx = Receiver()
    edges = [f"tcp://127.0.0.1:{free_port_pair()}" for _ in range(2)]
    n_per_edge = 150
    logs = [tmp_path / f"serve{k}.log" for k in range(2)]
    pubs = [Publisher(ep, outbox=tmp_path / f"edge{k}.db") for k, ep in enumerate(edges)]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs = [_serve(db, key_file, mosquitto.url, rx.url, edges, log) for log in logs]
        time.sleep(1.0)  # both bridges subscribed: each then receives every live event
        sent: list[str] = []
        for i in range(n_per_edge):
            for k, pub in enumerate(pubs):
                e = PlateEvent.create(
                    camera=f"edge{k}", plate=f"F{k}{i:04d}", confidence=0.9, box=(0, 0, 9, 4)
                )
                pub.publish(e)
                sent.append(e.event_id)
            time.sleep(0.005)
        total = len(sent)

        def on_mqtt() -> list[str]:
            return [orjson.loads(p)["event_id"] for _t, p, _r in col.topics()]

        def on_hook() -> list[str]:
            with rx.lock:
                return [b["event_id"] for b in rx.bodies if "event_id" in b and "type" not in b]

        assert col.wait_for(lambda: len(set(on_mqtt())) >= total, 120), (
            len(set(on_mqtt())),
            logs[0].read_text(),
        )
        deadline = time.monotonic() + 60
        while len(set(on_hook())) < total and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(2.0)  # a late duplicate would arrive here
        assert all(p.poll() is None for p in procs), [log.read_text() for log in logs]
        mqtt_ids, hook_ids = on_mqtt(), on_hook()
        assert sorted(mqtt_ids) == sorted(sent), Counter(mqtt_ids).most_common(3)  # each once, none missing
        assert sorted(hook_ids) == sorted(sent), Counter(hook_ids).most_common(3)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(30)
        for pub in pubs:
            pub.close()
        rx.close()
    store = Store(db, keyring)
    try:
        assert store.stats()["reads"] == total
    finally:
        store.close()
