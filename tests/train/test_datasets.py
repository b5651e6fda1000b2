"""Annotation readers: YOLO txt, Pascal VOC xml, COCO json and CCPD file names, on tiny generated files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from alpr.train.datasets import (
    CCPD_ADS,
    CCPD_PROVINCES,
    box_corners,
    parse_ccpd_name,
    read_coco,
    read_voc,
    read_yolo,
    read_yolo_manifest,
)


def test_read_yolo_converts_normalised_centres_to_pixel_xyxy(tmp_path: Path) -> None:
    label = tmp_path / "a.txt"
    label.write_text("0 0.5 0.25 0.2 0.1\n\n0 0.1 0.9 0.1 0.2 0.99\n", encoding="utf-8")
    ann = read_yolo(label, 200, 100, image="a.jpg")
    np.testing.assert_allclose(ann.boxes, [[80, 20, 120, 30], [10, 80, 30, 100]], atol=1e-4)
    assert ann.boxes.dtype == np.float32
    assert (ann.width, ann.height, ann.image) == (200, 100, "a.jpg")


def test_read_yolo_missing_file_is_background_and_bad_line_is_an_error(tmp_path: Path) -> None:
    assert read_yolo(tmp_path / "none.txt", 10, 10).boxes.shape == (0, 4)
    bad = tmp_path / "bad.txt"
    bad.write_text("0 0.5 x 0.2 0.1\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.txt:1"):
        read_yolo(bad, 10, 10)
    short = tmp_path / "short.txt"
    short.write_text("0 0.5 0.5\n", encoding="utf-8")
    with pytest.raises(ValueError, match="5 columns"):
        read_yolo(short, 10, 10)
    with pytest.raises(ValueError, match="positive"):
        read_yolo(bad, 0, 10)


def test_read_yolo_manifest_filters_split_and_finds_labels(tmp_path: Path) -> None:
    (tmp_path / "images" / "src").mkdir(parents=True)
    (tmp_path / "labels" / "src").mkdir(parents=True)
    (tmp_path / "labels" / "src" / "x.txt").write_text("0 0.5 0.5 0.5 0.5\n", encoding="utf-8")
    (tmp_path / "manifest.csv").write_text(
        "source,image,width,height,n_plates,split\n"
        "src,images/src/x.jpg,40,20,1,train\n"
        "src,images/src/y.jpg,40,20,0,valid\n",
        encoding="utf-8",
    )
    train = read_yolo_manifest(tmp_path, "train")
    assert len(train) == 1 and train[0].split == "train"
    np.testing.assert_allclose(train[0].boxes, [[10, 5, 30, 15]])
    assert len(read_yolo_manifest(tmp_path)) == 2


def test_read_voc_parses_boxes_and_filters_names(tmp_path: Path) -> None:
    xml = tmp_path / "a.xml"
    xml.write_text(
        "<annotation><filename>a.jpg</filename><size><width>320</width><height>240</height></size>"
        "<object><name>plate</name><bndbox><xmin>10</xmin><ymin>20</ymin><xmax>50</xmax><ymax>35.5</ymax>"
        "</bndbox></object><object><name>car</name><bndbox><xmin>0</xmin><ymin>0</ymin><xmax>5</xmax>"
        "<ymax>5</ymax></bndbox></object></annotation>",
        encoding="utf-8",
    )
    ann = read_voc(xml, names=["plate"])
    np.testing.assert_allclose(ann.boxes, [[10, 20, 50, 35.5]])
    assert (ann.width, ann.height) == (320, 240)
    assert ann.image.endswith("a.jpg")
    assert read_voc(xml).boxes.shape == (2, 4)
    broken = tmp_path / "b.xml"
    broken.write_text("<annotation><object>", encoding="utf-8")
    with pytest.raises(ValueError, match="parse error"):
        read_voc(broken)


def test_read_coco_converts_xywh_and_keypoints(tmp_path: Path) -> None:
    data = {
        "images": [
            {"id": 1, "file_name": "a.jpg", "width": 100, "height": 80},
            {"id": 2, "file_name": "b.jpg"},
        ],
        "categories": [{"id": 3, "name": "plate"}, {"id": 4, "name": "car"}],
        "annotations": [
            {
                "image_id": 1,
                "category_id": 3,
                "bbox": [10, 20, 30, 8],
                "keypoints": [10, 20, 2, 40, 20, 2, 40, 28, 2, 10, 28, 2],
            },
            {"image_id": 1, "category_id": 4, "bbox": [0, 0, 50, 50]},
        ],
    }
    path = tmp_path / "coco.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    anns = read_coco(path, category="plate")
    assert len(anns) == 2
    np.testing.assert_allclose(anns[0].boxes, [[10, 20, 40, 28]])
    assert anns[0].corners is not None
    np.testing.assert_allclose(anns[0].corners, box_corners(anns[0].boxes))
    assert anns[1].boxes.shape == (0, 4)
    assert read_coco(path)[0].boxes.shape == (2, 4)
    (tmp_path / "bad.json").write_text("[]", encoding="utf-8")
    with pytest.raises(ValueError, match="COCO"):
        read_coco(tmp_path / "bad.json")


def test_parse_ccpd_name_decodes_box_corners_and_text() -> None:
    name = "025-95_113-154&383_386&473-386&473_177&454_154&383_363&402-0_0_22_27_27_33_16-37-15.jpg"
    ann = parse_ccpd_name(name)
    np.testing.assert_allclose(ann.boxes, [[154, 383, 386, 473]])
    assert ann.corners is not None
    # CCPD lists BR, BL, TL, TR; the reader gives TL, TR, BR, BL.
    np.testing.assert_allclose(ann.corners[0], [[154, 383], [363, 402], [386, 473], [177, 454]])
    assert ann.texts == (
        CCPD_PROVINCES[0] + "A" + CCPD_ADS[22] + CCPD_ADS[27] * 2 + CCPD_ADS[33] + CCPD_ADS[16],
    )
    assert ann.texts[0][1:] == "AY339S"


@pytest.mark.parametrize(
    "name", ["a-b.jpg", "0-0-1&2_3-1&1_2&2_3&3_4&4-0_0_1.jpg", "0-0-1&2_3&4-1&1-0_0.jpg"]
)
def test_parse_ccpd_name_rejects_malformed(name: str) -> None:
    with pytest.raises(ValueError, match="CCPD"):
        parse_ccpd_name(name)


def test_box_corners_order() -> None:
    c = box_corners(np.asarray([[1, 2, 5, 7]], np.float32))
    np.testing.assert_array_equal(c[0], [[1, 2], [5, 2], [5, 7], [1, 7]])
