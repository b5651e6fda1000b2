"""Print plate events from a stream as JSON lines: ``python -m alpr.stream tcp://127.0.0.1:5555``.

Each line is ``{"seq": N, "publisher": ID, "crop_bytes": N, "event": {...}}``. With ``--name`` it
uses the reliable consumer (replays what the publisher's outbox holds, acknowledges each printed line
under that name), otherwise it only follows the live stream.

``python -m alpr.stream --schema > schemas/plate_event.schema.json`` writes the JSON Schema of the
event document instead, generated from :class:`~alpr.stream.events.PlateEvent`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence

import orjson

from alpr.stream.consumer import ReliableConsumer
from alpr.stream.events import json_schema
from alpr.stream.subscriber import StreamMessage, subscribe


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``python -m alpr.stream``: print the events of a stream as JSON lines.

    Args:
        argv: the command line without the program name; default ``sys.argv[1:]``.

    Returns:
        The exit status.
    """
    ap = argparse.ArgumentParser(
        prog="python -m alpr.stream", description="Print plate events from a stream as JSON lines."
    )
    ap.add_argument("endpoints", nargs="*", help="PUB endpoint(s), e.g. tcp://127.0.0.1:5555")
    ap.add_argument("--topic", action="append", default=[], help="camera to follow (repeatable; default all)")
    ap.add_argument("--name", help="reliable consumer name: replay + acknowledgements")
    ap.add_argument("--count", type=int, default=0, help="stop after this many events (default: never)")
    ap.add_argument("--idle-timeout", type=float, default=None, help="stop after this many idle seconds")
    ap.add_argument("--curve-server-key", help="the publisher's Z85 CurveZMQ public key")
    ap.add_argument("--schema", action="store_true", help="print the JSON Schema of the events and exit")
    args = ap.parse_args(argv)
    if args.schema:
        sys.stdout.write(schema_text())
        return 0
    if not args.endpoints:
        ap.error("expected at least one endpoint (or --schema)")
    server_key = args.curve_server_key.encode() if args.curve_server_key else None
    consumer: ReliableConsumer | None = None
    messages: Iterator[StreamMessage]
    if args.name:
        consumer = ReliableConsumer(
            args.endpoints, name=args.name, topics=args.topic, curve_server_key=server_key
        )
        messages = _reliable(consumer, args.idle_timeout)
    else:
        messages = subscribe(
            args.endpoints, topics=args.topic, curve_server_key=server_key, idle_timeout=args.idle_timeout
        )
    n = 0
    try:
        for msg in messages:
            line = {
                "seq": msg.seq,
                "publisher": msg.publisher,
                "crop_bytes": len(msg.crop_jpeg or b""),
                "event": msg.event.to_dict(),
            }
            sys.stdout.buffer.write(orjson.dumps(line) + b"\n")
            sys.stdout.flush()
            if consumer is not None:
                consumer.ack(msg)
            n += 1
            if args.count and n >= args.count:
                break
    except KeyboardInterrupt:
        pass
    finally:
        if consumer is not None:
            consumer.close()
    return 0


def schema_text() -> str:
    """The event JSON Schema as ``schemas/plate_event.schema.json`` holds it (2-space indent, UTF-8)."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def _reliable(consumer: ReliableConsumer, idle_timeout: float | None) -> Iterator[StreamMessage]:
    while True:
        msg = consumer.recv(idle_timeout)
        if msg is None:
            return
        yield msg


if __name__ == "__main__":
    sys.exit(main())
