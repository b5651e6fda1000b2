"""The simple live-only consumer ``subscribe``, and what every consumer shares.

That is the received message, the counters, decoding and socket set-up.

``subscribe`` is for dashboards and scripts: it yields what the PUB socket delivers and counts gaps,
but cannot recover them. A store uses ``alpr.stream.consumer.ReliableConsumer`` (replay, acks).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import zmq

from alpr.errors import DecodeError
from alpr.stream import _wire
from alpr.stream.events import PlateEvent

__all__ = ["ConsumerStats", "StreamMessage", "subscribe"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StreamMessage:
    """One event as received.

    Attributes:
        seq: the publisher's sequence number (1, 2, 3, ... with no holes across the publisher's life).
        publisher: id of the publisher (32 hex characters; stable across restarts with the same outbox).
        event: the decoded, validated event.
        crop_jpeg: the JPEG crop, or None.
        replayed: True when it came from the replay channel rather than the live stream.
    """

    seq: int
    publisher: str
    event: PlateEvent
    crop_jpeg: bytes | None
    replayed: bool = False


@dataclass
class ConsumerStats:
    """Counters of one consumer."""

    received: int = 0
    """Messages read from the sockets (live and replayed), heartbeats excluded."""
    delivered: int = 0
    """Events handed to the caller, each sequence number of a publisher once (``ReliableConsumer``)."""
    replayed: int = 0
    """Of ``delivered``, how many came from the replay channel."""
    duplicates: int = 0
    """Live messages skipped because their sequence number was already delivered (by a replay, say)."""
    gaps: int = 0
    """Holes seen in the sequence numbers (each one triggers a replay in ``ReliableConsumer``)."""
    lost: int = 0
    """Events that could not be recovered (the publisher's outbox no longer had them)."""
    foreign_acks: int = 0
    """Publishers found holding an acknowledgement this consumer never sent (``ReliableConsumer``'s
    ``stored``)."""
    malformed: int = 0
    """Messages or events that could not be decoded or validated, logged and skipped."""
    filtered: int = 0
    """Events of cameras not in ``topics``, skipped."""
    last_seq: dict[str, int] = field(default_factory=dict)
    """Last sequence number handled, per publisher."""


def _decode(
    frames: list[bytes], replayed: bool, stats: ConsumerStats
) -> tuple[bytes, int, StreamMessage | None]:
    """Decode ``[header, body, crop]``; returns (publisher id, seq, message or None when malformed)."""
    pid, seq = _wire.unpack_header(frames[0])
    try:
        event = PlateEvent.from_json(frames[1])
    except DecodeError as exc:
        stats.malformed += 1
        log.warning("stream: malformed event seq %d from %s skipped: %s", seq, pid.hex(), exc)
        return pid, seq, None
    crop = frames[2] or None
    return pid, seq, StreamMessage(seq, pid.hex(), event, crop, replayed)


def _configure_client(
    sock: zmq.Socket[Any], curve_server_key: bytes | None, curve_keypair: tuple[bytes, bytes] | None
) -> None:
    sock.setsockopt(zmq.LINGER, 1000)
    if curve_server_key is not None:
        public, secret = curve_keypair if curve_keypair is not None else zmq.curve_keypair()
        sock.curve_serverkey = curve_server_key
        sock.curve_publickey = public
        sock.curve_secretkey = secret


def _as_list(endpoints: str | Sequence[str]) -> list[str]:
    eps = [endpoints] if isinstance(endpoints, str) else list(endpoints)
    if not eps or not all(isinstance(e, str) and "://" in e for e in eps):
        raise ValueError(f"endpoints: expected one or more endpoints like tcp://host:port, got {endpoints!r}")
    return eps


def subscribe(
    endpoints: str | Sequence[str],
    *,
    topics: Sequence[str] = (),
    curve_server_key: bytes | None = None,
    curve_keypair: tuple[bytes, bytes] | None = None,
    hwm: int = 100_000,
    idle_timeout: float | None = None,
    stats: ConsumerStats | None = None,
) -> Iterator[StreamMessage]:
    """Yield live events from one or more publishers (no replay).

    Events sent while nobody listened, or dropped at a high-water mark, are missed; they are counted in
    ``stats.gaps``.

    Args:
        endpoints: PUB endpoint(s) to connect to.
        topics: cameras to receive (exact names); empty for all.
        curve_server_key: the publisher's Z85 public key when it uses CurveZMQ.
        curve_keypair: this client's ``(public, secret)`` Z85 keys; default a fresh pair.
        hwm: receive high-water mark (messages queued before ZeroMQ drops).
        idle_timeout: stop after this many seconds without a message; None waits forever.
        stats: counters to update (malformed messages are logged, counted and skipped).
    """
    eps = _as_list(endpoints)
    stats = stats if stats is not None else ConsumerStats()
    wanted = {t.encode() for t in topics}
    ctx: zmq.Context[zmq.Socket[Any]] = zmq.Context.instance()
    sock = ctx.socket(zmq.SUB)
    try:
        _configure_client(sock, curve_server_key, curve_keypair)
        sock.setsockopt(zmq.RCVHWM, hwm)
        for t in wanted or {b""}:
            sock.setsockopt(zmq.SUBSCRIBE, t)
        for ep in eps:
            sock.connect(ep)
        deadline = None if idle_timeout is None else time.monotonic() + idle_timeout
        while True:
            # Heartbeats keep arriving: the idle timeout counts from the last event, not the last frame.
            wait = None if deadline is None else max(0, int((deadline - time.monotonic()) * 1000))
            if not sock.poll(wait):
                return
            frames = sock.recv_multipart()
            if len(frames) != 4:
                stats.malformed += 1
                log.warning("stream: malformed message with %d frames skipped", len(frames))
                continue
            if frames[0] == _wire.HEARTBEAT_TOPIC:
                continue
            # ZeroMQ filters by prefix: "cam1" would also match "cam10".
            if wanted and frames[0] not in wanted:
                continue
            try:
                pid, seq, msg = _decode(frames[1:], False, stats)
            except ValueError as exc:
                stats.malformed += 1
                log.warning("stream: malformed message skipped: %s", exc)
                continue
            stats.received += 1
            key = pid.hex()
            last = stats.last_seq.get(key)
            if not wanted and last is not None and seq > last + 1:
                stats.gaps += 1
                log.warning(
                    "stream: %d events from %s missed (seq %d..%d)", seq - last - 1, key, last + 1, seq - 1
                )
            stats.last_seq[key] = seq if last is None else max(last, seq)
            if msg is not None:
                stats.delivered += 1
                yield msg
                if idle_timeout is not None:
                    deadline = time.monotonic() + idle_timeout
    finally:
        sock.close(linger=0)
