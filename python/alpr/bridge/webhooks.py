"""Webhook sink: POSTs outbox rows to an HTTP endpoint, signed as Standard Webhooks; retries with backoff.

Each request carries the JSON payload (a plate, an alert or a parking message, see the README) and the
headers of https://www.standardwebhooks.com:

* ``webhook-id``: the message's idempotency key, the same on every retry and replay of one message
  (:func:`message_id`: a parking message's ``id``, a plate event's ``event_id``, an alert's
  ``event_id`` + watchlist entry);
* ``webhook-timestamp``: unix seconds of this attempt;
* ``webhook-signature``: ``v1,<base64 HMAC-SHA256(secret, "<id>.<timestamp>.<body>")>``, only when the
  sink has a ``whsec_...`` secret (``alpr keys webhook`` makes one). Receivers check it with
  ``standardwebhooks.Webhook(secret).verify(body, headers)`` (or any Standard Webhooks library),
  which also rejects timestamps more than 5 minutes off;
* ``X-Alpr-Event``: ``plate``, ``alert``, ``session.opened``, ... (the last topic level).

Any 2xx deletes the row; anything else (or no answer) keeps it and the sink waits 0.5 s, doubling to
60 s, before trying the same row again (rows go out in order). Delivery is at least once. A row that
failed ``max_attempts`` times (default 8, about a minute of backoff) moves to the dead letters
(:mod:`alpr.bridge.store.deadletters`, ``GET /api/v1/dead-letters``), so one payload the endpoint
keeps refusing does not hold up every row behind it.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import random
import secrets
import threading
import time
from datetime import datetime, timezone

import httpx
import orjson
import standardwebhooks

from alpr.bridge.config import check_secret
from alpr.bridge.store import Store
from alpr.bridge.store.parking import event_uuid

__all__ = ["WebhookSink", "message_id", "new_secret", "signed_headers"]

log = logging.getLogger("alpr.bridge.webhooks")


def new_secret() -> str:
    """A fresh Standard Webhooks secret: ``whsec_`` + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def message_id(topic: str, body: bytes) -> str:
    """The ``webhook-id`` of one outbox payload.

    Stable for the message, whichever bridge, attempt or dead-letter retry sends it (so a receiver can
    drop what it already processed).
    """
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        doc = None
    if isinstance(doc, dict):
        if isinstance(doc.get("id"), str):  # parking messages: a UUID derived from the fact
            return f"msg_{doc['id']}"
        if isinstance(doc.get("event_id"), str):
            if doc.get("type") == "alert":
                return "msg_" + event_uuid("alert", f"{doc['event_id']}:{doc.get('watchlist_id')}")
            return f"msg_{doc['event_id']}"
    return "msg_" + hashlib.sha256(topic.encode() + b"\0" + body).hexdigest()[:32]


def signed_headers(secret: str, msg_id: str, body: bytes, t: int | None = None) -> dict[str, str]:
    """The Standard Webhooks headers for one attempt (``webhook-signature`` only with a secret)."""
    ts = int(time.time()) if t is None else t
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(ts)}
    if secret:
        when = datetime.fromtimestamp(ts, tz=timezone.utc)
        headers["webhook-signature"] = standardwebhooks.Webhook(secret).sign(msg_id, when, body)
    return headers


class WebhookSink:
    """POSTs one webhook sink's outbox rows in order, signed (Standard Webhooks), with backoff.

    Args:
        store: the bridge's store (the outbox and dead letters).
        url: where to POST.
        secret: ``whsec_`` signing secret; empty sends unsigned (``webhook-id`` still set).
        sink: the outbox sink name (``webhook:<n>``).
        timeout_s: per request.
        backoff_min_s: first retry delay after a failure (doubling up to ``backoff_max_s``).
        backoff_max_s: longest retry delay.
        verify: TLS verification (True, False, or a CA bundle path).
        max_attempts: failed POSTs of one payload before it moves to the dead letters.
    """

    def __init__(  # noqa: PLR0913 (keyword-only sink options, documented under Args)
        self,
        store: Store,
        url: str,
        *,
        secret: str = "",
        sink: str,
        timeout_s: float = 5.0,
        backoff_min_s: float = 0.5,
        backoff_max_s: float = 60.0,
        verify: bool | str = True,
        max_attempts: int = 8,
    ) -> None:
        self.store = store
        self.url = url
        self.secret = check_secret(secret)
        self.sink = sink
        self.backoff_min_s = backoff_min_s
        self.backoff_max_s = backoff_max_s
        self.max_attempts = max_attempts
        self.dead_lettered = 0
        self._client = httpx.Client(timeout=timeout_s, verify=verify)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.delivered = 0
        self.failures = 0

    def start(self) -> None:
        """Start the sender thread."""
        self._thread = threading.Thread(target=self._run, name=f"alpr-{self.sink}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the sender thread (waiting up to ``timeout``) and close the HTTP client."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._client.close()

    def _post(self, topic: str, body: bytes) -> str | None:
        """POST one payload: None when the endpoint took it, else why not."""
        headers = {"Content-Type": "application/json", "X-Alpr-Event": topic.rsplit("/", 1)[-1]}
        headers.update(signed_headers(self.secret, message_id(topic, body), body))
        try:
            r = self._client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            log.warning("webhook %s: %s", self.url, exc)
            return f"{type(exc).__name__}: {exc}"
        if 200 <= r.status_code < 300:
            return None
        log.warning("webhook %s: HTTP %d", self.url, r.status_code)
        return f"HTTP {r.status_code}"

    def _run(self) -> None:
        fails = 0
        while not self._stop.is_set():
            try:
                rows = self.store.outbox_fetch(self.sink, limit=100)
            except Exception:
                log.exception("webhook %s: outbox read failed", self.url)
                self._stop.wait(1.0)
                continue
            if not rows:
                self._stop.wait(0.1)
                continue
            done: list[int] = []
            for r in rows:
                if self._stop.is_set():
                    break
                error = self._post(r.topic, r.payload)
                if error is None:
                    done.append(r.id)
                    fails = 0
                    continue
                fails += 1
                self.failures += 1
                if r.attempts + 1 >= self.max_attempts:
                    self.store.outbox_dead_letter(r.id, error)
                    self.dead_lettered += 1
                    log.error(
                        "webhook %s: outbox row %d failed %d times (%s): moved to the dead letters",
                        self.url,
                        r.id,
                        r.attempts + 1,
                        error,
                    )
                    fails = 0  # the next row starts afresh
                    continue
                self.store.outbox_failed([r.id])
                break
            if done:
                self.store.outbox_delete(done)
                self.delivered += len(done)
            if fails:
                delay = min(self.backoff_max_s, self.backoff_min_s * 2 ** (fails - 1))
                self._stop.wait(delay * random.uniform(0.8, 1.2))
