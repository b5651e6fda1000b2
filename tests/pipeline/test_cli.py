from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from alpr.cli import main
from netutil import free_port


def test_read_json_and_table(models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for i in range(2):
        cv2.imwrite(str(tmp_path / f"car{i}.png"), np.zeros((480, 640, 3), np.uint8))
    assert main(["read", "--json", str(tmp_path / "car0.png"), str(tmp_path / "car1.png")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    obj = json.loads(lines[0])
    assert obj["image"].endswith("car0.png") and obj["plates"][0]["plate"] == "ABC1234"
    assert obj["plates"][0]["box"] == pytest.approx([220, 200, 420, 280], abs=1)
    assert main(["read", "--no-progress", str(tmp_path)]) == 0
    assert capsys.readouterr().out.count("ABC1234") == 2


def test_read_bad_input_is_one_line(
    models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"nope")
    assert main(["read", str(bad)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("alpr:") and "cannot decode" in err and "Traceback" not in err
    assert main(["read", str(tmp_path / "missing.jpg")]) == 1
    assert capsys.readouterr().err.strip().count("\n") == 0


def test_bad_model_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "m.toml"
    (tmp_path / "det.onnx").write_bytes(b"corrupt")
    bad.write_text('[detector]\nmodel = "det.onnx"\n')
    img = tmp_path / "a.png"
    cv2.imwrite(str(img), np.zeros((8, 8, 3), np.uint8))
    assert main(["read", "--config", str(bad), str(img)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("alpr: error: cannot load ONNX model") and err.count("\n") == 1


def test_run_json_events(models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    video = tmp_path / "cam.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"MJPG"), 25.0, (128, 96))
    for _ in range(20):
        writer.write(np.zeros((96, 128, 3), np.uint8))
    writer.release()
    out_video = tmp_path / "out.mp4"
    rc = main(
        ["run", "--json", "--no-progress", "--camera", "gate", "--save-video", str(out_video), str(video)]
    )
    assert rc == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.strip().splitlines()]
    assert len(lines) == 1
    ev = lines[0]
    assert ev["plate"] == "ABC1234" and ev["camera"] == "gate"
    assert {"confidence", "first_seen", "last_seen", "box", "track_id"} <= set(ev)
    assert ev["first_seen"] < ev["last_seen"]
    cap = cv2.VideoCapture(str(out_video))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 20
    cap.release()


def test_run_missing_source_other_sources_continue(
    models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    video = tmp_path / "ok.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"MJPG"), 25.0, (64, 64))
    for _ in range(6):
        writer.write(np.zeros((64, 64, 3), np.uint8))
    writer.release()
    rc = main(["run", "--json", "--no-progress", str(tmp_path / "gone.mp4"), str(video)])
    captured = capsys.readouterr()
    assert rc == 1 and "no such video file" in captured.err
    assert json.loads(captured.out.strip())["camera"] == "ok"


def test_eval_command(models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = tmp_path / "bench" / "br"
    d.mkdir(parents=True)
    cv2.imwrite(str(d / "ABC1234.jpg"), np.zeros((64, 64, 3), np.uint8))
    (d / "ABC1234.txt").write_text("ABC1234.jpg\t22\t28\t20\t8\tABC1234\n")
    cv2.imwrite(str(d / "XYZ9999.jpg"), np.zeros((64, 64, 3), np.uint8))
    (d / "XYZ9999.txt").write_text("XYZ9999.jpg\t22\t28\t20\t8\tXYZ9999\n")
    assert main(["eval", "--json", str(tmp_path / "bench")]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["br"]["plates"] == 2 and res["br"]["found"] == 2 and res["br"]["read"] == 1


def test_bench_command(models_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--frames", "6", "--stride", "2", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["frames"] == 6 and res["detected_frames"] == 3 and res["fps"] > 0
    assert {"det_pre", "det_infer", "ocr_infer", "track"} <= set(res["ms_per_frame"])


def test_help_is_fast_and_light() -> None:
    code = (
        "import sys; from alpr.cli import build_parser; build_parser(); print('onnxruntime' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert main([]) == 2


def test_run_publish_streams_events(
    models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Events go through alpr.stream.Publisher; its durable outbox (what subscribers replay from) holds
    the event and the best crop as JPEG."""
    import sqlite3

    from alpr.stream import PlateEvent

    port = free_port()
    video = tmp_path / "cam.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"MJPG"), 25.0, (128, 96))
    for _ in range(30):
        writer.write(np.zeros((96, 128, 3), np.uint8))
    writer.release()
    outbox = tmp_path / "o.db"
    args = ["run", "--json", "--no-progress", "--camera", "lane1", "--stride", "1"]
    rc = main([*args, "--publish", f"tcp://127.0.0.1:{port}", "--outbox", str(outbox), str(video)])
    assert rc == 0
    with sqlite3.connect(outbox) as db:
        rows = db.execute("SELECT topic, body, crop FROM events").fetchall()
    assert len(rows) == 1
    topic, body, crop = rows[0]
    ev = PlateEvent.from_json(bytes(body))
    assert bytes(topic) == b"lane1" and ev.plate == "ABC1234" and ev.camera == "lane1"
    assert ev.first_seen is not None and ev.track_id is not None
    assert crop is not None and bytes(crop)[:2] == b"\xff\xd8"
    assert json.loads(capsys.readouterr().out.strip())["plate"] == "ABC1234"


def test_eval_gt_boxes(models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = tmp_path / "bench" / "us"
    d.mkdir(parents=True)
    cv2.imwrite(str(d / "a.jpg"), np.zeros((100, 200, 3), np.uint8))
    (d / "a.txt").write_text("a.jpg\t150\t10\t100\t30\tABC1234\na.jpg\t0\t0\t20\t10\tZZZ\n")
    assert main(["eval", "--json", "--gt-boxes", str(tmp_path / "bench")]) == 0
    res = json.loads(capsys.readouterr().out)
    # OCR-only: both boxes are read (the constant OCR says ABC1234 for each), the box past the edge is clipped
    assert res["us"]["plates"] == 2 and res["us"]["found"] == 2 and res["us"]["read"] == 1


def test_eval_per_region_constrains_each_folder(
    models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for region in ("br", "us"):
        d = tmp_path / "bench" / region
        d.mkdir(parents=True)
        cv2.imwrite(str(d / "a.jpg"), np.zeros((64, 64, 3), np.uint8))
        (d / "a.txt").write_text("a.jpg\t22\t28\t20\t8\tABC1234\n")
    assert main(["eval", "--json", "--regions", "us-ca", str(tmp_path / "bench")]) == 0
    hinted = json.loads(capsys.readouterr().out)
    # A hint only re-ranks: ABC1234 fits no California format and is not forced into 9LLL999.
    assert hinted["br"]["read"] == 1 and hinted["us"]["read"] == 1
    assert main(["eval", "--json", "--per-region", "--regions", "us-ca", str(tmp_path / "bench")]) == 0
    per = json.loads(capsys.readouterr().out)
    # br folder: Brazilian formats allow ABC1234; us folder: all US formats (LLL9999 is one) allow it too
    assert per["br"]["read"] == 1 and per["us"]["read"] == 1 and per["all"]["plates"] == 2
    assert per["all"]["extra"] == per["br"]["extra"] + per["us"]["extra"]


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith("alpr ")


def test_read_empty_folder_is_an_error(
    models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()
    assert main(["read", str(tmp_path / "empty")]) == 1
    assert "no images found" in capsys.readouterr().err


def test_read_json_reports_undecodable_files(
    models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cv2.imwrite(str(tmp_path / "good.jpg"), np.zeros((64, 64, 3), np.uint8))
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8not a jpeg")
    assert main(["read", "--json", str(tmp_path)]) == 1  # a bad file makes the exit status 1
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    by_name = {Path(x["image"]).name: x for x in lines}
    assert set(by_name) == {"good.jpg", "bad.jpg"}
    assert "error" in by_name["bad.jpg"] and by_name["bad.jpg"]["plates"] == []
    assert [p["plate"] for p in by_name["good.jpg"]["plates"]] == ["ABC1234"]


def test_run_and_bench_fail_on_corrupt_or_empty_input(
    models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8not a jpeg")
    (tmp_path / "empty").mkdir()
    assert main(["run", "--json", "--no-progress", str(tmp_path / "bad.jpg")]) == 1
    assert "undecodable" in capsys.readouterr().err
    assert main(["run", "--json", "--no-progress", str(tmp_path / "empty")]) == 1
    assert main(["bench", str(tmp_path / "bad.jpg"), "--frames", "3"]) == 1


def test_run_on_a_folder_of_stills_gives_one_event_per_photo(
    models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A folder of photos is not a video: each photo's plate is its own event (12 photos used to come
    out as 2 "vehicles" with texts mixed across plates)."""
    for i in range(5):
        cv2.imwrite(str(tmp_path / f"p{i}.jpg"), np.full((64, 64, 3), 10 * i, np.uint8))
    assert main(["run", "--json", "--no-progress", str(tmp_path)]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.strip().splitlines()]
    assert len(lines) == 5 and {ev["plate"] for ev in lines} == {"ABC1234"}
    assert len({ev["track_id"] for ev in lines}) == 5
