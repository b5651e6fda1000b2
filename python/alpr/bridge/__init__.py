"""The bridge (``alpr serve``, extra ``alpr-engine[serve]``): plate events into an encrypted store.

From the stream into the store, out to MQTT and webhooks, and served over a token-protected REST API.

Modules: :mod:`~alpr.bridge.config`, :mod:`~alpr.bridge.crypto`, :mod:`~alpr.bridge.store` (one Store,
a module per concern),
:mod:`~alpr.bridge.watchlist`, :mod:`~alpr.bridge.mqtt`, :mod:`~alpr.bridge.webhooks`,
:mod:`~alpr.bridge.api` (a router per area), :mod:`~alpr.bridge.retention`, :mod:`~alpr.bridge.service`,
:mod:`~alpr.bridge.cli`. Importing this package imports none of them.
"""

from __future__ import annotations

__all__: list[str] = []
