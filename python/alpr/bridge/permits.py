"""Permit / payment lookup hook: an optional synchronous HTTP callout, guarded by a circuit breaker.

At an entry or exit read the bridge may ask an external system whether the barrier should open::

    POST <url>  {"plate": "AB123", "site": "P1", "camera": "in1", "ts": "2026-...Z"}
    -> 200 {"allowed": true, "name": "Ann (monthly permit)"}

The call has a short timeout (``timeout_s``, default 0.5 s: it runs inside the ingest of the read).
Errors, timeouts, non-2xx answers and malformed bodies count as failures; after ``fail_max``
failures in a row the breaker (pybreaker) opens and the hook is not called for ``reset_s`` seconds.
Whenever the hook gives no answer, the local allow-list (permits) decides.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pybreaker

from alpr.bridge.store import iso_ms
from alpr.bridge.store.sites import PermitDecision

__all__ = ["PermitHook"]

log = logging.getLogger("alpr.bridge.permits")


class PermitHook:
    """``hook(plate, site, camera, ts_ms) -> PermitDecision | None`` (None: no answer, use the allow-list)."""

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 0.5,
        fail_max: int = 3,
        reset_s: float = 30.0,
        token: str = "",
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.Client(timeout=timeout_s, headers=headers, transport=transport)
        self.breaker = pybreaker.CircuitBreaker(fail_max=fail_max, reset_timeout=reset_s, name="permit-hook")
        self.calls = 0
        self.failures = 0

    def _ask(self, body: dict[str, Any]) -> PermitDecision:
        self.calls += 1
        r = self._client.post(self.url, json=body)
        r.raise_for_status()
        doc = r.json()
        if not isinstance(doc, dict) or not isinstance(doc.get("allowed"), bool):
            raise ValueError(f"permit hook: expected {{'allowed': bool, ...}}, got {str(doc)[:80]}")
        name = doc.get("name")
        return PermitDecision(doc["allowed"], name if isinstance(name, str) else "", "hook")

    def __call__(self, plate: str, site: str, camera: str, ts_ms: int) -> PermitDecision | None:
        """Ask the hook about ``plate``; None when it cannot answer (error, timeout, breaker open)."""
        body = {"plate": plate, "site": site, "camera": camera, "ts": iso_ms(ts_ms)}
        try:
            return self.breaker.call(self._ask, body)
        except pybreaker.CircuitBreakerError:
            return None  # open: not even trying, the allow-list decides
        except (httpx.HTTPError, ValueError) as exc:
            self.failures += 1
            log.warning("permit hook %s: %s; using the local allow-list", self.url, exc)
            return None

    @property
    def state(self) -> str:
        """``closed`` (calling), ``open`` (not calling) or ``half-open`` (trying once)."""
        return str(self.breaker.current_state)

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()
