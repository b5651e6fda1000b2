"""Webhook sink: POSTs outbox rows to an HTTP endpoint with an HMAC signature; retries with backoff.

Each request carries the JSON payload (a plate or an alert, see the README) and the headers

* ``X-Alpr-Event``: ``plate`` or ``alert``;
* ``X-Alpr-Signature``: ``t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>``
  (check it with :func:`verify_signature`; the timestamp stops replays).

Any 2xx deletes the row; anything else (or no answer) keeps it and the sink waits 0.5 s, doubling to
60 s, before trying the same row again (rows go out in order). Delivery is at least once. A row that
failed ``max_attempts`` times (default 8, about a minute of backoff) moves to the dead letters
(:mod:`alpr.bridge.store.deadletters`, ``GET /api/v1/dead-letters``), so one payload the endpoint
keeps refusing does not hold up every row behind it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import random
import threading
import time

import httpx

from alpr.bridge.store import Store

__all__ = ["WebhookSink", "sign", "verify_signature"]

log = logging.getLogger("alpr.bridge.webhooks")


def sign(secret: str, body: bytes, t: int | None = None) -> str:
    ts = int(time.time()) if t is None else t
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


def verify_signature(secret: str, header: str, body: bytes, *, tolerance_s: float = 300.0) -> bool:
    """True when ``header`` is a valid signature of ``body`` made less than ``tolerance_s`` ago."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        ts = int(fields["t"])
        mac = fields["v1"]
    except (ValueError, KeyError):
        return False
    if abs(time.time() - ts) > tolerance_s:
        return False
    expected = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, mac)


class WebhookSink:
    def __init__(
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
        self.secret = secret
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
        self._thread = threading.Thread(target=self._run, name=f"alpr-{self.sink}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._client.close()

    def _post(self, topic: str, body: bytes) -> str | None:
        """POST one payload: None when the endpoint took it, else why not."""
        headers = {"Content-Type": "application/json", "X-Alpr-Event": topic.rsplit("/", 1)[-1]}
        if self.secret:
            headers["X-Alpr-Signature"] = sign(self.secret, body)
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
