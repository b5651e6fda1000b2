"""Bridge configuration: defaults < TOML file < ``ALPR__<KEY>`` environment < command-line flags.

Example ``bridge.toml``::

    zmq = ["tcp://127.0.0.1:5556"]
    mqtt = "mqtts://user:pass@broker.local:8883"
    db = "sqlite:///var/lib/alpr/alpr.db"       # or postgresql+psycopg://user@host/db
    http = "0.0.0.0:8443"
    key_file = "/etc/alpr/keys.json"
    tls_cert = "/etc/alpr/server.pem"
    tls_key = "/etc/alpr/server.key"

    [mqtt_tls]
    ca = "/etc/alpr/ca.pem"
    cert = "/etc/alpr/client.pem"
    key = "/etc/alpr/client.key"

    [[webhooks]]
    url = "https://pay.example/alpr"
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"   # Standard Webhooks; `alpr keys webhook` makes one
    alerts_only = false

    [parking]                                    # sites, sessions, journeys (bridge/store/parking.py)
    journey_window_s = 3600                      # 0: no journeys
    overstay_interval_s = 60
    [parking.permit_hook]                        # optional callout, falls back to the local permits
    url = "https://pay.example/permit"
    timeout_s = 0.5

    [[hotlists]]                                 # CSV watchlists reloaded from a path
    path = "/var/lib/alpr/stolen.csv"
    reason = "stolen"
    interval_s = 300
    [http_limits]                                # REST API limits (defaults shown)
    max_body_bytes = 1048576                     # larger bodies: 413
    auth_max_failures = 10                       # wrong tokens per address and window ...
    auth_window_s = 60
    auth_lockout_s = 300                         # ... then 429 for this long
    fuzzy_per_token = 2                          # concurrent fuzzy searches (429 beyond)
    fuzzy_total = 4

    [retention]                                  # days; 0 keeps forever
    reads_days = 30
    crops_days = 7
    alerts_days = 365

Environment: ``ALPR__`` + the key's path in this file, upper case, ``__`` between levels, lists and
tables as JSON: ``ALPR__DB=postgresql+psycopg://...``, ``ALPR__ZMQ='["tcp://edge:5556"]'``,
``ALPR__RETENTION__READS_DAYS=7`` (the one scheme of the whole product, described in the README's
"Configuration" section). The older ``ALPR_ZMQ`` (comma-separated), ``ALPR_MQTT``, ``ALPR_DB``,
``ALPR_HTTP``, ``ALPR_KEY_FILE``, ``ALPR_TLS_CERT``, ``ALPR_TLS_KEY`` and ``ALPR_HA_DISCOVERY`` still work,
below the new names, and log a deprecation warning. The keys themselves may come from ``ALPR_KEYS``
(:mod:`alpr.bridge.crypto`: the key document, not a config key).
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from alpr._settings import ENV_PREFIX, EnvSource, Settings, TomlSource, load_settings, read_toml

__all__ = [
    "BridgeConfig",
    "Hotlist",
    "HttpLimits",
    "MqttTls",
    "Parking",
    "PermitHookConfig",
    "Retention",
    "Webhook",
    "check_secret",
    "load_config",
]

_log = logging.getLogger(__name__)


def check_secret(secret: str) -> str:
    """Check a webhook signing secret.

    Returns:
        ``secret`` if it is empty or a Standard Webhooks secret (``whsec_`` + base64 of 24 to 64 bytes).

    Raises:
        ValueError: anything else, saying what was expected.
    """
    if not secret:
        return secret
    if not secret.startswith("whsec_"):
        raise ValueError("expected a Standard Webhooks secret 'whsec_<base64>' (make one: alpr keys webhook)")
    try:
        raw = base64.b64decode(secret[len("whsec_") :], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("whsec_ secret: the part after 'whsec_' is not valid base64") from None
    if not 24 <= len(raw) <= 64:
        raise ValueError(f"whsec_ secret: expected 24 to 64 bytes of key, got {len(raw)}")
    return secret


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MqttTls(_Model):
    """TLS to the MQTT broker: CA bundle, client certificate and key; ``insecure`` skips the name check."""

    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    insecure: bool = False


class Webhook(_Model):
    """One webhook sink: where to POST, how to sign, which messages, timeout and retry limit."""

    url: str
    # Standard Webhooks signing secret ``whsec_<base64>``; empty: unsigned (webhook-id still sent).
    secret: str = ""
    alerts_only: bool = False
    timeout_s: float = Field(default=5.0, gt=0)
    # After this many failed POSTs of one payload it moves to the dead letters (``/api/v1/dead-letters``)
    # and the rows behind it go out.
    max_attempts: int = Field(default=8, ge=1)

    @field_validator("url")
    @classmethod
    def _http(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError(f"expected an http:// or https:// URL, got {v!r}")
        return v

    @field_validator("secret")
    @classmethod
    def _whsec(cls, v: str) -> str:
        return check_secret(v)


class Retention(_Model):
    """How long each kind of row is kept (days; 0 keeps for ever) and how often the sweep runs."""

    reads_days: float = Field(default=30.0, ge=0)
    crops_days: float = Field(default=7.0, ge=0)
    alerts_days: float = Field(default=365.0, ge=0)
    audit_days: float = Field(default=365.0, ge=0)
    interval_s: float = Field(default=3600.0, gt=0)


class PermitHookConfig(_Model):
    """The synchronous permit/payment lookup callout: URL, bearer token, timeout and circuit breaker."""

    url: str
    token: str = ""
    timeout_s: float = Field(default=0.5, gt=0, le=30)
    fail_max: int = Field(default=3, ge=1)
    reset_s: float = Field(default=30.0, gt=0)

    _http = field_validator("url")(Webhook._http.__func__)  # type: ignore[attr-defined]


class Parking(_Model):
    """Parking and movement analytics: journey window, overstay check interval, permit callout."""

    journey_window_s: float = Field(default=3600.0, ge=0)
    overstay_interval_s: float = Field(default=60.0, gt=0)
    permit_hook: PermitHookConfig | None = None


class Hotlist(_Model):
    """A watchlist CSV file (stolen-vehicle feed) reloaded every ``interval_s``."""

    path: Path
    reason: str = "hotlist"
    kind: Literal["exact", "fuzzy"] = "exact"
    max_distance: float = Field(default=1.0, ge=0, le=4)
    interval_s: float = Field(default=300.0, gt=0)


class HttpLimits(_Model):
    """What the REST API accepts before it answers 413 / 429 (see :mod:`alpr.bridge.api.hardening`)."""

    max_body_bytes: int = Field(default=1 << 20, ge=1024)
    auth_max_failures: int = Field(default=10, ge=1)
    auth_window_s: float = Field(default=60.0, gt=0)
    auth_lockout_s: float = Field(default=300.0, gt=0)
    fuzzy_per_token: int = Field(default=2, ge=1)
    fuzzy_total: int = Field(default=4, ge=1)


def default_client_id() -> str:
    """Make an MQTT client id ``alpr-bridge-<host>-<pid>-<random>``.

    Unique per bridge, so two bridges on one broker do not keep disconnecting each other (MQTT allows
    one connection per client id). Set ``mqtt_client_id`` to pin one (the outbox, not the broker
    session, carries undelivered messages over restarts).
    """
    import os
    import secrets
    import socket

    return f"alpr-bridge-{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


class BridgeConfig(Settings):
    """The bridge's ``bridge.toml`` document.

    ``BridgeConfig(...)`` takes exactly the values given; :func:`load_config` adds the file and the
    ``ALPR__*`` environment.
    """

    zmq: list[str] = Field(default_factory=list)
    # CurveZMQ (alpr.stream.keys): the publishers' public certificate and this bridge's own secret one.
    zmq_server_key: Path | None = None
    zmq_client_key: Path | None = None
    mqtt: str | None = None
    mqtt_tls: MqttTls = MqttTls()
    mqtt_client_id: str = Field(default_factory=lambda: default_client_id())
    ha_discovery: bool = False
    db: str = "sqlite:///alpr.db"
    http: str = "127.0.0.1:8080"
    key_file: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    webhooks: list[Webhook] = Field(default_factory=list)
    retention: Retention = Retention()
    parking: Parking = Parking()
    hotlists: list[Hotlist] = Field(default_factory=list)
    batch_size: int = Field(default=512, ge=1)
    fuzzy_scan_limit: int = Field(default=50_000, ge=1)
    http_limits: HttpLimits = HttpLimits()

    @model_validator(mode="after")
    def _tls_pair(self) -> BridgeConfig:
        if (self.tls_cert is None) != (self.tls_key is None):
            given, missing = ("tls_cert", "tls_key") if self.tls_key is None else ("tls_key", "tls_cert")
            raise ValueError(f"{given} needs {missing} as well (HTTPS takes a certificate and its key)")
        if self.zmq_client_key is not None and self.zmq_server_key is None:
            raise ValueError("zmq_client_key needs zmq_server_key (the publisher's public certificate)")
        return self

    @field_validator("http")
    @classmethod
    def _hostport(cls, v: str) -> str:
        host, sep, port = v.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"expected HOST:PORT, got {v!r}")
        return v

    @field_validator("mqtt")
    @classmethod
    def _mqtt_url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("mqtt://", "mqtts://")):
            raise ValueError(f"expected mqtt://HOST[:PORT] or mqtts://..., got {v!r}")
        return v

    @property
    def http_host(self) -> str:
        """The host part of ``http`` (brackets of an IPv6 address removed)."""
        return self.http.rpartition(":")[0].strip("[]")

    @property
    def http_port(self) -> int:
        """The port part of ``http``."""
        return int(self.http.rpartition(":")[2])


# The names before the one ``ALPR__`` scheme (alpr 0.x): still read, below ALPR__*, with a warning.
_LEGACY_ENV: dict[str, str] = {
    "ALPR_ZMQ": "zmq",
    "ALPR_MQTT": "mqtt",
    "ALPR_DB": "db",
    "ALPR_HTTP": "http",
    "ALPR_KEY_FILE": "key_file",
    "ALPR_TLS_CERT": "tls_cert",
    "ALPR_TLS_KEY": "tls_key",
    "ALPR_HA_DISCOVERY": "ha_discovery",
}


class _LegacyEnv(PydanticBaseSettingsSource):
    """``ALPR_ZMQ`` (comma-separated), ``ALPR_DB``, ...: the bridge's variables before ``ALPR__<KEY>``."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self._environ = environ

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """Unused: :meth:`__call__` reads the variables itself."""
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        """The old variables that are set, as config keys."""
        out: dict[str, Any] = {}
        for var, key in _LEGACY_ENV.items():
            raw = self._environ.get(var, "")
            if not raw:
                continue
            _log.warning(
                "%s is deprecated: set %s%s (see the README, Configuration)", var, ENV_PREFIX, key.upper()
            )
            if key == "zmq":
                out[key] = [s.strip() for s in raw.split(",") if s.strip()]
            elif key == "ha_discovery":
                out[key] = raw.lower() in {"1", "true", "yes", "on"}
            else:
                out[key] = raw
        return out


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> BridgeConfig:
    """``overrides`` (flags) > ``ALPR__<KEY>`` variables in ``env`` > the TOML file at ``path`` > defaults.

    ``None`` values and empty lists in ``overrides`` mean "not given" and are skipped. Error messages
    name the key but never quote the value (it may be a secret).
    """
    environ = os.environ if env is None else env
    given = {k: v for k, v in (overrides or {}).items() if v is not None and v != []}
    return load_settings(
        BridgeConfig,
        given,
        EnvSource(BridgeConfig, environ),
        _LegacyEnv(BridgeConfig, environ),
        TomlSource(BridgeConfig, read_toml(path) if path is not None else {}),
        where="bridge config",
        echo_input=False,
    )
