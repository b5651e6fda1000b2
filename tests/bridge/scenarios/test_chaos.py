"""Chaos while events flow: PostgreSQL killed mid-stream, the bridge process SIGKILLed mid-stream, the
disk full under SQLite (a file-size limit, and a real small tmpfs filled to the last byte).

The guarantee under test (README, "Delivery guarantee"): every event a publisher accepted is stored,
at least once on the wire and exactly once in the store (the store is idempotent by ``event_id`` and the
bridge acknowledges only what it has committed).
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from alpr.bridge.config import BridgeConfig
from alpr.bridge.crypto import Keyring
from alpr.bridge.service import Bridge
from alpr.bridge.store import Store
from alpr.stream import Publisher
from alpr.stream.events import PlateEvent
from netutil import free_port_pair, serve_command

pytestmark = [pytest.mark.services, pytest.mark.timeout(180)]


def _event(i: int) -> PlateEvent:
    return PlateEvent.create(camera="gate", plate=f"CH{i:04d}", confidence=0.9, box=(1, 1, 20, 8))


def _wait(pred: Any, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return bool(pred())


def _publish_steadily(pub: Publisher, events: list[PlateEvent], every_s: float) -> threading.Thread:
    def run() -> None:
        for e in events:
            pub.publish(e)
            time.sleep(every_s)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def _stored(store: Store) -> list[str]:
    rows, _ = store.query_reads(limit=10_000)
    return [r["event_id"] for r in rows]


def test_postgres_killed_mid_stream_loses_nothing_and_stores_once(
    private_postgres: Any, tmp_path: Path, keyring: Keyring
) -> None:
    pg = private_postgres
    ep = f"tcp://127.0.0.1:{free_port_pair()}"
    cfg = BridgeConfig(db=pg.new_database(), zmq=[ep], batch_size=16)
    events = [_event(i) for i in range(300)]
    with Publisher(ep, outbox=tmp_path / "outbox.db") as pub:
        bridge = Bridge(cfg, keyring)
        bridge.start()
        try:
            sender = _publish_steadily(pub, events, 0.01)
            assert _wait(lambda: bridge.store.stats()["reads"] >= 60), "nothing stored before the kill"
            pg.kill()  # mid-stream: open connections are cut, commits in flight fail
            time.sleep(1.5)  # events keep coming while the database is down
            pg.start()
            sender.join(30)
            assert _wait(lambda: bridge.store.stats()["reads"] == len(events)), bridge.store.stats()
            time.sleep(1.0)  # replays of what was in flight must not add rows
            ids = _stored(bridge.store)
            assert len(ids) == len(events) and set(ids) == {e.event_id for e in events}
        finally:
            bridge.stop()


def _reads(db: str, keyring: Keyring) -> list[str] | None:
    """The stored event ids, read by a separate store handle (None while the bridge is still creating it)."""
    try:
        store = Store(db, keyring)
    except Exception:
        return None
    try:
        return _stored(store)
    finally:
        store.close()


def _serve(db: str, key_file: Path, ep: str, log: Path) -> subprocess.Popen[bytes]:
    cmd = serve_command(db, key_file, "--zmq", ep)
    # stderr through a pipe that this process copies into `log`: the child's own file-size limit (the
    # disk-full test) must not stop its log lines.
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def pump() -> None:
        assert proc.stderr is not None
        with proc.stderr, log.open("ab") as out:
            for line in proc.stderr:
                out.write(line)
                out.flush()

    threading.Thread(target=pump, daemon=True).start()
    return proc


def _assert_stored_once(db: str, keyring: Keyring, events: list[PlateEvent], log: Path) -> None:
    """Every event arrives, and replays of what was in flight add no row."""
    done = _wait(lambda: len(_reads(db, keyring) or []) >= len(events))
    assert done, (len(_reads(db, keyring) or []), log.read_text())
    time.sleep(1.0)
    ids = _reads(db, keyring) or []
    assert len(ids) == len(events) and set(ids) == {e.event_id for e in events}


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_bridge_process_killed_mid_stream_loses_nothing(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, key_file: Path, keyring: Keyring
) -> None:
    db = (
        f"sqlite:///{tmp_path / 'chaos.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("postgres").new_database()
    )
    ep = f"tcp://127.0.0.1:{free_port_pair()}"
    events = [_event(i) for i in range(300)]
    log = tmp_path / "serve.log"
    with Publisher(ep, outbox=tmp_path / "outbox.db") as pub:
        proc = _serve(db, key_file, ep, log)
        try:
            sender = _publish_steadily(pub, events, 0.01)
            assert _wait(lambda: len(_reads(db, keyring) or []) >= 60), log.read_text()
            proc.send_signal(signal.SIGKILL)  # no shutdown, no final ack, no close
            proc.wait(10)
            time.sleep(0.5)
            proc = _serve(db, key_file, ep, log)
            sender.join(30)
            _assert_stored_once(db, keyring, events, log)
        finally:
            _stop(proc)


def test_disk_full_under_sqlite_holds_events_and_recovers(
    tmp_path: Path, key_file: Path, keyring: Keyring
) -> None:
    """The disk fills while events arrive (the serve process may not grow any file: RLIMIT_FSIZE set
    with prlimit, which is what a full disk looks like to SQLite): the bridge stays up, says so in its
    log, acknowledges nothing it could not store; once there is room again every event is stored once
    and the database passes an integrity check."""
    import resource
    import sqlite3

    db_path = tmp_path / "full.db"
    db = f"sqlite:///{db_path}"
    ep = f"tcp://127.0.0.1:{free_port_pair()}"
    events = [_event(i) for i in range(300)]
    log = tmp_path / "serve.log"
    with Publisher(ep, outbox=tmp_path / "outbox.db") as pub:
        proc = _serve(db, key_file, ep, log)
        try:
            for e in events[:50]:
                pub.publish(e)
            assert _wait(lambda: len(_reads(db, keyring) or []) == 50), log.read_text()
            # No write past the first byte of any file: with WAL the log file is reused from its start
            # after a checkpoint, so a limit at today's sizes would not always stop a commit.
            unlimited = resource.RLIM_INFINITY  # the hard limit stays: lowering it could not be undone
            resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (1, unlimited))  # disk full
            for e in events[50:]:
                pub.publish(e)
            assert _wait(lambda: "store write failed" in log.read_text(), 30), log.read_text()
            held = len(_reads(db, keyring) or [])
            assert held < len(events) and proc.poll() is None
            resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (unlimited, unlimited))  # room again
            _assert_stored_once(db, keyring, events, log)
        finally:
            _stop(proc)
    with sqlite3.connect(db_path) as c:
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


@pytest.fixture
def small_disk(tmp_path: Path) -> Any:
    """A real 8 MiB tmpfs (needs root, as in CI; skipped where mounting is not allowed)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", str(mnt)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(path: Path) -> None:
    """Write ``path`` until the file system is full."""
    block = b"\0" * 65536
    with path.open("wb", buffering=0) as f:
        try:
            while True:
                f.write(block)
        except OSError:
            pass


