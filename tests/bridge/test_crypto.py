from __future__ import annotations

import base64
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alpr.bridge.crypto import Keyring, generate_keyfile, normalize_plate
from alpr.errors import ConfigError, StoreError


def test_round_trip_and_key_id(keyring: Keyring) -> None:
    blob = keyring.encrypt_text("AB 123-CD", b"ev1")
    assert Keyring.key_id(blob) == "k1"
    assert b"AB 123" not in blob
    assert keyring.decrypt_text(blob, b"ev1") == "AB 123-CD"
    # Nonces are random: the same plate never gives the same ciphertext.
    assert keyring.encrypt_text("AB 123-CD", b"ev1") != blob


def test_aad_and_tampering_are_detected(keyring: Keyring) -> None:
    blob = keyring.encrypt(b"plate", b"row-1")
    with pytest.raises(StoreError, match="authentication"):
        keyring.decrypt(blob, b"row-2")
    bad = bytearray(blob)
    bad[-1] ^= 1
    with pytest.raises(StoreError, match="authentication"):
        keyring.decrypt(bytes(bad), b"row-1")
    with pytest.raises(StoreError, match="too short"):
        keyring.decrypt(b"\x02k1", b"")


def test_rotation_keeps_old_keys_readable(tmp_path: Path, keyring: Keyring) -> None:
    old = keyring.encrypt(b"x")
    ring2 = keyring.with_new_key()
    assert ring2.active == "k2" and set(ring2.keys) == {"k1", "k2"}
    assert Keyring.key_id(ring2.encrypt(b"x")) == "k2"
    assert ring2.decrypt(old) == b"x"
    # The blind index must not change with a data-key rotation.
    assert ring2.blind_index("AB123") == keyring.blind_index("AB123")
    p = tmp_path / "k2.json"
    ring2.save(p)
    assert Keyring.load(p).decrypt(old) == b"x"
    assert p.stat().st_mode & 0o777 == 0o600
    only_new = Keyring(keys={"k2": ring2.keys["k2"]}, active="k2", index_key=ring2.index_key)
    with pytest.raises(StoreError, match="not in the keyring"):
        only_new.decrypt(old)


def test_blind_index_normalizes_and_is_keyed(keyring: Keyring, tmp_path: Path) -> None:
    assert keyring.blind_index("ab-123 cd") == keyring.blind_index("AB123CD")
    assert keyring.blind_index("AB123CD") != keyring.blind_index("AB123CE")
    other = generate_keyfile(tmp_path / "other.json")
    assert other.blind_index("AB123CD") != keyring.blind_index("AB123CD")
    assert len(keyring.blind_index("X")) == 32


def test_env_and_bad_key_files(tmp_path: Path, key_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALPR_KEYS", key_file.read_text())
    assert Keyring.load(None).active == "k1"
    monkeypatch.delenv("ALPR_KEYS")
    with pytest.raises(ConfigError, match="ALPR_KEYS"):
        Keyring.load(None)
    with pytest.raises(ConfigError, match="already exists"):
        generate_keyfile(key_file)
    with pytest.raises(ConfigError, match="No such file"):
        Keyring.load(tmp_path / "missing.json")
    doc = orjson.loads(key_file.read_bytes())
    doc["keys"]["k1"] = base64.b64encode(b"short").decode()
    with pytest.raises(ConfigError, match="expected 32 bytes"):
        Keyring.from_json(orjson.dumps(doc))
    with pytest.raises(ConfigError, match="not valid JSON"):
        Keyring.from_json(b"{nope")
    doc = orjson.loads(key_file.read_bytes())
    doc["active"] = "k9"
    with pytest.raises(ConfigError, match="active key"):
        Keyring.from_json(orjson.dumps(doc))


@given(st.text(max_size=40), st.binary(max_size=16))
def test_any_text_round_trips(text: str, aad: bytes) -> None:
    ring = _RING
    assert ring.decrypt_text(ring.encrypt_text(text, aad), aad) == text
    assert normalize_plate(text) == normalize_plate(normalize_plate(text))


_RING = Keyring(keys={"k1": bytes(range(32))}, active="k1", index_key=bytes(32))
