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

:class:`DataKeys` is the one ciphertext format of the product, shared by the publisher's outbox and the
bridge's store (:class:`alpr.bridge.crypto.Keyring` adds a blind-index key): AES-GCM data keys by id, the
active one seals, every one opens, and each ciphertext names its key::

    1 byte id length | key id (ASCII) | 12 byte nonce | ciphertext and 16 byte tag

so data sealed before a key rotation stays readable while the old key is kept.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from alpr.errors import ConfigError, StoreError

__all__ = [
    "DataKeys",
    "create_curve_certificate",
    "fingerprint",
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


_NONCE = 12
_K = TypeVar("_K", bound="DataKeys")
_TAG = 16
_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class DataKeys:
    """AES-GCM data keys by id; ``active`` seals new data, any of them opens (see the module docstring).

    Args:
        keys: key id (1-64 of ``A-Z a-z 0-9 _ . -``) -> AES key of 16, 24 or 32 bytes.
        active: the id of the key that seals.

    Raises:
        ConfigError: an id or a key is malformed, or ``active`` is not one of ``keys``.
        ImportError: the ``cryptography`` package is missing.
    """

    def __init__(self, keys: Mapping[str, bytes], active: str) -> None:
        try:
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        except ImportError:
            raise ImportError(
                "encryption needs the cryptography package: pip install 'alpr-engine[serve]'"
            ) from None
        if active not in keys:
            raise ConfigError(f"keyring: active key {active!r} not in keys {sorted(keys)}")
        for kid, key in keys.items():
            if not _KEY_ID.match(kid):
                raise ConfigError(f"keyring: key id must match {_KEY_ID.pattern}, got {kid!r}")
            if not isinstance(key, bytes) or len(key) not in (16, 24, 32):
                got = f"{len(key)} bytes" if isinstance(key, bytes) else type(key).__name__
                raise ConfigError(f"keyring: key {kid!r}: expected 16, 24 or 32 bytes (AES-GCM), got {got}")
        self.keys = dict(keys)
        self.active = active
        self._aead: dict[str, Any] = {kid: AESGCM(k) for kid, k in self.keys.items()}

    @staticmethod
    def single(key: bytes) -> DataKeys:
        """One key, its id derived from it (``k-`` + 8 hex digits of its SHA-256): a key file holds no id."""
        return DataKeys({fingerprint(key): key}, fingerprint(key))

    def with_new_key(self: _K, kid: str | None = None) -> _K:
        """The same keys and a new 256-bit one, made active (the old ones kept for reading)."""
        kid = kid or f"k{len(self.keys) + 1}"
        while kid in self.keys:
            kid = kid + "x"
        return self._replace({**self.keys, kid: secrets.token_bytes(32)}, kid)

    def _replace(self: _K, keys: dict[str, bytes], active: str) -> _K:
        return type(self)(keys, active)  # subclasses with more state override this

    def encrypt(self, plaintext: bytes, aad: bytes = b"") -> bytes:
        """Seal with the active key; ``aad`` binds the ciphertext to its row (e.g. the event id)."""
        kid = self.active.encode()
        nonce = secrets.token_bytes(_NONCE)
        return bytes([len(kid)]) + kid + nonce + bytes(self._aead[self.active].encrypt(nonce, plaintext, aad))

    def decrypt(self, blob: bytes, aad: bytes = b"") -> bytes:
        """Open a ciphertext of :meth:`encrypt` (with the same ``aad``).

        Raises:
            StoreError: too short, sealed with a key that is not here, or it fails authentication.
        """
        from cryptography.exceptions import InvalidTag

        kid = self.key_id(blob)
        aead = self._aead.get(kid)
        if aead is None:
            raise StoreError(f"ciphertext sealed with key {kid!r}, which is not in the keyring")
        start = 1 + len(kid)
        try:
            return bytes(aead.decrypt(blob[start : start + _NONCE], blob[start + _NONCE :], aad))
        except InvalidTag:
            raise StoreError("ciphertext failed authentication (wrong key, or tampered row)") from None

    @staticmethod
    def key_id(blob: bytes) -> str:
        """The id of the key that sealed ``blob``. Raises ``StoreError`` when it is too short."""
        if len(blob) < 2 or len(blob) < 1 + blob[0] + _NONCE + _TAG:
            raise StoreError(f"ciphertext too short ({len(blob)} bytes)")
        return blob[1 : 1 + blob[0]].decode("ascii", "replace")


def fingerprint(key: bytes) -> str:
    """The key id :meth:`DataKeys.single` gives a key: ``k-`` and 8 hex digits of its SHA-256."""
    return "k-" + hashlib.sha256(key).hexdigest()[:8]
