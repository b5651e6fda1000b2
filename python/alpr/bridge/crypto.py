"""Encryption at rest: AES-GCM for plate text and crops, an HMAC blind index for lookups.

Key file (JSON, mode 0600)::

    {"active": "k2", "keys": {"k1": "<base64 32 bytes>", "k2": "<base64 32 bytes>"},
     "index_key": "<base64 32 bytes>"}

The same document may come from the ``ALPR_KEYS`` environment variable instead of a file. Every
ciphertext starts with the id of the key that sealed it (``1 byte length + id + 12 byte nonce + ct``,
:class:`alpr.stream.keys.DataKeys`, the format of the publisher's outbox too), so old rows stay readable
after a rotation until ``alpr keys rotate`` re-encrypts them.

The blind index is ``HMAC-SHA256(index_key, normalized plate)`` truncated to 128 bits. It lets the
store answer "every read of plate X" and exact watchlist lookups without decrypting anything; it is
not rotated (rotating it would mean recomputing every index value), which is why it has its own key.
"""

from __future__ import annotations

import base64
import hmac
import os
import secrets
from pathlib import Path

import orjson

from alpr.errors import ConfigError
from alpr.stream.keys import DataKeys
from alpr.types import normalize_plate

__all__ = ["Keyring", "generate_keyfile", "normalize_plate"]


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


class Keyring(DataKeys):
    """The data keys (by id), which one seals new data, and the blind-index key.

    The sealing is :class:`alpr.stream.keys.DataKeys`, the format of the publisher's outbox as well.
    """

    def __init__(self, keys: dict[str, bytes], active: str, index_key: bytes) -> None:
        super().__init__(keys, active)
        self.index_key = index_key

    def __repr__(self) -> str:
        return f"Keyring(keys={sorted(self.keys)}, active={self.active!r})"  # never the keys themselves

    def _replace(self, keys: dict[str, bytes], active: str) -> Keyring:
        return Keyring(keys=keys, active=active, index_key=self.index_key)  # with_new_key's result

    # -- loading -------------------------------------------------------------------------------
    @classmethod
    def from_json(cls, data: bytes | str) -> Keyring:
        """Parse a key file's JSON (``{"active": id, "keys": {id: base64}, "index_key": base64}``).

        Raises:
            ConfigError: not JSON, or keys missing or not 32 bytes of base64.
        """
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
        """The key file's JSON (indented; it holds secrets: write it with :meth:`save`)."""
        doc = {
            "active": self.active,
            "keys": {k: base64.b64encode(v).decode() for k, v in self.keys.items()},
            "index_key": base64.b64encode(self.index_key).decode(),
        }
        return orjson.dumps(doc, option=orjson.OPT_INDENT_2)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the key file atomically, created 0600 and synced before it replaces ``path``."""
        p = Path(path)
        tmp = p.with_name(p.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(self.to_json())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)

    def encrypt_text(self, text: str, aad: bytes = b"") -> bytes:
        """Seal UTF-8 ``text`` with the active key (``aad`` binds it to its row and field)."""
        return self.encrypt(text.encode("utf-8"), aad)

    def decrypt_text(self, blob: bytes, aad: bytes = b"") -> str:
        """Open a blob sealed by :meth:`encrypt_text` with the same ``aad``."""
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
        keys={"k1": secrets.token_bytes(32)},
        active="k1",
        index_key=secrets.token_bytes(32),
    )
    ring.save(p)
    return ring
