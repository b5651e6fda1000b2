"""The C consumer in examples/c builds against libzmq and reads the stream: replay, then live."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from alpr.stream import PlateEvent, Publisher

SOURCE = Path(__file__).resolve().parents[3] / "examples" / "c" / "alpr_consumer.c"


@pytest.fixture(scope="module")
def consumer_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None or not Path("/usr/include/zmq.h").exists():
        pytest.skip("needs a C compiler and libzmq3-dev (scripts/system-deps.sh installs them)")
    out = tmp_path_factory.mktemp("c") / "alpr_consumer"
    subprocess.run(
        [cc, "-O2", "-Wall", "-Wextra", "-Werror", "-std=c11", "-o", str(out), str(SOURCE), "-lzmq"],
        check=True,
        capture_output=True,
    )
    return out


def test_c_consumer_replays_then_follows_live(
    consumer_binary: Path, endpoint: str, event_factory: Callable[..., PlateEvent], tiny_jpeg: bytes
) -> None:
    events = [event_factory(i, ["cam1", "cam2"][i % 2]) for i in range(30)]
    crops = [tiny_jpeg if i % 3 == 0 else None for i in range(30)]
    with Publisher(endpoint, heartbeat_s=0.05) as pub:
        pub.publish_many(list(zip(events[:20], crops[:20], strict=True)))  # before the consumer exists
        proc = subprocess.Popen(
            [str(consumer_binary), pub.endpoint, "30"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            lines = [proc.stdout.readline() for _ in range(20)]
            pub.publish_many(list(zip(events[20:], crops[20:], strict=True)))  # live
            out, err = proc.communicate(timeout=20)
        finally:
            proc.kill()
    lines += out.splitlines()
    assert proc.returncode == 0, err
    rows = [line.rstrip("\n").split("\t") for line in lines]
    assert [int(r[0]) for r in rows] == list(range(1, 31))
    assert [PlateEvent.from_json(r[1]) for r in rows] == events
    assert [int(r[2]) for r in rows] == [0 if c is None else len(c) for c in crops]
    assert "replay channel" in err
