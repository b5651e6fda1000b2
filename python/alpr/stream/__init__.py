"""Plate events out: the event schema and a ZeroMQ stream that loses no accepted event.

- :class:`PlateEvent`: the versioned event document (``alpr.plate/1``), JSON via orjson.
- :class:`Publisher`: PUB socket (topic = camera) + durable SQLite outbox + replay/ack channel.
- :func:`subscribe`: simple live consumer; :class:`ReliableConsumer`: replay, gap detection, acks
  (at-least-once delivery; store idempotently by ``event_id``).
- ``python -m alpr.stream ENDPOINT [--name NAME]`` prints a stream as JSON lines.

Wire format: ``alpr.stream._wire``; JSON Schema of the event: ``schemas/plate_event.schema.json``;
a consumer in C: ``examples/c/alpr_consumer.c``.
"""

from __future__ import annotations

from alpr.stream.consumer import ReliableConsumer
from alpr.stream.events import SCHEMA, PlateEvent
from alpr.stream.publisher import Outbox, Publisher, PublisherStats
from alpr.stream.subscriber import ConsumerStats, StreamMessage, subscribe

__all__ = [
    "SCHEMA",
    "ConsumerStats",
    "Outbox",
    "PlateEvent",
    "Publisher",
    "PublisherStats",
    "ReliableConsumer",
    "StreamMessage",
    "subscribe",
]
