"""MQTT sink: drains the ``mqtt`` outbox to a broker with QoS 1 (paho-mqtt 2.x).

Topics: ``alpr/<camera>/plate`` and ``alpr/<camera>/alert`` (JSON, see the README), ``alpr/status``
(retained ``online``; the broker publishes ``offline`` as our last will). An outbox row is deleted only
after the broker's PUBACK, so a broker outage or a bridge restart loses nothing: delivery is at
least once (a message in flight when the connection drops is sent again; drop duplicates by
``event_id``). paho reconnects on its own with exponential backoff (1 s doubling to 30 s).
"""

from __future__ import annotations

import contextlib
import logging
import ssl
import threading
import time
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from alpr.bridge.config import MqttTls
from alpr.bridge.store import Store
from alpr.errors import ConfigError

__all__ = ["STATUS_TOPIC", "MqttSink", "parse_mqtt_url"]

log = logging.getLogger("alpr.bridge.mqtt")
STATUS_TOPIC = "alpr/status"


def parse_mqtt_url(url: str) -> tuple[str, int, bool, str | None, str | None]:
    """``mqtt[s]://[user[:pass]@]host[:port]`` -> (host, port, tls, user, password)."""
    u = urlsplit(url)
    if u.scheme not in ("mqtt", "mqtts") or not u.hostname:
        raise ConfigError(f"mqtt: expected mqtt://HOST[:PORT] or mqtts://HOST[:PORT], got {url!r}")
    tls = u.scheme == "mqtts"
    try:
        port = u.port or (8883 if tls else 1883)
    except ValueError:
        raise ConfigError(f"mqtt: bad port in {url!r}") from None
    user = unquote(u.username) if u.username else None
    pw = unquote(u.password) if u.password else None
    return u.hostname, port, tls, user, pw


