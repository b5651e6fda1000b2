"""The bridge process: stream consumer -> store (+ outbox) -> MQTT / webhooks, plus REST and retention.

Guarantee: **at least once**, end to end. The consumer acknowledges a stream event only after the
transaction holding its read, alerts and outbox rows committed; sinks delete an outbox row only
after the broker (PUBACK) or the webhook (2xx) took it. Every message carries ``event_id``; the
store itself is idempotent by ``event_id``, so replays never duplicate reads or alerts.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from alpr._retry import Interrupted, call_with_retries
from alpr.bridge.config import BridgeConfig
from alpr.bridge.crypto import Keyring
from alpr.bridge.retention import enforce
from alpr.bridge.store import Ingest, IngestResult, Sink, Store
from alpr.bridge.watchlist import Watchlist
from alpr.errors import ConfigError, StoreError
from alpr.stream import ConsumerStats

__all__ = ["Bridge"]

log = logging.getLogger("alpr.bridge")


def _check_tls(config: BridgeConfig) -> None:
    """Load the HTTPS certificate and key now, so a wrong path is a clear error, not a traceback later."""
    if config.tls_cert is None or config.tls_key is None:
        return
    import ssl

    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(config.tls_cert, config.tls_key)
    except OSError as exc:
        raise ConfigError(f"tls: cannot load {config.tls_cert} / {config.tls_key}: {exc}") from None


def _curve_options(config: BridgeConfig) -> dict[str, Any]:
    """``ReliableConsumer`` CurveZMQ arguments from the certificate files.

    They are loaded now: a bad file is a ConfigError at start, not a silent consumer that never connects.
    """
    if config.zmq_server_key is None:
        return {}
    from alpr.stream.keys import load_curve_keypair, load_curve_public

    out: dict[str, Any] = {"curve_server_key": load_curve_public(config.zmq_server_key)}
    if config.zmq_client_key is not None:
        out["curve_keypair"] = load_curve_keypair(config.zmq_client_key)
    return out


def webhook_sink_name(url: str) -> str:
    return "webhook:" + hashlib.sha256(url.encode()).hexdigest()[:16]


class Bridge:
    """Owns the store, the sinks and the background threads. ``start()`` / ``stop()``; ``serve()`` blocks."""

    def __init__(
        self, config: BridgeConfig, keyring: Keyring | None = None, *, consumer_name: str = "bridge"
    ) -> None:
        self.config = config
        self.keyring = keyring if keyring is not None else Keyring.load(config.key_file)
        _check_tls(config)
        self._curve = _curve_options(config)
        self.store = Store(config.db, self.keyring)
        self.consumer_name = consumer_name
        self.stream_stats: ConsumerStats | None = None  # the stream consumer's, once it runs
        self._watch_lock = threading.Lock()
        self._watch: Watchlist = self.store.watchlist()
        self.sinks: list[Sink] = []
        self.mqtt: Any = None
        self.webhooks: list[Any] = []
        if config.mqtt:
            from alpr.bridge.mqtt import MqttSink

            self.sinks.append(Sink("mqtt"))
            self.mqtt = MqttSink(
                self.store,
                config.mqtt,
                tls=config.mqtt_tls,
                client_id=config.mqtt_client_id,
                ha_discovery=config.ha_discovery,
            )
        for wh in config.webhooks:
            from alpr.bridge.webhooks import WebhookSink

            name = webhook_sink_name(wh.url)
            self.sinks.append(Sink(name, plates=not wh.alerts_only))
            self.webhooks.append(
                WebhookSink(
                    self.store,
                    wh.url,
                    secret=wh.secret,
                    sink=name,
                    timeout_s=wh.timeout_s,
                    max_attempts=wh.max_attempts,
                )
            )
        # Sites, sessions, journeys: messages not caused by an ingest go to the same sinks.
        self.store.event_sinks = self.sinks
        self.store.journey_window_ms = int(config.parking.journey_window_s * 1000)
        self.permit_hook: Any = None
        if config.parking.permit_hook is not None:
            from alpr.bridge.permits import PermitHook

            h = config.parking.permit_hook
            self.permit_hook = PermitHook(
                h.url, timeout_s=h.timeout_s, fail_max=h.fail_max, reset_s=h.reset_s, token=h.token
            )
            self.store.permit_lookup = self.permit_hook
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.ingested = 0
        self.server: Any = None

    # -- ingest ----------------------------------------------------------------------------------
    def reload_watchlist(self) -> None:
        """Reload the watchlist matcher from the store (after an API change or a hotlist import)."""
        wl = self.store.watchlist()
        with self._watch_lock:
            self._watch = wl

    def ingest(self, items: Sequence[Ingest]) -> IngestResult:
        """Store ``items`` (one transaction), matching them against the current watchlist."""
        with self._watch_lock:
            watch = self._watch
        res = self.store.ingest(items, watch, self.sinks)
        self.ingested += res.stored
        return res

    def _stream_counters(self) -> dict[str, int] | None:
        """The stream consumer's counters, or None before it started."""
        st = self.stream_stats
        if st is None:
            return None
        keys = ("delivered", "replayed", "gaps", "lost", "foreign_acks", "malformed")
        return {k: int(getattr(st, k)) for k in keys}

    def _stored_seq(self, publisher: str) -> int:
        """The last sequence number of ``publisher`` this bridge's store holds (0 for none).

        While the store cannot be read, the publisher's acknowledgement is trusted (as without
        ``stored``) rather than replaying everything it still holds.
        """
        try:
            return self.store.cursors().get(publisher, 0)
        except StoreError as exc:
            log.warning("stream: cannot read the stored cursor of %s (%s); trusting its ack", publisher, exc)
            return sys.maxsize

    def ingest_messages(self, msgs: Sequence[Any]) -> IngestResult:
        """Store ``alpr.stream.StreamMessage`` objects (one transaction)."""
        return self.ingest([Ingest(m.event, m.crop_jpeg, m.publisher, m.seq) for m in msgs])

    def _consume(self) -> None:
        """Receive in this thread, store in a writer thread, acknowledge here after each commit.

        Two threads so that decoding the next batch overlaps the store's commit (fsync and SQLite
        release the GIL); ``ReliableConsumer`` is not thread-safe, so acks come back through a queue.
        """
        from alpr.stream import ReliableConsumer

        todo: queue.Queue[list[Any] | None] = queue.Queue(maxsize=4)
        acks: queue.Queue[dict[str, Any]] = queue.Queue()
        writer = threading.Thread(target=self._write_loop, args=(todo, acks), name="alpr-writer", daemon=True)
        writer.start()
        try:
            # Resume from the store's own cursors, so an ACK this bridge never sent cannot skip events.
            stored = self._stored_seq
            with ReliableConsumer(
                self.config.zmq, name=self.consumer_name, stored=stored, **self._curve
            ) as consumer:
                self.stream_stats = consumer.stats
                while not self._stop.is_set():
                    while not acks.empty():
                        for m in acks.get_nowait().values():
                            consumer.ack(m)
                    msgs = consumer.recv_batch(self.config.batch_size, timeout=0.05)
                    self._record_health(consumer.take_health())
                    while msgs and not self._stop.is_set():
                        try:
                            todo.put(msgs, timeout=0.1)
                            break
                        except queue.Full:
                            continue
                todo.put(None)
                writer.join(30)
                while not acks.empty():
                    for m in acks.get_nowait().values():
                        consumer.ack(m)
        finally:
            if writer.is_alive():
                todo.put(None)

    def _record_health(self, beats: dict[str, dict[str, Any]]) -> None:
        """The latest heartbeat health per camera, for the dashboard's cameras view."""
        if not beats:
            return
        t = int(time.time() * 1000)
        try:
            for publisher, cams in beats.items():
                self.store.record_health(publisher, cams, t)
        except StoreError:
            log.exception("cannot store camera health")

    def _write_loop(self, todo: queue.Queue[list[Any] | None], acks: queue.Queue[dict[str, Any]]) -> None:
        while True:
            msgs = todo.get()
            if msgs is None:
                return
            try:
                # Not acknowledged until stored, so nothing is lost: hold the batch and retry.
                call_with_retries(
                    lambda: self.ingest_messages(msgs),  # noqa: B023 (called before the next batch)
                    on=StoreError,
                    stop_event=self._stop,
                    first=0.1,
                    most=10.0,
                    log=log.error,
                    what="store write failed (%s); retrying in %.1f s",
                )
            except Interrupted:
                return
            last: dict[str, Any] = {}
            for m in msgs:
                last[m.publisher] = m
            acks.put(last)

    def _parking(self) -> None:
        """Overstay checks, on the fleet's leader only (store/fleet.py)."""
        while not self._stop.wait(self.config.parking.overstay_interval_s):
            try:
                if self.store.is_leader("overstay"):
                    n = self.store.check_overstays()
                    if n:
                        log.info("%d sessions overstayed", n)
            except StoreError:
                log.exception("overstay check failed")

    def _hotlists(self) -> None:
        """Import changed hotlist files (leader only); every bridge then reloads its matcher."""
        from alpr.bridge.hotlists import HotlistLoader

        loader = HotlistLoader(self.store, list(self.config.hotlists))
        interval = min(h.interval_s for h in self.config.hotlists)
        while True:
            try:
                changed = loader.poll() if self.store.is_leader("hotlists") else 0
                if changed or not self.store.is_sqlite:  # another bridge may have imported
                    self.reload_watchlist()
            except StoreError:
                log.exception("hotlist pass failed")
            if self._stop.wait(interval):
                return

    def _retention(self) -> None:
        r = self.config.retention
        while True:
            try:
                n = enforce(self.store, r) if self.store.is_leader("retention") else {}
                if any(n.values()):
                    log.info("retention removed %s", n)
            except StoreError:
                log.exception("retention pass failed")
            if self._stop.wait(r.interval_s):
                return

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self, *, consume: bool = True) -> None:
        """Start the sinks and the background threads (retention, parking, hotlists, and the consumer).

        ``consume=False`` leaves the stream consumer off (events then come through :meth:`ingest`).
        """
        if self.mqtt is not None:
            self.mqtt.start()
        for wh in self.webhooks:
            wh.start()
        targets: list[tuple[str, Any]] = [
            ("alpr-retention", self._retention),
            ("alpr-parking", self._parking),
        ]
        if self.config.hotlists:
            targets.append(("alpr-hotlists", self._hotlists))
        if consume and self.config.zmq:
            targets.append(("alpr-consumer", self._consume))
        for name, fn in targets:
            t = threading.Thread(target=fn, name=name, daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        """Stop the threads and the sinks, then close the store."""
        self._stop.set()
        for t in self._threads:
            t.join(10)
        if self.mqtt is not None:
            self.mqtt.stop()
        for wh in self.webhooks:
            wh.stop()
        if self.permit_hook is not None:
            self.permit_hook.close()
        self.store.resign()
        self.store.close()

    def app(self) -> Any:
        """The REST API application over this bridge's store."""
        from alpr.bridge.api import ApiLimits, create_app

        app = create_app(
            self.store,
            on_watchlist_change=self.reload_watchlist,
            mqtt_connected=(lambda: bool(self.mqtt.connected.is_set())) if self.mqtt is not None else None,
            stream_stats=self._stream_counters,
            scan_limit=self.config.fuzzy_scan_limit,
            limits=ApiLimits(**self.config.http_limits.model_dump()),
        )
        app.state.retention = self.config.retention  # shown on the dashboard's admin page
        return app

    def uvicorn_server(self) -> Any:
        """A uvicorn server for :meth:`app` on the configured host and port."""
        import uvicorn

        cfg = uvicorn.Config(
            self.app(),
            host=self.config.http_host,
            port=self.config.http_port,
            ssl_certfile=str(self.config.tls_cert) if self.config.tls_cert else None,
            ssl_keyfile=str(self.config.tls_key) if self.config.tls_key else None,
            log_level="warning",
            access_log=False,
        )
        self.server = uvicorn.Server(cfg)
        return self.server

    def serve(self) -> None:
        """Start everything and serve HTTP until interrupted (SIGINT / SIGTERM)."""
        self.start()
        c = self.config
        log.info(
            "bridge %s: REST on %s://%s, store %s, consuming %s, sinks %s",
            self.consumer_name,
            "https" if c.tls_cert else "http",
            c.http,
            "sqlite" if self.store.is_sqlite else "postgresql",
            ", ".join(c.zmq) or "nothing",
            ", ".join(s.name for s in self.sinks) or "none",
        )
        try:
            self.uvicorn_server().run()
        finally:
            self.stop()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until every outbox is empty (tests, graceful shutdown). True when drained."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not any(self.store.outbox_pending().values()):
                return True
            time.sleep(0.05)
        return False
