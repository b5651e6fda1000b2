"""Encryption at rest: AES-GCM for plate text and crops, an HMAC blind index for lookups.

Key file (JSON, mode 0600)::

    {"active": "k2", "keys": {"k1": "<base64 32 bytes>", "k2": "<base64 32 bytes>"},
     "index_key": "<base64 32 bytes>"}

The same document may come from the ``ALPR_KEYS`` environment variable instead of a file. Every
ciphertext starts with the id of the key that sealed it (``1 byte length + id + 12 byte nonce + ct``),
so old rows stay readable after a rotation until ``alpr keys rotate`` re-encrypts them.

The blind index is ``HMAC-SHA256(index_key, normalized plate)`` truncated to 128 bits. It lets the
store answer "every read of plate X" and exact watchlist lookups without decrypting anything; it is
not rotated (rotating it would mean recomputing every index value), which is why it has its own key.
"""

from __future__ import annotations

import base64
import hmac
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from alpr.errors import ConfigError, StoreError
from alpr.types import normalize_plate

__all__ = ["Keyring", "generate_keyfile", "normalize_plate"]

_NONCE = 12
_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def _b64key(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise ConfigError(f"{what}: expected a base64 string, got {type(value).__name__}")
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError as exc:
        raise ConfigError(f"{what}: not valid base64 ({exc})") from None
    if len(raw) != 32:
        raise ConfigError(f"{what}: expected 32 bytes (AES-256), got {len(raw)}")
    return raw


@dataclass
class Keyring:
    """The data keys (by id), which one seals new data, and the blind-index key."""

    keys: dict[str, bytes]
    active: str
    index_key: bytes
    _aead: dict[str, AESGCM] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.active not in self.keys:
            raise ConfigError(f"keyring: active key {self.active!r} not in keys {sorted(self.keys)}")
        for kid in self.keys:
            if not _KEY_ID.match(kid):
                raise ConfigError(f"keyring: key id must match {_KEY_ID.pattern}, got {kid!r}")
        self._aead = {kid: AESGCM(k) for kid, k in self.keys.items()}

    # -- loading -------------------------------------------------------------------------------
    @classmethod
    def from_json(cls, data: bytes | str) -> Keyring:
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise ConfigError(f"keyring: not valid JSON ({exc})") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("keys"), dict) or not doc["keys"]:
            raise ConfigError('keyring: expected {"active": id, "keys": {id: base64}, "index_key": base64}')
        keys = {str(k): _b64key(v, f"keys.{k}") for k, v in doc["keys"].items()}
        return cls(
            keys=keys, active=str(doc.get("active")), index_key=_b64key(doc.get("index_key"), "index_key")
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None) -> Keyring:
        """Read the key file at ``path``, or ``ALPR_KEYS`` (the JSON itself) when ``path`` is None."""
        if path is None:
            env = os.environ.get("ALPR_KEYS")
            if not env:
                raise ConfigError("no key: pass --key-file PATH or set ALPR_KEYS (see `alpr keys init`)")
            return cls.from_json(env)
        p = Path(path)
        try:
            return cls.from_json(p.read_bytes())
        except OSError as exc:
            raise ConfigError(f"key file {p}: {exc.strerror}") from None

    def to_json(self) -> bytes:
        doc = {
            "active": self.active,
            "keys": {k: base64.b64encode(v).decode() for k, v in self.keys.items()},
            "index_key": base64.b64encode(self.index_key).decode(),
        }
        return orjson.dumps(doc, option=orjson.OPT_INDENT_2)

    def save(self, path: str | os.PathLike[str]) -> None:
        p = Path(path)
        tmp = p.with_name(p.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(self.to_json())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)

    def with_new_key(self, kid: str | None = None) -> Keyring:
        """A keyring with one more data key, made active (old keys kept for reading)."""
        kid = kid or f"k{len(self.keys) + 1}"
        while kid in self.keys:
            kid = kid + "x"
        keys = dict(self.keys)
        keys[kid] = AESGCM.generate_key(bit_length=256)
        return Keyring(keys=keys, active=kid, index_key=self.index_key)

    # -- sealing -------------------------------------------------------------------------------
    def encrypt(self, plaintext: bytes, aad: bytes = b"") -> bytes:
        """Seal with the active key; ``aad`` binds the ciphertext to its row (e.g. the event id)."""
        kid = self.active.encode()
        nonce = secrets.token_bytes(_NONCE)
        return bytes([len(kid)]) + kid + nonce + self._aead[self.active].encrypt(nonce, plaintext, aad)

    def decrypt(self, blob: bytes, aad: bytes = b"") -> bytes:
        kid = self.key_id(blob)
        aead = self._aead.get(kid)
        if aead is None:
            raise StoreError(f"ciphertext sealed with key {kid!r}, which is not in the keyring")
        start = 1 + len(kid)
        try:
            return aead.decrypt(blob[start : start + _NONCE], blob[start + _NONCE :], aad)
        except InvalidTag:
            raise StoreError("ciphertext failed authentication (wrong key, or tampered row)") from None

    @staticmethod
    def key_id(blob: bytes) -> str:
        if len(blob) < 2 or len(blob) < 1 + blob[0] + _NONCE + 16:
            raise StoreError(f"ciphertext too short ({len(blob)} bytes)")
        return blob[1 : 1 + blob[0]].decode("ascii", "replace")

    def encrypt_text(self, text: str, aad: bytes = b"") -> bytes:
        return self.encrypt(text.encode("utf-8"), aad)

    def decrypt_text(self, blob: bytes, aad: bytes = b"") -> str:
        return self.decrypt(blob, aad).decode("utf-8")

    def blind_index(self, plate: str) -> str:
        """Keyed hash of the normalized plate: equal plates give equal values, nothing else leaks."""
        return hmac.digest(self.index_key, normalize_plate(plate).encode(), "sha256")[:16].hex()


def generate_keyfile(path: str | os.PathLike[str]) -> Keyring:
    """Write a fresh key file (one data key ``k1`` and an index key) and return its keyring."""
    p = Path(path)
    if p.exists():
        raise ConfigError(f"key file {p} already exists; refusing to overwrite it")
    ring = Keyring(
        keys={"k1": AESGCM.generate_key(bit_length=256)},
        active="k1",
        index_key=secrets.token_bytes(32),
    )
    ring.save(p)
    return ring
