"""Publisher: a ZeroMQ PUB socket (topic = camera) backed by a durable outbox and a replay channel.

Guarantee: **at least once** for every event that ``publish`` accepted (returned a sequence number),
between this publisher and every reliable consumer that acknowledges what it stored. Consumers store
idempotently by ``event_id``, which turns redeliveries into no-ops.

How: ``publish`` appends the event to the outbox (SQLite in WAL mode, committed) *before* it is sent
on the PUB socket. PUB/SUB drops messages when nobody listens or a high-water mark is reached; a
reliable consumer sees the hole in the per-publisher sequence numbers (or in the ``last`` sequence
of the heartbeats sent every ``heartbeat_s``) and asks the ROUTER socket on the replay endpoint
for the missing range. Consumers acknowledge up to a sequence number once their store committed;
the outbox deletes what every known consumer acknowledged. With a file outbox, a crash of either
side loses nothing: the publisher restarts with the same id and carries on the sequence, the
consumer restarts from its last acknowledgement. Without a file (``outbox=None``) the outbox lives
in memory, bounded by ``max_outbox_events``, and does not survive the process.

Limits: a bounded outbox that fills up drops its oldest events (logged, counted in ``evicted``,
reported by consumers as ``lost``); a consumer name never seen before starts from the oldest event
still held (what all known consumers acknowledged is gone); ``synchronous=NORMAL`` (the default)
survives a crash of the process but not necessarily a power cut (``fsync=True`` does). Give each
independent consumer its own ``name``: consumers sharing a name share one acknowledgement cursor.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import struct
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

import orjson
import zmq

from alpr.errors import ConfigError, StoreError
from alpr.stream import _wire
from alpr.stream.events import PlateEvent
from alpr.stream.keys import DataKeys
from alpr.stream.outbox import Outbox

if TYPE_CHECKING:
    from alpr.tracking import VehicleEvent

__all__ = ["Outbox", "Publisher", "PublisherStats"]

log = logging.getLogger(__name__)

_DEFAULT_MEMORY_EVENTS = 100_000
_MAX_BATCH = 10_000
_SEQ = struct.Struct(">Q")
_SEQ_MAX = 2**63 - 1  # SQLite INTEGER range: a larger number in a request is refused, not passed on
_NOBLOCK = int(zmq.NOBLOCK)  # a plain int: pyzmq's enum arithmetic costs more than the send


@dataclass
class PublisherStats:
    """Counters of one publisher (read them; only the publisher writes them)."""

    published: int = 0
    """Events accepted: stored in the outbox, then sent on the live stream."""
    heartbeats: int = 0
    """Heartbeats sent; each carries the first and last sequence numbers held, so a consumer sees a
    gap even when no event follows it."""
    replay_requests: int = 0
    """Replay requests answered (a consumer asking for the events it missed)."""
    replayed: int = 0
    """Events sent again in those answers."""
    acks: int = 0
    """Acknowledgements accepted; the outbox deletes what every known consumer acknowledged."""
    evicted: int = 0
    """Unacknowledged events a full bounded outbox dropped (``max_outbox_events``); consumers report
    them as ``lost``."""
    bad_requests: int = 0
    """Requests on the replay socket refused as malformed or forged, or that failed."""


class Publisher:
    """Publish plate events on a ZeroMQ PUB socket (topic = camera) with no loss of accepted events.

    Args:
        endpoint: where to bind the PUB socket, e.g. ``tcp://0.0.0.0:5555``, ``tcp://127.0.0.1:*``,
            ``ipc:///run/alpr/events``.
        outbox: SQLite file of the durable outbox; None keeps it in memory (lost with the process).
        hwm: send high-water mark of the PUB socket, per subscriber (messages beyond it are dropped
            and later replayed from the outbox).
        curve_server_secret: Z85 CurveZMQ secret key (from ``zmq.curve_keypair()``): encrypts both
            sockets; consumers need the matching public key.
        curve_client_keys: Z85 public keys of the consumers allowed to connect (needs
            ``curve_server_secret``). None: any client that knows the server's public key may connect.
        replay_endpoint: where to bind the replay ROUTER socket; default derived from ``endpoint``
            (tcp port + 1, or ``.replay`` appended to an ipc path). It is announced in heartbeats.
        heartbeat_s: interval of the heartbeats that carry the last sequence number.
        max_outbox_events: bound of the outbox (oldest dropped first); default unbounded for a file,
            100,000 in memory.
        fsync: make every outbox commit survive power loss, not only a crash of the process.
        outbox_key: AES-GCM key (16, 24 or 32 bytes) or :class:`~alpr.stream.keys.DataKeys` encrypting
            the event documents and crops in the outbox file (plates are not left in clear on the edge
            device while the bridge is away); see :class:`~alpr.stream.outbox.Outbox`.

    Thread-safe: ``publish`` may be called from several threads.
    """

    def __init__(  # noqa: PLR0913 (keyword-only socket and outbox options, documented under Args)
        self,
        endpoint: str,
        *,
        outbox: str | os.PathLike[str] | None = None,
        hwm: int = 10_000,
        curve_server_secret: bytes | None = None,
        curve_client_keys: Iterable[bytes] | None = None,
        replay_endpoint: str | None = None,
        heartbeat_s: float = 1.0,
        max_outbox_events: int | None = None,
        fsync: bool = False,
        outbox_key: bytes | DataKeys | None = None,
    ) -> None:
        if hwm < 0:
            raise ValueError(f"hwm: expected >= 0, got {hwm}")
        if not heartbeat_s > 0:
            raise ValueError(f"heartbeat_s: expected > 0, got {heartbeat_s}")
        replay_at = replay_endpoint or _wire.replay_endpoint_for(endpoint)
        allowed = None
        if curve_client_keys is not None:
            if curve_server_secret is None:
                raise ValueError("curve_client_keys: needs curve_server_secret as well")
            allowed = frozenset(curve_client_keys)
            if not all(isinstance(k, bytes) and len(k) == 40 for k in allowed):
                raise ValueError("curve_client_keys: expected Z85 public keys (40 bytes each)")
        self.stats = PublisherStats()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._heartbeat_s = heartbeat_s
        self._health: dict[str, dict[str, float | int]] = {}
        self._closed = False
        self._outbox = Outbox(outbox, max_events=max_outbox_events, fsync=fsync, key=outbox_key)
        self.publisher_id = self._outbox.publisher_id.hex()
        self._ctx = zmq.Context()
        self._auth: Any = None
        try:
            if allowed is not None:
                self._start_auth(allowed)
            self._pub = self._ctx.socket(zmq.PUB)
            self._router = self._ctx.socket(zmq.ROUTER)
            for sock in (self._pub, self._router):
                sock.setsockopt(zmq.LINGER, 1000)
                sock.setsockopt(zmq.SNDHWM, hwm)
                if curve_server_secret is not None:
                    sock.curve_secretkey = curve_server_secret
                    sock.curve_publickey = zmq.curve_public(curve_server_secret)
                    sock.curve_server = True
            self._pub.bind(endpoint)
            self._router.bind(replay_at)
        except (zmq.ZMQError, ValueError) as exc:
            self._teardown()
            raise ConfigError(f"publisher: cannot bind {endpoint} / {replay_at}: {exc}") from exc
        self.endpoint: str = self._pub.get_string(zmq.LAST_ENDPOINT)
        self.replay_endpoint: str = self._router.get_string(zmq.LAST_ENDPOINT)
        self._thread = threading.Thread(target=self._serve, name="alpr-stream-replay", daemon=True)
        self._thread.start()

    def report_health(
        self, camera: str, *, fps: float | None = None, frames: int | None = None, dropped: int | None = None
    ) -> None:
        """Set a camera's health numbers; every following heartbeat carries them (``"cameras"``).

        So consumers learn FPS, frames read and frames dropped per camera, and when each was last up.
        """
        h: dict[str, float | int] = {}
        if fps is not None:
            h["fps"] = round(float(fps), 2)
        if frames is not None:
            h["frames"] = int(frames)
        if dropped is not None:
            h["dropped"] = int(dropped)
        with self._lock:
            self._health[camera] = h

    @property
    def last_seq(self) -> int:
        """Sequence number of the last event published (0 before the first)."""
        return self._outbox.last_seq

    @property
    def outbox(self) -> Outbox:
        """The outbox this publisher stores events in before sending them (and replays from)."""
        return self._outbox

    def publish(self, event: PlateEvent, crop_jpeg: bytes | None = None) -> int:
        """Store ``event`` (and its JPEG crop) in the outbox, then send it; returns its sequence number.

        Raises:
            TypeError / ValueError: not a ``PlateEvent``, or the crop is not JPEG bytes.
            StoreError: the outbox could not store it; the event was not accepted.
        """
        return self.publish_many(((event, crop_jpeg),))[0]

    def publish_vehicle(self, vehicle: VehicleEvent) -> int:
        """Publish a tracker's vehicle event (:meth:`PlateEvent.from_vehicle`) with its crop as JPEG.

        Returns its sequence number. A crop that cannot be encoded is left out, not the event.

        Raises:
            StoreError: the outbox could not store it; the event was not accepted.
        """
        crop = None
        if vehicle.crop is not None and vehicle.crop.size:
            import cv2

            ok, buf = cv2.imencode(".jpg", vehicle.crop)
            crop = buf.tobytes() if ok else None
        return self.publish(PlateEvent.from_vehicle(vehicle), crop)

    def publish_many(self, items: Iterable[tuple[PlateEvent, bytes | None] | PlateEvent]) -> list[int]:
        """Publish several events with one outbox transaction (faster); returns their sequence numbers."""
        rows: list[tuple[bytes, bytes, bytes | None]] = []
        for item in items:
            event, crop = (item, None) if isinstance(item, PlateEvent) else item
            if not isinstance(event, PlateEvent):
                raise TypeError(f"event: expected PlateEvent, got {type(event).__name__}")
            if crop is not None:
                if not isinstance(crop, (bytes, bytearray, memoryview)):
                    raise TypeError(f"crop_jpeg: expected bytes or None, got {type(crop).__name__}")
                crop = bytes(crop)
                if not crop.startswith(_wire.JPEG_MAGIC):
                    raise ValueError(f"crop_jpeg: expected JPEG bytes (starting FF D8), got {crop[:4]!r}")
            rows.append((event.camera.encode(), event.to_json(), crop))
        if not rows:
            return []
        if len(rows) > _MAX_BATCH:
            seqs: list[int] = []
            for i in range(0, len(rows), _MAX_BATCH):
                seqs += self._publish_rows(rows[i : i + _MAX_BATCH])
            return seqs
        return self._publish_rows(rows)

    def _publish_rows(self, rows: list[tuple[bytes, bytes, bytes | None]]) -> list[int]:
        with self._lock:
            if self._closed:
                raise StoreError("publisher: closed")
            first = self._outbox.append(rows)
            pid = self._outbox.publisher_id
            for i, (topic, body, crop) in enumerate(rows):
                # A PUB socket at its high-water mark drops rather than blocks: the outbox has it.
                self._pub.send_multipart(
                    (topic, _wire.pack_header(pid, first + i), body, crop or b""), _NOBLOCK
                )
            self.stats.published += len(rows)
            self.stats.evicted = self._outbox.evicted
        return list(range(first, first + len(rows)))

    def close(self) -> None:
        """Stop the replay thread and close the sockets and the outbox (what is stored stays stored)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._stop.set()
        self._thread.join()
        self._teardown()

    def __enter__(self) -> Publisher:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _start_auth(self, allowed: frozenset[bytes]) -> None:
        from zmq.auth.thread import ThreadAuthenticator

        class _AllowList:
            def callback(self, domain: str, key: bytes) -> bool:
                if key in allowed:
                    return True
                log.warning("stream: refused a CurveZMQ client with an unknown key %s", key.decode())
                return False

        # ZAP handler on this context: must run before the sockets bind.
        self._auth = ThreadAuthenticator(self._ctx)
        self._auth.start()
        self._auth.configure_curve_callback("*", _AllowList())

    def _teardown(self) -> None:
        if self._auth is not None:
            self._auth.stop()
            self._auth = None
        for name in ("_pub", "_router"):
            sock = getattr(self, name, None)
            if sock is not None:
                sock.close()
        self._ctx.term()
        self._outbox.close()

    # -- replay thread ---------------------------------------------------------------------------

    def _serve(self) -> None:
        poller = zmq.Poller()
        poller.register(self._router, zmq.POLLIN)
        next_beat = 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= next_beat:
                self._heartbeat()
                next_beat = now + self._heartbeat_s
            wait = max(0.0, min(next_beat - time.monotonic(), 0.05))
            if not poller.poll(int(wait * 1000) + 1):
                continue
            for _ in range(1000):
                try:
                    frames = self._router.recv_multipart(flags=zmq.NOBLOCK)
                except zmq.Again:
                    break
                try:
                    self._handle(frames)
                except StoreError as exc:
                    log.error("replay: %s", exc)
                except zmq.ZMQError as exc:
                    log.warning("replay: cannot reply: %s", exc)
                except Exception:  # one bad request must not end replay for every consumer
                    self.stats.bad_requests += 1
                    log.exception("replay: request failed")

    def _heartbeat(self) -> None:
        try:
            first = self._outbox.first_seq()
        except sqlite3.Error as exc:
            log.error("heartbeat: cannot read the outbox: %s", exc)
            return
        with self._lock:
            if self._closed:
                return
            last = self._outbox.last_seq
            beat: dict[str, object] = {
                "replay": self.replay_endpoint,
                "first": min(first, last + 1),
                "last": last,
            }
            if self._health:
                beat["cameras"] = dict(self._health)
            body = orjson.dumps(beat)
            try:
                self._pub.send_multipart(
                    (_wire.HEARTBEAT_TOPIC, _wire.pack_header(self._outbox.publisher_id, last), body, b""),
                    flags=zmq.NOBLOCK,
                )
                self.stats.heartbeats += 1
            except zmq.Again:
                pass

    def _handle(self, frames: list[bytes]) -> None:
        if len(frames) != 3:
            self._reject(frames[0], f"expected [command, body], got {len(frames) - 1} frames")
            return
        ident, command, raw = frames
        try:
            body: Any = orjson.loads(raw)
            if not isinstance(body, dict):
                raise ValueError("body is not an object")
            if command == _wire.HELLO:
                consumer = _str_field(body, "consumer")
                meta = {
                    "publisher": self.publisher_id,
                    "acked": self._outbox.acked(consumer),
                    "first": self._outbox.first_seq(),
                    "last": self._outbox.last_seq,
                }
                self._router.send_multipart((ident, _wire.WELCOME, orjson.dumps(meta)))
            elif command == _wire.REPLAY:
                self._replay(ident, body)
            elif command == _wire.ACK:
                consumer = _str_field(body, "consumer")
                seq = _int_field(body, "seq")
                last = self._outbox.last_seq
                if seq > last:  # nothing past `last` was ever sent: a forged or confused ACK
                    raise ValueError(f"seq: {seq} is beyond the last event published ({last})")
                self._outbox.ack(consumer, seq)
                self.stats.acks += 1
            else:
                raise ValueError(f"unknown command {command[:16]!r}")
        except (ValueError, orjson.JSONDecodeError) as exc:
            self._reject(ident, str(exc))

    def _replay(self, ident: bytes, body: dict[str, Any]) -> None:
        from_seq = max(1, _int_field(body, "from"))
        limit = min(max(1, _int_field(body, "max")), _MAX_BATCH)
        topics = body.get("topics") or []
        if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
            raise ValueError("topics: expected a list of strings")
        first = self._outbox.first_seq()
        rows, through = self._outbox.read(from_seq, limit, topics)
        pid = self._outbox.publisher_id
        meta = {
            "publisher": self.publisher_id,
            "from": from_seq,
            "through": through,
            "first": first,
            "last": self._outbox.last_seq,
        }
        frames: list[bytes] = [ident, _wire.BATCH, orjson.dumps(meta)]
        for seq, _topic, event_body, crop in rows:
            frames += (_wire.pack_header(pid, seq), event_body, crop or b"")
        self._router.send_multipart(frames)
        self.stats.replay_requests += 1
        self.stats.replayed += len(rows)

    def _reject(self, ident: bytes, why: str) -> None:
        self.stats.bad_requests += 1
        log.warning("replay: bad request: %s", why)
        with contextlib.suppress(zmq.ZMQError):
            self._router.send_multipart((ident, _wire.ERROR, why.encode()), flags=zmq.NOBLOCK)


def _str_field(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name}: expected a non-empty string, got {value!r:.40}")
    return value


def _int_field(body: dict[str, Any], name: str) -> int:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _SEQ_MAX:
        raise ValueError(f"{name}: expected an integer in 0..2**63-1, got {value!r:.40}")
    return value