class MqttSink:
    """Publishes the ``sink`` rows of the outbox; one background thread plus paho's network thread."""

    def __init__(
        self,
        store: Store,
        url: str,
        *,
        tls: MqttTls | None = None,
        client_id: str | None = None,
        ha_discovery: bool = False,
        sink: str = "mqtt",
        max_inflight: int = 1000,
    ) -> None:
        self.store = store
        self.sink = sink
        self.ha_discovery = ha_discovery
        self.max_inflight = max_inflight
        host, port, use_tls, user, pw = parse_mqtt_url(url)
        self._addr = (host, port)
        if client_id is None:
            from alpr.bridge.config import default_client_id

            client_id = default_client_id()
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311)
        c.will_set(STATUS_TOPIC, b"offline", qos=1, retain=True)
        c.reconnect_delay_set(min_delay=1, max_delay=30)
        c.max_inflight_messages_set(max_inflight)
        if user is not None:
            c.username_pw_set(user, pw)
        t = tls or MqttTls()
        if use_tls or t.ca is not None or t.cert is not None:
            c.tls_set(
                ca_certs=str(t.ca) if t.ca else None,
                certfile=str(t.cert) if t.cert else None,
                keyfile=str(t.key) if t.key else None,
                cert_reqs=ssl.CERT_NONE if t.insecure else ssl.CERT_REQUIRED,
            )
            if t.insecure:
                c.tls_insecure_set(True)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_publish = self._on_publish
        self.client = c
        self.connected = threading.Event()
        self._lock = threading.Lock()
        self._acked: set[int] = set()
        self._session = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._announced: set[str] = set()
        self.delivered = 0

    # -- paho callbacks (network thread): keep them tiny, never call back into paho under our lock
    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        if rc.is_failure:
            log.warning("mqtt: connection refused: %s", rc)
            return
        client.publish(STATUS_TOPIC, b"online", qos=1, retain=True)
        with self._lock:
            self._session += 1
            self._acked.clear()
        self._announced.clear()
        self.connected.set()
        log.info("mqtt: connected to %s:%d", *self._addr)

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        self.connected.clear()
        with self._lock:
            self._session += 1
        if not self._stop.is_set():
            log.warning("mqtt: disconnected (%s); will reconnect", rc)

    def _on_publish(self, _c: mqtt.Client, _u: Any, mid: int, _rc: Any, _p: Any) -> None:
        with self._lock:
            self._acked.add(mid)

    # -- lifecycle
    def start(self) -> None:
        """Connect in the background and start the network loop and the dispatcher."""
        self.client.connect_async(*self._addr, keepalive=15)
        self.client.loop_start()
        self._thread = threading.Thread(target=self._run, name="alpr-mqtt", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the dispatcher, publish the ``offline`` status when connected, and disconnect."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self.connected.is_set():
            info = self.client.publish(STATUS_TOPIC, b"offline", qos=1, retain=True)
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(timeout=2)
        self.client.disconnect()
        self.client.loop_stop()

    # -- the dispatcher
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._drain()
            except Exception:  # a store hiccup must not kill delivery; retry after a pause
                log.exception("mqtt: dispatcher error; retrying")
                self._stop.wait(1.0)

    def _drain(self) -> None:
        pending: dict[int, int] = {}  # mid -> outbox id, for the current session only
        unmatched: set[int] = set()
        done: list[int] = []
        cursor = 0
        session = -1
        last_flush = time.monotonic()
        while not self._stop.is_set():
            if not self.connected.wait(0.2):
                continue
            with self._lock:
                if session != self._session:  # new connection: resend everything not yet acked
                    session = self._session
                    pending.clear()
                    unmatched.clear()
                    cursor = 0
                acked, self._acked = self._acked, set()
            unmatched |= acked
            for mid in list(unmatched):
                oid = pending.pop(mid, None)
                if oid is not None:
                    done.append(oid)
                    unmatched.discard(mid)
            if len(unmatched) > 10 * self.max_inflight:
                unmatched.clear()
            now = time.monotonic()
            if done and (len(done) >= 2000 or now - last_flush > 0.25 or not pending):
                self.store.outbox_delete(done)
                self.delivered += len(done)
                done = []
                last_flush = now
            room = self.max_inflight - len(pending)
            if room <= 0:
                self._stop.wait(0.002)
                continue
            rows = self.store.outbox_fetch(self.sink, after_id=cursor, limit=min(room, 500))
            if not rows and cursor and not pending:
                # Nothing in flight, so every row up to the cursor was delivered and deleted: rows at or
                # below it are new ones that reused freed ids (SQLite does once the table empties).
                cursor = 0
                rows = self.store.outbox_fetch(self.sink, after_id=0, limit=min(room, 500))
            if not rows:
                self._stop.wait(0.02 if pending else 0.1)
                continue
            for r in rows:
                if self.ha_discovery:
                    self._announce(r.topic)
                info = self.client.publish(r.topic, r.payload, qos=1, retain=r.retain)
                if info.rc != mqtt.MQTT_ERR_SUCCESS:
                    break  # connection lost; the session change resets the cursor
                pending[info.mid] = r.id
                cursor = r.id
        if done:
            self.store.outbox_delete(done)
            self.delivered += len(done)

    def _announce(self, topic: str) -> None:
        parts = topic.split("/")
        if len(parts) == 3 and parts[2] == "occupancy":
            self._announce_site(parts[1])
            return
        if (
            len(parts) != 3
            or parts[0] != "alpr"
            or parts[2] not in ("plate", "alert")
            or parts[1] in self._announced
        ):
            return
        cam = parts[1]
        self._announced.add(cam)
        for kind in ("plate", "alert"):
            config = {
                "name": f"{cam} {kind}",
                "unique_id": f"alpr_{cam}_{kind}",
                "state_topic": f"alpr/{cam}/{kind}",
                "value_template": "{{ value_json.plate }}",
                "json_attributes_topic": f"alpr/{cam}/{kind}",
                "availability_topic": STATUS_TOPIC,
                "payload_available": "online",
                "payload_not_available": "offline",
                "icon": "mdi:car" if kind == "plate" else "mdi:alert",
                "device": {"identifiers": [f"alpr_{cam}"], "name": f"ALPR {cam}", "manufacturer": "alpr"},
            }
            self.client.publish(
                f"homeassistant/sensor/alpr_{cam}/{kind}/config", orjson.dumps(config), qos=1, retain=True
            )

    def _announce_site(self, site: str) -> None:
        """A Home Assistant sensor for a site's occupancy (state: the retained ``alpr/<site>/occupancy``)."""
        key = "site:" + site
        if key in self._announced:
            return
        self._announced.add(key)
        config = {
            "name": f"{site} occupancy",
            "unique_id": f"alpr_site_{site}_occupancy",
            "state_topic": f"alpr/{site}/occupancy",
            "value_template": "{{ value_json.occupancy }}",
            "json_attributes_topic": f"alpr/{site}/occupancy",
            "unit_of_measurement": "vehicles",
            "state_class": "measurement",
            "availability_topic": STATUS_TOPIC,
            "payload_available": "online",
            "payload_not_available": "offline",
            "icon": "mdi:parking",
            "device": {
                "identifiers": [f"alpr_site_{site}"],
                "name": f"ALPR site {site}",
                "manufacturer": "alpr",
            },
        }
        self.client.publish(
            f"homeassistant/sensor/alpr_site_{site}/occupancy/config",
            orjson.dumps(config),
            qos=1,
            retain=True,
        )
