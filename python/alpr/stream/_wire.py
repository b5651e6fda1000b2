"""Frames on the wire, shared by the publisher and the consumers.

PUB socket, every message has four frames:

    0  topic     camera name (UTF-8); heartbeats use ``HEARTBEAT_TOPIC`` (starts with a NUL byte)
    1  header    25 bytes, big-endian: version u8 (=1), publisher id (16 raw bytes), sequence u64
    2  body      the event JSON (``PlateEvent.to_json``); for a heartbeat a JSON object
                 ``{"replay": endpoint, "first": oldest seq still in the outbox, "last": last seq}``, plus
                 ``"cameras": {name: {"fps", "frames", "dropped"}}`` when the publisher reports health
    3  crop      JPEG bytes, or empty when the event has no crop

Replay channel (consumer DEALER -> publisher ROUTER), requests are ``[command, JSON body]``:

    HELLO   {"consumer": name}                          -> WELCOME {"publisher", "acked", "first", "last"}
    REPLAY  {"from": seq, "max": n, "topics": [...]}    -> BATCH meta, then (header, body, crop) per event;
            meta = {"publisher", "from", "through", "first", "last"}: every seq in [from, through]
            was scanned
    ACK     {"consumer": name, "seq": seq}              -> no reply; the outbox prunes up to the minimum ack
"""

from __future__ import annotations

import struct
from typing import Final

VERSION: Final = 1
HEADER: Final = struct.Struct(">B16sQ")
HEARTBEAT_TOPIC: Final = b"\x00alpr.hb"

HELLO: Final = b"HELLO"
WELCOME: Final = b"WELCOME"
REPLAY: Final = b"REPLAY"
BATCH: Final = b"BATCH"
ACK: Final = b"ACK"
ERROR: Final = b"ERROR"

JPEG_MAGIC: Final = b"\xff\xd8"


def pack_header(publisher_id: bytes, seq: int) -> bytes:
    return HEADER.pack(VERSION, publisher_id, seq)


def unpack_header(frame: bytes) -> tuple[bytes, int]:
    """Return ``(publisher id, seq)``. Raises ValueError on a frame of the wrong size or version."""
    if len(frame) != HEADER.size:
        raise ValueError(f"header: expected {HEADER.size} bytes, got {len(frame)}")
    version, publisher_id, seq = HEADER.unpack(frame)
    if version != VERSION:
        raise ValueError(f"header: expected version {VERSION}, got {version}")
    return publisher_id, seq


def replay_endpoint_for(endpoint: str) -> str:
    """The default replay endpoint for a PUB endpoint.

    ``tcp://host:PORT`` -> ``tcp://host:PORT+1``; ``tcp://host:*`` -> ``tcp://host:*`` (any free port,
    announced in the heartbeats); ``ipc://PATH`` -> ``ipc://PATH.replay``; ``inproc://NAME`` ->
    ``inproc://NAME.replay``.
    """
    scheme, sep, rest = endpoint.partition("://")
    if not sep:
        raise ValueError(f"endpoint: expected scheme://address (tcp, ipc or inproc), got {endpoint!r}")
    if scheme == "tcp":
        host, colon, port = rest.rpartition(":")
        if not colon:
            raise ValueError(f"endpoint: expected tcp://host:port, got {endpoint!r}")
        if port in ("*", "0"):
            return f"tcp://{host}:*"
        if not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65535:
            raise ValueError(f"endpoint: expected a port in 1..65534 or '*', got {endpoint!r}")
        return f"tcp://{host}:{int(port) + 1}"
    if scheme in ("ipc", "inproc"):
        return f"{endpoint}.replay"
    raise ValueError(f"endpoint: expected a tcp://, ipc:// or inproc:// endpoint, got {endpoint!r}")


def connectable(announced: str, via: str) -> str:
    """Where a consumer that reached the PUB socket at ``via`` should connect for ``announced``.

    A publisher bound to ``tcp://0.0.0.0:PORT`` announces that address; the consumer keeps the host it
    used for the PUB socket and takes only the port.
    """
    if announced.startswith("tcp://") and via.startswith("tcp://"):
        host = via[len("tcp://") :].rpartition(":")[0]
        port = announced.rpartition(":")[2]
        return f"tcp://{host}:{port}"
    return announced
