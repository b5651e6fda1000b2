"""Outbox: sequence numbers, reads by range, acknowledgements, persistence, bounds."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

from alpr.errors import ConfigError
from alpr.stream import Outbox, PlateEvent, Publisher


def _rows(n: int, topic: bytes = b"cam1") -> list[tuple[bytes, bytes, bytes | None]]:
    return [(topic, f'{{"n":{i}}}'.encode(), None) for i in range(n)]


def test_append_numbers_from_one_and_reads_ranges(tmp_path: Path) -> None:
    ob = Outbox(tmp_path / "ob.db")
    try:
        assert ob.last_seq == 0 and ob.first_seq() == 1
        assert ob.append(_rows(3)) == 1
        assert ob.append(_rows(2, b"cam2")) == 4
        assert ob.last_seq == 5 and ob.pending() == 5
        rows, through = ob.read(2, 2)
        assert [r[0] for r in rows] == [2, 3] and through == 3
        rows, through = ob.read(4, 100)
        assert [r[0] for r in rows] == [4, 5] and through == 5
        assert rows[0][1] == b"cam2"
        rows, through = ob.read(1, 100, topics=["cam2"])
        assert [r[0] for r in rows] == [4, 5] and through == 5
        rows, through = ob.read(1, 2, topics=["cam2"])
        assert rows == [] and through == 2  # scanned 1..2, nothing for cam2 there
        rows, through = ob.read(6, 10)
        assert rows == [] and through == 5
    finally:
        ob.close()


def test_ack_prunes_up_to_the_slowest_consumer(tmp_path: Path) -> None:
    ob = Outbox(tmp_path / "ob.db")
    try:
        ob.append(_rows(10))
        assert ob.acked("a") is None
        assert ob.ack("a", 6) == 6
        assert ob.first_seq() == 7 and ob.acked("a") == 6
        assert ob.ack("b", 3) == 0  # b is behind: nothing more to delete
        assert ob.ack("a", 4) == 0 and ob.acked("a") == 6  # acks never go back
        assert ob.ack("b", 8) == 0  # a (at 6) is now the slowest
        assert ob.ack("a", 99) == 2 and ob.acked("a") == 10  # clamped to what exists; b holds 9, 10
        assert ob.first_seq() == 9 and ob.pending() == 2
    finally:
        ob.close()


def test_state_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "ob.db"
    ob = Outbox(path)
    ob.append(_rows(5))
    ob.ack("a", 5)  # everything pruned: the sequence must still go on from 6
    pid = ob.publisher_id
    ob.close()
    ob = Outbox(path)
    try:
        assert ob.publisher_id == pid and ob.last_seq == 5 and ob.pending() == 0
        assert ob.append(_rows(1)) == 6
        assert ob.acked("a") == 5
    finally:
        ob.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_second_process_cannot_open_the_same_outbox(tmp_path: Path) -> None:
    ob = Outbox(tmp_path / "ob.db")
    try:
        with pytest.raises(ConfigError, match="already open"):
            Outbox(tmp_path / "ob.db")
    finally:
        ob.close()
    Outbox(tmp_path / "ob.db").close()  # released on close


def test_bounded_outbox_drops_oldest_and_counts(tmp_path: Path) -> None:
    ob = Outbox(None, max_events=4)
    try:
        ob.append(_rows(3))
        ob.append(_rows(3))
        assert ob.pending() == 4 and ob.first_seq() == 3 and ob.evicted == 2
    finally:
        ob.close()
    with pytest.raises(ValueError, match="max_events"):
        Outbox(None, max_events=0)


def test_corrupt_outbox_file_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "ob.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(Exception, match="outbox") as info:
        Outbox(path)
    assert type(info.value).__name__ == "StoreError"


def test_publish_validates_its_arguments(event_factory: Callable[..., PlateEvent], tiny_jpeg: bytes) -> None:
    with Publisher("inproc://validate") as pub:
        with pytest.raises(TypeError, match="PlateEvent"):
            pub.publish({"plate": "X"})  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="JPEG"):
            pub.publish(event_factory(1), b"\x89PNG....")
        with pytest.raises(TypeError, match="crop_jpeg"):
            pub.publish(event_factory(1), "not bytes")  # type: ignore[arg-type]
        assert pub.last_seq == 0  # nothing accepted
        assert pub.publish(event_factory(1), tiny_jpeg) == 1
        assert pub.publish_many([event_factory(2), (event_factory(3), tiny_jpeg)]) == [2, 3]
        assert pub.publish_many([]) == []
        rows, _ = pub.outbox.read(1, 10)
        assert [r[3] for r in rows] == [tiny_jpeg, None, tiny_jpeg]
        assert PlateEvent.from_json(rows[1][2]).plate == "AB00002"


@pytest.mark.parametrize(
    ("endpoint", "match"),
    [("nonsense", "scheme"), ("udp://127.0.0.1:5", "tcp"), ("tcp://127.0.0.1:notaport", "port")],
)
def test_bad_endpoints_are_rejected(endpoint: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Publisher(endpoint)


def test_endpoint_in_use_is_a_config_error() -> None:
    with Publisher("tcp://127.0.0.1:*") as pub, pytest.raises(ConfigError, match="cannot bind"):
        Publisher(pub.endpoint, replay_endpoint="tcp://127.0.0.1:*")


def test_default_replay_endpoints(tmp_path: Path) -> None:
    with Publisher(f"ipc://{tmp_path}/ev") as pub:
        assert pub.replay_endpoint == f"ipc://{tmp_path}/ev.replay"
    with Publisher("tcp://127.0.0.1:*") as pub:
        assert pub.replay_endpoint.startswith("tcp://127.0.0.1:")
        assert pub.replay_endpoint != pub.endpoint


def test_read_caps_a_reply_by_bytes_and_forget_releases_a_consumer(tmp_path: Path) -> None:
    ob = Outbox(tmp_path / "ob.db")
    try:
        big = b"\xff\xd8" + bytes(1000)
        ob.append([(b"cam1", b"{}", big) for _ in range(10)])
        rows, through = ob.read(1, 100, max_bytes=3_000)
        assert [r[0] for r in rows] == [1, 2, 3] and through == 3  # the next request starts at 4
        ob.ack("gone", 2)
        ob.ack("live", 9)
        assert ob.pending() == 8  # "gone" holds 3..10 back
        assert ob.forget("gone") and not ob.forget("gone")
        ob.ack("live", 9)
        assert ob.pending() == 1
    finally:
        ob.close()


def _file_bytes(tmp_path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(tmp_path.glob("ob.db*")) if p.is_file())


@pytest.mark.parametrize("encrypted", [False, True])
def test_encrypted_outbox_keeps_no_plate_in_clear(tmp_path: Path, encrypted: bool, tiny_jpeg: bytes) -> None:
    if encrypted:
        pytest.importorskip("cryptography")
    key = os.urandom(32) if encrypted else None
    crop = tiny_jpeg + b"CROPMARKER"
    events = [
        PlateEvent.create(camera="gate", plate=f"SECRET{i:03d}", confidence=0.9, box=(0, 0, 1, 1))
        for i in range(50)
    ]
    ob = Outbox(tmp_path / "ob.db", key=key)
    try:
        ob.append([(b"gate", e.to_json(), crop) for e in events])
        on_disk = _file_bytes(tmp_path)  # WAL included, while open
        rows, _ = ob.read(1, 100)
    finally:
        ob.close()
    on_disk += _file_bytes(tmp_path)  # and after the checkpoint on close
    assert [PlateEvent.from_json(r[2]) for r in rows] == events and {r[3] for r in rows} == {crop}
    # The clear-text control proves the scan would see a leak.
    assert (b"SECRET" in on_disk, b"CROPMARKER" in on_disk) == (not encrypted, not encrypted)


def test_encrypted_outbox_key_rules(tmp_path: Path) -> None:
    pytest.importorskip("cryptography")
    key = os.urandom(32)
    ob = Outbox(tmp_path / "ob.db", key=key)
    ob.append([(b"gate", b"{}", None)])
    ob.close()
    with pytest.raises(ConfigError, match="another key"):
        Outbox(tmp_path / "ob.db", key=os.urandom(32))
    with pytest.raises(ConfigError, match="encrypted: pass its key"):
        Outbox(tmp_path / "ob.db")
    ob = Outbox(tmp_path / "ob.db", key=key)
    try:
        assert ob.read(1, 10)[0][0][2] == b"{}"
        ob.ack("c", 1)  # drained: the key may change now
    finally:
        ob.close()
    Outbox(tmp_path / "ob.db").close()
    with pytest.raises(ValueError, match="16, 24 or 32 bytes"):
        Outbox(None, key=b"short")


def _legacy_outbox(path: Path, key: bytes, rows: list[tuple[bytes, bytes, bytes | None]]) -> None:
    """An encrypted outbox as alpr wrote it before the key-id format: ``nonce + AES-GCM`` and one key."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    Outbox(path).close()  # the tables
    aead = AESGCM(key)

    def seal(seq: int, tag: bytes, data: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + aead.encrypt(nonce, data, seq.to_bytes(8, "big") + tag)

    db = sqlite3.connect(path)
    with db:
        db.execute("INSERT INTO meta VALUES ('key_check', ?)", (seal(0, b"k", b"alpr-outbox"),))
        db.executemany(
            "INSERT INTO events VALUES (?, ?, ?, ?)",
            [
                (i, t, seal(i, b"b", b), None if c is None else seal(i, b"c", c))
                for i, (t, b, c) in enumerate(rows, 1)
            ],
        )
    db.close()


def test_an_outbox_from_before_the_key_id_format_is_converted_not_lost(tmp_path: Path) -> None:
    pytest.importorskip("cryptography")
    from alpr.stream.keys import DataKeys, fingerprint

    key, path = os.urandom(32), tmp_path / "ob.db"
    rows = [(b"gate", b'{"n":%d}' % i, None if i % 2 else b"\xff\xd8crop%d" % i) for i in range(2500)]
    _legacy_outbox(path, key, rows)
    with pytest.raises(ConfigError, match="another key"):
        Outbox(path, key=os.urandom(32))  # nothing converted, nothing lost
    with pytest.raises(ConfigError, match="encrypted: pass its key"):
        Outbox(path)
    ob = Outbox(path, key=key)
    try:
        assert ob.last_seq == 2500 and [r[1:] for r in ob.read(1, 5000)[0]] == rows
    finally:
        ob.close()
    db = sqlite3.connect(path)
    body, crop = db.execute("SELECT body, crop FROM events WHERE seq = 1").fetchone()
    meta = {k for (k,) in db.execute("SELECT key FROM meta")}
    db.close()
    ring = DataKeys.single(key)
    assert DataKeys.key_id(body) == DataKeys.key_id(crop) == fingerprint(key) == ring.active
    assert ring.decrypt(crop, (1).to_bytes(8, "big") + b"c") == rows[0][2]  # the one shared format
    assert "key_check" not in meta and f"key_check.{ring.active}" in meta
    ob = Outbox(path, key=ring)  # converted once: a second open reads it as it is
    try:
        assert [r[1:] for r in ob.read(1, 5000)[0]] == rows
    finally:
        ob.close()


def test_outbox_key_rotation_keeps_held_events_readable(tmp_path: Path) -> None:
    pytest.importorskip("cryptography")
    from alpr.stream.keys import DataKeys

    path = tmp_path / "ob.db"
    old = DataKeys({"k1": os.urandom(32)}, "k1")
    new = old.with_new_key()
    assert new.active == "k2" and set(new.keys) == {"k1", "k2"}
    with closing(Outbox(path, key=old)) as ob:
        ob.append(_rows(3))
    with closing(Outbox(path, key=new)) as ob:
        ob.append(_rows(2))
        rows, _ = ob.read(1, 10)
        assert [r[2] for r in rows] == [r[1] for r in _rows(3) + _rows(2)]
    db = sqlite3.connect(path)
    assert [DataKeys.key_id(b) for (b,) in db.execute("SELECT body FROM events ORDER BY seq")] == [
        "k1", "k1", "k1", "k2", "k2",
    ]  # fmt: skip
    db.close()
    only_new = DataKeys({"k2": new.keys["k2"]}, "k2")
    with pytest.raises(ConfigError, match="sealed with key 'k1'"):
        Outbox(path, key=only_new)
    with closing(Outbox(path, key=new)) as ob:
        ob.ack("bridge", 5)  # drained: the old key may go
    with closing(Outbox(path, key=only_new)) as ob:
        assert ob.pending() == 0
        ob.append(_rows(1))
    with pytest.raises(ConfigError, match="another key"):
        Outbox(path, key=DataKeys({"k2": os.urandom(32)}, "k2"))  # same id, other key