def test_real_small_disk_filled_under_sqlite_holds_events_and_recovers(
    small_disk: Path, tmp_path: Path, key_file: Path, keyring: Keyring
) -> None:
    """The same on a real file system: the database sits on an 8 MiB tmpfs that another file fills to
    the last byte while events with crops keep arriving. The bridge stays up and reports the failure,
    acknowledges nothing it could not store; once the filler is deleted every event is stored once and
    the database passes an integrity check."""
    import sqlite3

    import cv2
    import numpy as np

    noise = np.random.default_rng(0).integers(0, 256, (160, 160, 3), dtype=np.uint8)
    ok, enc = cv2.imencode(".jpg", noise, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    crop = enc.tobytes()  # ~50 KB that does not compress: the store must grow to hold it
    db_path = small_disk / "full.db"
    db = f"sqlite:///{db_path}"
    ep = f"tcp://127.0.0.1:{free_port_pair()}"
    events = [_event(i) for i in range(140)]
    log = tmp_path / "serve.log"
    filler = small_disk / "filler"
    with Publisher(ep, outbox=tmp_path / "outbox.db") as pub:
        proc = _serve(db, key_file, ep, log)
        try:
            for e in events[:20]:
                pub.publish(e, crop)
            assert _wait(lambda: len(_reads(db, keyring) or []) == 20), log.read_text()
            _fill(filler)  # disk full
            for e in events[20:]:
                pub.publish(e, crop)
            assert _wait(lambda: "store write failed" in log.read_text(), 60), log.read_text()
            held = len(_reads(db, keyring) or [])
            assert held < len(events) and proc.poll() is None
            filler.unlink()  # room again
            _assert_stored_once(db, keyring, events, log)
        finally:
            _stop(proc)
    with sqlite3.connect(db_path) as c:
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
