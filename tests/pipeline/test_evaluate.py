from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from alpr.errors import SourceError
from alpr.evaluate import evaluate, format_table, normalize, read_openalpr
from alpr.types import PlateRead


def _dataset(root: Path) -> Path:
    for region, name, line in [
        ("us", "car1.jpg", "car1.jpg\t10\t20\t40\t10\tabc-123"),
        ("us", "car2.jpg", "car2.jpg\t0\t0\t10\t10\tXYZ99\ncar2.jpg\t50\t50\t10\t10\tQQQ11"),
        ("br", "car3.jpg", "car3.png\t5\t5\t20\t8\tBRA2E19"),  # label names .png; image is .jpg
        ("eu", "gone.jpg", "missing.jpg 1 1 2 2 X"),
    ]:
        d = root / region
        d.mkdir(parents=True, exist_ok=True)
        if name != "gone.jpg":
            cv2.imwrite(str(d / name), np.zeros((100, 100, 3), np.uint8))
        (d / (Path(name).stem + ".txt")).write_text(line + "\nbad line\n")
    return root


def test_read_openalpr(tmp_path: Path) -> None:
    samples = read_openalpr(_dataset(tmp_path))
    assert [(s.region, s.image.name, len(s.plates)) for s in samples] == [
        ("br", "car3.jpg", 1),
        ("us", "car1.jpg", 1),
        ("us", "car2.jpg", 2),
    ]
    assert samples[1].plates[0].box == (10, 20, 50, 30) and samples[1].plates[0].text == "ABC123"
    with pytest.raises(SourceError):
        read_openalpr(tmp_path / "nothing")


def test_evaluate_criteria(tmp_path: Path) -> None:
    samples = read_openalpr(_dataset(tmp_path))
    answers = {
        "car1.jpg": [
            PlateRead("ABC123", 0.9, (0.9,) * 6, (11, 20, 50, 31)),
            PlateRead("ABC128", 0.5, (0.5,) * 6, (10, 20, 50, 30)),
        ],
        "car2.jpg": [PlateRead("XYZ98", 0.8, (0.8,) * 5, (0, 0, 10, 10))],  # found, misread; QQQ11 missed
        "car3.jpg": [PlateRead("BRA2E19", 0.8, (0.8,) * 7, (60, 60, 80, 70))],  # no overlap
    }
    calls = iter(samples)

    def fake(img: np.ndarray) -> list[PlateRead]:
        return answers[next(calls).image.name]

    scores = evaluate(fake, samples)
    assert (scores["us"].plates, scores["us"].found, scores["us"].read) == (3, 2, 1)
    assert (scores["br"].found, scores["br"].read) == (0, 0)
    assert (scores["all"].plates, scores["all"].read) == (4, 1)
    assert scores["all"].read_rate == pytest.approx(0.25)
    table = format_table(scores)
    assert "us" in table and "0.667" in table
    assert normalize("ab-12 3") == "AB123" and normalize("ab-12 3é") == "AB123É"  # one normaliser, any script


def test_region_totals_sum_every_count() -> None:
    from alpr.evaluate import RegionScore

    a = RegionScore(images=2, plates=3, found=2, read=1, extra=4, ms=[1.0], misreads=[("a", "X", "Y")])
    b = RegionScore(images=1, plates=1, found=1, read=1, extra=1, ms=[3.0])
    t = RegionScore.total([a, b])
    assert (t.images, t.plates, t.found, t.read, t.extra) == (3, 4, 3, 2, 5)
    assert t.ms == [1.0, 3.0] and t.misreads == [("a", "X", "Y")]
    assert t.extra_per_image == pytest.approx(5 / 3)
    assert a.ms == [1.0]  # the parts are left as they were
