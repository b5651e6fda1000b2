"""A forged acknowledgement on an unauthenticated replay port cannot hide lost events from the bridge."""

from __future__ import annotations

import ssl
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import zmq

from alpr.stream import PlateEvent, Publisher, _wire
from netutil import serve_bridge


def _forge_ack(replay: str, consumer: str, seq: int) -> None:
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.linger = 1000
    try:
        sock.connect(replay)
        sock.send_multipart([_wire.ACK, orjson.dumps({"consumer": consumer, "seq": seq})])
        sock.send_multipart([_wire.HELLO, orjson.dumps({"consumer": consumer})])
        assert sock.poll(2000), "no WELCOME: the ACK was not handled"
        assert orjson.loads(sock.recv_multipart()[1])["acked"] == seq
    finally:
        sock.close()


def test_bridge_reports_events_a_forged_ack_pruned(tmp_path: Path, pki: Any) -> None:
    """20 events published while the bridge is down; an attacker acknowledges all 20 under the
    bridge's consumer name, so the publisher prunes them. The bridge, whose store holds none of them,
    does not take the publisher's word: ``/api/v1/health`` shows 1 foreign ACK and 20 events lost,
    and what is published next is stored as usual."""
    events = [
        PlateEvent.create(camera="gate", plate=f"FA{i:04d}", confidence=0.9, box=(1, 1, 20, 8))
        for i in range(25)
    ]
    with Publisher("tcp://127.0.0.1:*", outbox=tmp_path / "ob.db", heartbeat_s=0.1) as pub:
        pub.publish_many(events[:20])
        db = f"sqlite:///{tmp_path / 'b.db'}"
        with serve_bridge(tmp_path, pki, db, zmq=[pub.endpoint]) as (bridge, url):
            _forge_ack(pub.replay_endpoint, bridge.consumer_name, 20)
            assert pub.outbox.pending() == 0
            bridge.start()
            token = bridge.store.create_token("viewer")
            with httpx.Client(
                base_url=url,
                verify=ssl.create_default_context(cafile=str(pki.ca)),
                headers={"Authorization": f"Bearer {token}"},
            ) as client:
                stream: dict[str, int] = {}
                deadline = time.monotonic() + 15
                while time.monotonic() < deadline:
                    stream = client.get("/api/v1/health").json()["stream"] or {}
                    if stream.get("lost"):
                        break
                    time.sleep(0.1)
                assert stream["foreign_acks"] == 1 and stream["lost"] == 20, stream
                pub.publish_many(events[20:])
                deadline = time.monotonic() + 15
                while time.monotonic() < deadline and bridge.store.stats()["reads"] < 5:
                    time.sleep(0.1)
                assert bridge.store.stats()["reads"] == 5
