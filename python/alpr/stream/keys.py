"""Key files of the stream: CurveZMQ certificates and the publisher's outbox key.

CurveZMQ certificates are pyzmq's own ZPL files (:func:`zmq.auth.create_certificates`): ``NAME.key``
holds the public key (hand it to the other side), ``NAME.key_secret`` both keys (keep it; written 0600).

* the publisher (``alpr run --publish``) loads its secret certificate (``--curve-secret``) and the
  public certificates of the consumers it admits (``--curve-clients``, a directory of ``*.key``);
* a consumer (``alpr serve``) loads the publisher's public certificate (``--zmq-server-key``) and its own
  secret one (``--zmq-client-key``).

Without an allow-list anyone who can reach the replay port (PUB port + 1) may acknowledge events,
which deletes them from the outbox: give the publisher ``--curve-clients`` (or bind it to loopback).

The outbox key (``--outbox-key``) is a file holding 32 random bytes in base64 (:func:`write_outbox_key`),
the AES-GCM key that keeps plates and crops out of the outbox file in clear.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from pathlib import Path

from alpr.errors import ConfigError

__all__ = [
    "create_curve_certificate",
    "load_curve_clients",
    "load_curve_keypair",
    "load_curve_public",
    "read_outbox_key",
    "write_outbox_key",
]


def create_curve_certificate(directory: str | os.PathLike[str], name: str) -> tuple[Path, Path]:
    """Write ``NAME.key`` (public) and ``NAME.key_secret`` (0600) into ``directory``; returns both paths."""
    import zmq.auth

    d = Path(directory)
    if not name or "/" in name or name.startswith("."):
        raise ConfigError(f"curve certificate name: expected a plain file name, got {name!r}")
    public, secret = d / f"{name}.key", d / f"{name}.key_secret"
    for p in (public, secret):
        if p.exists():
            raise ConfigError(f"{p}: exists already (not overwritten)")
    d.mkdir(parents=True, exist_ok=True)
    old = os.umask(0o077)  # the secret file is never readable by others, not even for a moment
    try:
        pub_s, sec_s = zmq.auth.create_certificates(d, name)
    finally:
        os.umask(old)
    os.chmod(pub_s, 0o644)
    return Path(pub_s), Path(sec_s)


def _load(path: str | os.PathLike[str]) -> tuple[bytes, bytes | None]:
    import zmq.auth

    try:
        public, secret = zmq.auth.load_certificate(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"curve certificate {path}: {exc}") from None
    if len(public) != 40 or (secret is not None and len(secret) != 40):
        raise ConfigError(f"curve certificate {path}: expected Z85 keys of 40 characters")
    return public, secret


def load_curve_public(path: str | os.PathLike[str]) -> bytes:
    """The public key of a certificate (``.key`` or ``.key_secret``)."""
    return _load(path)[0]


def load_curve_keypair(path: str | os.PathLike[str]) -> tuple[bytes, bytes]:
    """``(public, secret)`` of a ``.key_secret`` certificate."""
    public, secret = _load(path)
    if secret is None:
        raise ConfigError(f"curve certificate {path}: holds no secret key (use the .key_secret file)")
    return public, secret


def load_curve_clients(path: str | os.PathLike[str]) -> list[bytes]:
    """The public keys of the admitted consumers: every ``*.key`` in a directory, or one certificate."""
    p = Path(path)
    if p.is_dir():
        files = sorted(p.glob("*.key"))
        if not files:
            raise ConfigError(f"curve clients {p}: no *.key certificate in this directory")
        return [load_curve_public(f) for f in files]
    return [load_curve_public(p)]


def write_outbox_key(path: str | os.PathLike[str]) -> Path:
    """Create a new outbox key file (0600; an existing file is never overwritten)."""
    p = Path(path)
    try:
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError(f"{p}: exists already (not overwritten)") from None
    except OSError as exc:
        raise ConfigError(f"outbox key {p}: {exc}") from None
    with os.fdopen(fd, "w") as f:
        f.write(base64.b64encode(secrets.token_bytes(32)).decode() + "\n")
    return p


def read_outbox_key(path: str | os.PathLike[str]) -> bytes:
    """The AES-GCM key (16, 24 or 32 bytes) of an outbox key file written by :func:`write_outbox_key`."""
    try:
        text = Path(path).read_text().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"outbox key {path}: {exc}") from None
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"outbox key {path}: expected base64 text (alpr keys outbox)") from None
    if len(key) not in (16, 24, 32):
        raise ConfigError(f"outbox key {path}: expected 16, 24 or 32 bytes, got {len(key)}")
    return key
