"""``ReliableConsumer``: gap detection, replay and acknowledgements over the publisher's replay port.

It delivers every event each publisher accepted, in sequence order per publisher, at least once,
provided the consumer acknowledges (``ack``) what it has stored. See ``alpr.stream.publisher`` for
the protocol.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Any

import orjson
import zmq

from alpr.stream import _wire
from alpr.stream.subscriber import ConsumerStats, StreamMessage, _as_list, _configure_client, _decode

__all__ = ["ReliableConsumer"]

log = logging.getLogger(__name__)

_CLOSE_LINGER_MS = 1000  # how long close() lets pending acknowledgements leave


class _Peer:
    """What a reliable consumer knows about one publisher."""

    __slots__ = ("dealer", "delivered", "id", "inflight_until", "replay_endpoint", "target", "via")

    def __init__(self, pid: bytes, via: str) -> None:
        self.id = pid
        self.via = via
        self.replay_endpoint = ""
        self.dealer: zmq.Socket[Any] | None = None
        self.delivered: int | None = None  # None until WELCOME
        self.target = 0  # highest seq known to exist
        self.inflight_until = 0.0  # monotonic deadline of the outstanding request, 0 when none


class ReliableConsumer:
    """Receive every accepted event from one or more publishers, with replay and acknowledgements.

    Per publisher, events are delivered in sequence order; a hole in the sequence numbers (a message
    dropped by PUB/SUB, a consumer that started late or restarted) is filled from the publisher's
    outbox through its replay endpoint (announced in its heartbeats). On start, a consumer resumes
    after the last sequence number acknowledged under its ``name``, or from the oldest event still in
    the outbox when that name never acknowledged. The guarantee is at least once: store events
    idempotently by ``event_id`` and call ``ack(message)`` only after the store committed.

    Args:
        endpoints: PUB endpoint(s) of the publishers.
        name: durable consumer name; the publisher keeps its acknowledgement under it.
        topics: cameras to deliver (exact names); empty for all.
        curve_server_key: the publisher's Z85 public key when it uses CurveZMQ.
        curve_keypair: this client's ``(public, secret)`` Z85 keys; default a fresh pair.
        replay_batch: events per replay request.
        request_timeout_s: resend a replay request not answered within this time.
        ack_interval_s: acknowledgements are coalesced and sent at most this often (and on ``flush``
            and ``close``).
        stored: ``publisher id -> the last sequence number this consumer durably stored from it`` (0
            for none), e.g. the bridge's cursors. When given, the consumer resumes from its own record,
            not from the publisher's: an acknowledgement under this ``name`` that this consumer never
            sent (a forged ACK on an unauthenticated replay port, or another consumer using the same
            name) cannot make it skip events; what the publisher pruned because of it is logged and
            counted in ``stats.lost`` and ``stats.foreign_acks``. Without CurveZMQ anyone who reaches
            the replay port can acknowledge; this makes such loss visible, Curve prevents it.

    Example::

        with ReliableConsumer("tcp://127.0.0.1:5555", name="bridge") as consumer:
            for msg in consumer:
                store.insert(msg.event)  # idempotent by msg.event.event_id
                consumer.ack(msg)
    """

    def __init__(  # noqa: PLR0913 (keyword-only socket options, documented under Args)
        self,
        endpoints: str | Sequence[str],
        *,
        name: str = "default",
        topics: Sequence[str] = (),
        curve_server_key: bytes | None = None,
        curve_keypair: tuple[bytes, bytes] | None = None,
        hwm: int = 100_000,
        replay_batch: int = 1_000,
        request_timeout_s: float = 2.0,
        ack_interval_s: float = 0.05,
        stored: Callable[[str], int] | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"name: expected a non-empty string, got {name!r}")
        if replay_batch < 1:
            raise ValueError(f"replay_batch: expected >= 1, got {replay_batch}")
        self.name = name
        self.topics = tuple(topics)
        self.stats = ConsumerStats()
        self._health: dict[str, dict[str, Any]] = {}
        self._wanted = {t.encode() for t in topics}
        self._curve = (curve_server_key, curve_keypair)
        self._batch = replay_batch
        self._request_timeout = request_timeout_s
        self._ack_interval = ack_interval_s
        self._stored = stored
        self._ready: deque[StreamMessage] = deque()
        self._peers: dict[bytes, _Peer] = {}
        self._by_dealer: dict[zmq.Socket[Any], _Peer] = {}
        self._pending_acks: dict[bytes, int] = {}
        self._next_ack_flush = 0.0
        self._closed = False
        self._ctx = zmq.Context()
        self._poller = zmq.Poller()
        self._subs: dict[zmq.Socket[Any], str] = {}
        for ep in _as_list(endpoints):
            sock = self._ctx.socket(zmq.SUB)
            _configure_client(sock, curve_server_key, curve_keypair)
            sock.setsockopt(zmq.RCVHWM, hwm)
            sock.setsockopt(zmq.SUBSCRIBE, b"")
            sock.connect(ep)
            self._subs[sock] = ep
            self._poller.register(sock, zmq.POLLIN)

    # -- public API ------------------------------------------------------------------------------

    def recv(self, timeout: float | None = None) -> StreamMessage | None:
        """The next event, waiting up to ``timeout`` seconds (None: forever); None on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self._housekeeping()
            if self._ready:
                msg = self._ready.popleft()
                self.stats.delivered += 1
                if msg.replayed:
                    self.stats.replayed += 1
                return msg
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return None
            wait = 0.05 if deadline is None else min(0.05, deadline - now)
            self._pump(wait)

    def take_health(self) -> dict[str, dict[str, Any]]:
        """Heartbeat health since the last call: publisher id (hex) -> camera -> fps, frames, dropped."""
        out, self._health = self._health, {}
        return out

    def recv_batch(self, max_messages: int = 1_000, timeout: float | None = None) -> list[StreamMessage]:
        """Up to ``max_messages`` events: waits up to ``timeout`` for the first, then takes what is ready."""
        first = self.recv(timeout)
        if first is None:
            return []
        out = [first]
        while len(out) < max_messages:
            if not self._ready:
                self._pump(0.0)
                if not self._ready:
                    break
            msg = self._ready.popleft()
            self.stats.delivered += 1
            if msg.replayed:
                self.stats.replayed += 1
            out.append(msg)
        return out

    def __iter__(self) -> Iterator[StreamMessage]:
        while not self._closed:
            msg = self.recv(None)
            if msg is not None:
                yield msg

    def ack(self, message: StreamMessage | str, seq: int | None = None) -> None:
        """Acknowledge ``message`` and everything delivered before it from the same publisher.

        Call it once the message is durably stored. Also ``ack(publisher_id, seq)``. Acks are
        coalesced and sent within ``ack_interval_s``; ``flush`` sends them now.
        """
        if isinstance(message, StreamMessage):
            publisher, seq = message.publisher, message.seq
        else:
            publisher = message
            if seq is None:
                raise TypeError("ack: expected ack(message) or ack(publisher, seq), got no seq")
        try:
            pid = bytes.fromhex(publisher)
        except ValueError:
            raise ValueError(
                f"ack: expected a publisher id of 32 hex characters, got {publisher!r}"
            ) from None
        if pid not in self._peers:
            # A publisher replaced by another one (see _retire): nothing to acknowledge any more.
            log.debug("stream: ack for unknown publisher %s ignored", publisher)
            return
        if seq > self._pending_acks.get(pid, 0):
            self._pending_acks[pid] = seq

    def flush(self) -> None:
        """Send pending acknowledgements now."""
        for pid, seq in self._pending_acks.items():
            peer = self._peers[pid]
            if peer.dealer is not None:
                self._send(peer, _wire.ACK, {"consumer": self.name, "seq": seq})
        self._pending_acks.clear()
        self._next_ack_flush = time.monotonic() + self._ack_interval

    @property
    def publishers(self) -> dict[str, int | None]:
        """Last sequence number handled per publisher id (None before its replay handshake)."""
        return {pid.hex(): p.delivered for pid, p in self._peers.items()}

    def pending(self) -> int:
        """Events received and not yet returned by ``recv``."""
        return len(self._ready)

    def close(self) -> None:
        """Send pending acknowledgements and close the sockets."""
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True
            for sock in list(self._subs) + [p.dealer for p in self._peers.values() if p.dealer is not None]:
                # Acks get a moment to leave; a publisher that is gone must not hang the close.
                sock.close(linger=_CLOSE_LINGER_MS)
            self._ctx.term()

    def __enter__(self) -> ReliableConsumer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- internals -------------------------------------------------------------------------------

    def _housekeeping(self) -> None:
        now = time.monotonic()
        if self._pending_acks and now >= self._next_ack_flush:
            self.flush()
        for peer in self._peers.values():
            if peer.inflight_until and now >= peer.inflight_until:
                peer.inflight_until = 0.0
                if peer.delivered is None:
                    self._send(peer, _wire.HELLO, {"consumer": self.name})
                    peer.inflight_until = now + self._request_timeout
            self._maybe_request(peer)

    def _pump(self, wait: float) -> None:
        for sock, _ in self._poller.poll(max(0, int(wait * 1000))):
            for _ in range(1000):
                try:
                    frames = sock.recv_multipart(flags=zmq.NOBLOCK)
                except zmq.Again:
                    break
                if sock in self._subs:
                    self._on_live(frames, self._subs[sock])
                elif sock in self._by_dealer:
                    self._on_reply(self._by_dealer[sock], frames)
                if sock not in self._subs and sock not in self._by_dealer:
                    break  # retired (closed) while handling its reply

    def _on_live(self, frames: list[bytes], via: str) -> None:
        if len(frames) != 4:
            self.stats.malformed += 1
            log.warning("stream: malformed message with %d frames skipped", len(frames))
            return
        try:
            if frames[0] == _wire.HEARTBEAT_TOPIC:
                self._on_heartbeat(frames, via)
                return
            pid, seq = _wire.unpack_header(frames[1])
        except (ValueError, orjson.JSONDecodeError) as exc:
            self.stats.malformed += 1
            log.warning("stream: malformed message skipped: %s", exc)
            return
        self.stats.received += 1
        peer = self._peers.get(pid)
        if peer is None or peer.delivered is None:
            # Not introduced yet: the replay after the handshake covers it.
            if peer is not None:
                peer.target = max(peer.target, seq)
            return
        if seq <= peer.delivered:
            self.stats.duplicates += 1
            return
        if seq > peer.delivered + 1:
            if peer.target <= peer.delivered:
                self.stats.gaps += 1
                log.info("stream: gap from %s: seq %d..%d, replaying", pid.hex(), peer.delivered + 1, seq - 1)
            peer.target = max(peer.target, seq)
            self._maybe_request(peer)
            return
        self._accept(peer, frames[1:], replayed=False)

    def _accept(self, peer: _Peer, triple: list[bytes], *, replayed: bool) -> None:
        pid, seq, msg = _decode(triple, replayed, self.stats)
        peer.delivered = seq
        peer.target = max(peer.target, seq)
        self.stats.last_seq[pid.hex()] = seq
        if msg is None:
            return
        if self._wanted and msg.event.camera.encode() not in self._wanted:
            self.stats.filtered += 1
            return
        self._ready.append(msg)

    def _on_heartbeat(self, frames: list[bytes], via: str) -> None:
        pid, last = _wire.unpack_header(frames[1])
        info = orjson.loads(frames[2])
        replay = info.get("replay") if isinstance(info, dict) else None
        if not isinstance(replay, str):
            raise ValueError("heartbeat: expected a replay endpoint")
        endpoint = _wire.connectable(replay, via)
        if isinstance(cams := info.get("cameras"), dict):  # Publisher.report_health
            self._health[pid.hex()] = {str(k): v for k, v in cams.items() if isinstance(v, dict)}
        peer = self._peers.get(pid)
        if peer is None:
            peer = self._peers[pid] = _Peer(pid, via)
        if peer.delivered is not None and last > max(peer.delivered, peer.target):
            # Events sent before this heartbeat never arrived (the tail of a burst, dropped).
            self.stats.gaps += 1
        peer.target = max(peer.target, last)
        if endpoint != peer.replay_endpoint:
            self._connect(peer, endpoint)
        self._maybe_request(peer)

    def _connect(self, peer: _Peer, endpoint: str) -> None:
        if peer.dealer is not None:
            self._poller.unregister(peer.dealer)
            del self._by_dealer[peer.dealer]
            peer.dealer.close(linger=0)
            peer.dealer = None
        peer.replay_endpoint = endpoint  # a refused endpoint is not retried on every heartbeat
        dealer = self._ctx.socket(zmq.DEALER)
        try:
            _configure_client(dealer, *self._curve)
            dealer.setsockopt(zmq.SNDHWM, 100)
            dealer.connect(endpoint)
        except zmq.ZMQError as exc:
            dealer.close(linger=0)
            raise ValueError(f"heartbeat: cannot connect to replay {endpoint[:80]!r}: {exc}") from exc
        peer.dealer = dealer
        self._by_dealer[dealer] = peer
        self._poller.register(dealer, zmq.POLLIN)
        log.info("stream: publisher %s, replay at %s", peer.id.hex(), endpoint)
        self._send(peer, _wire.HELLO, {"consumer": self.name})
        peer.inflight_until = time.monotonic() + self._request_timeout

    def _maybe_request(self, peer: _Peer) -> None:
        if (
            peer.delivered is None
            or peer.inflight_until
            or peer.delivered >= peer.target
            # Ask for the next batch while the caller still works through this one.
            or len(self._ready) >= 2 * self._batch
        ):
            return
        req = {"from": peer.delivered + 1, "max": self._batch, "topics": list(self.topics)}
        if self._send(peer, _wire.REPLAY, req):
            peer.inflight_until = time.monotonic() + self._request_timeout

    def _send(self, peer: _Peer, command: bytes, body: dict[str, Any]) -> bool:
        if peer.dealer is None:  # its replay endpoint was refused: live events only until it changes
            return False
        try:
            peer.dealer.send_multipart((command, orjson.dumps(body)), flags=zmq.NOBLOCK)
            return True
        except zmq.Again:
            return False

    def _on_reply(self, peer: _Peer, frames: list[bytes]) -> None:
        try:
            kind = frames[0]
            if kind == _wire.ERROR:
                log.warning("stream: publisher %s refused a request: %r", peer.id.hex(), frames[1:2])
                peer.inflight_until = 0.0
                return
            meta = orjson.loads(frames[1])
            if not isinstance(meta, dict):
                raise ValueError("reply: expected a JSON object")
            if meta.get("publisher") != peer.id.hex():
                # Another publisher now owns that replay endpoint (restarted without its outbox):
                # what the old one did not deliver is gone.
                self._retire(peer, str(meta.get("publisher")))
                return
            if kind == _wire.WELCOME:
                self._on_welcome(peer, meta)
            elif kind == _wire.BATCH:
                self._on_batch(peer, meta, frames[2:])
            else:
                raise ValueError(f"reply: unknown kind {kind[:16]!r}")
        except (ValueError, KeyError, TypeError, IndexError, orjson.JSONDecodeError) as exc:
            self.stats.malformed += 1
            peer.inflight_until = 0.0
            log.warning("stream: malformed reply from %s skipped: %s", peer.id.hex(), exc)

    def _retire(self, peer: _Peer, successor: str) -> None:
        missing = max(0, peer.target - (peer.delivered or 0))
        self.stats.lost += missing
        log.error(
            "stream: publisher %s was replaced by %s at %s; %d of its events cannot be recovered",
            peer.id.hex(),
            successor,
            peer.replay_endpoint,
            missing,
        )
        if peer.dealer is not None:
            self._poller.unregister(peer.dealer)
            del self._by_dealer[peer.dealer]
            peer.dealer.close(linger=0)
        del self._peers[peer.id]
        self._pending_acks.pop(peer.id, None)

    def _on_welcome(self, peer: _Peer, meta: dict[str, Any]) -> None:
        acked, first, last = meta["acked"], int(meta["first"]), int(meta["last"])
        start = int(acked) if acked is not None else first - 1
        if self._stored is not None and acked is not None:
            own = int(self._stored(peer.id.hex()))
            if int(acked) > own:
                self.stats.foreign_acks += 1
                log.error(
                    "stream: publisher %s holds an acknowledgement for %r up to seq %d, but this consumer "
                    "stored only up to %d: an ACK it never sent (forged, or another consumer with the "
                    "same name); resuming from its own record",
                    peer.id.hex(),
                    self.name,
                    int(acked),
                    own,
                )
                start = own
        peer.delivered = start if peer.delivered is None else max(peer.delivered, start)
        peer.target = max(peer.target, last)
        peer.inflight_until = 0.0
        log.info(
            "stream: consumer %r resumes %s after seq %d (publisher at %d)",
            self.name,
            peer.id.hex(),
            start,
            last,
        )
        self._maybe_request(peer)

    def _on_batch(self, peer: _Peer, meta: dict[str, Any], rest: list[bytes]) -> None:
        peer.inflight_until = 0.0
        if peer.delivered is None:
            return
        from_seq, through = int(meta["from"]), int(meta["through"])
        first, last = int(meta["first"]), int(meta["last"])
        peer.target = max(peer.target, last)
        if from_seq > peer.delivered + 1:
            return  # stale answer to an older request
        if len(rest) % 3:
            raise ValueError(f"batch: expected triples of frames, got {len(rest)} frames")
        if first > peer.delivered + 1:
            missing = min(first, through + 1) - (peer.delivered + 1)
            if missing > 0:
                self.stats.lost += missing
                log.error(
                    "stream: %d events from %s are no longer in its outbox (seq %d..%d): lost",
                    missing,
                    peer.id.hex(),
                    peer.delivered + 1,
                    peer.delivered + missing,
                )
        for i in range(0, len(rest), 3):
            try:
                _, seq = _wire.unpack_header(rest[i])
            except ValueError as exc:
                self.stats.malformed += 1
                log.warning("stream: malformed replayed event skipped: %s", exc)
                continue
            self.stats.received += 1
            if seq <= peer.delivered:
                self.stats.duplicates += 1
                continue
            self._accept(peer, rest[i : i + 3], replayed=True)
        peer.delivered = max(peer.delivered, through)
        self.stats.last_seq[peer.id.hex()] = peer.delivered
        self._maybe_request(peer)
