"""A plain Python/OpenCV implementation of the pipeline's pre/post-processing: what a user would write
around the same ONNX models without alpr's Rust kernels (cv2.resize/copyMakeBorder letterbox, NumPy YOLO
decoding with cv2.dnn.NMSBoxes, cv2.warpPerspective / resize crops, NumPy greedy CTC).

Used by benches/test_bench_pipeline.py as the baseline, with the same engines and the same frame stride.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np


@dataclass(frozen=True)
class Info:
    scale: float
    pad_x: float
    pad_y: float
    src_width: int
    src_height: int


@dataclass(frozen=True)
class Dets:
    boxes: np.ndarray
    scores: np.ndarray
    keypoints: np.ndarray


def letterbox(frame: np.ndarray, size: int) -> tuple[np.ndarray, Info]:
    h, w = frame.shape[:2]
    r = min(size / h, size / w)
    nw, nh = round(w * r), round(h * r)
    dw, dh = (size - nw) / 2, (size - nh) / 2
    img = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_LINEAR) if (nw, nh) != (w, h) else frame
    top, bottom = round(dh - 0.1), round(dh + 0.1)
    left, right = round(dw - 0.1), round(dw + 0.1)
    img = cv2.copyMakeBorder(img, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(114, 114, 114))
    blob = cv2.dnn.blobFromImage(img, 1 / 255.0, swapRB=True)
    return blob, Info(r, left, top, w, h)


def postprocess(out: np.ndarray, info: Info, conf: float, iou: float, nk: int) -> Dets:
    pred = out.T  # (A, C)
    scores = pred[:, 4]
    keep = scores >= conf
    pred, scores = pred[keep], scores[keep]
    if not len(pred):
        return Dets(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, nk, 2), np.float32))
    cx, cy, bw, bh = pred[:, 0], pred[:, 1], pred[:, 2], pred[:, 3]
    xywh = np.stack([cx - bw / 2, cy - bh / 2, bw, bh], axis=1)
    idx = cv2.dnn.NMSBoxes(xywh.tolist(), scores.tolist(), conf, iou)
    idx = np.asarray(idx, dtype=np.int64).reshape(-1)
    boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)[idx]
    kps = pred[idx, 5 : 5 + 2 * nk].reshape(-1, nk, 2)
    boxes = (boxes - [info.pad_x, info.pad_y, info.pad_x, info.pad_y]) / info.scale
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, info.src_width)
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, info.src_height)
    kps = (kps - [info.pad_x, info.pad_y]) / info.scale
    return Dets(boxes.astype(np.float32), scores[idx].astype(np.float32), kps.astype(np.float32))


def crop(
    frame: np.ndarray,
    boxes: np.ndarray,
    corners: np.ndarray | None,
    h: int,
    w: int,
    mean: float,
    std: float,
    gray: bool,
) -> np.ndarray:
    out = []
    dst = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    for i, b in enumerate(boxes):
        if corners is not None:
            m = cv2.getPerspectiveTransform(corners[i].astype(np.float32), dst)
            c = cv2.warpPerspective(frame, m, (w, h), flags=cv2.INTER_LINEAR)
        else:
            x1, y1, x2, y2 = (int(v) for v in b)
            c = cv2.resize(frame[y1 : max(y2, y1 + 1), x1 : max(x2, x1 + 1)], (w, h))
        c = cv2.cvtColor(c, cv2.COLOR_BGR2GRAY)[..., None] if gray else cv2.cvtColor(c, cv2.COLOR_BGR2RGB)
        out.append(((c.astype(np.float32) / 255.0 - mean) / std).transpose(2, 0, 1))
    return np.stack(out)


def ctc_greedy(probs: np.ndarray, charset: str) -> list[tuple[str, np.ndarray]]:
    res = []
    for row in probs:
        best = row.argmax(1)
        conf = row.max(1)
        text, confs, prev = [], [], 0
        for k, c in zip(best, conf, strict=True):
            if k != 0 and k != prev:
                text.append(charset[k - 1])
                confs.append(c)
            prev = k
        res.append(("".join(text), np.asarray(confs, np.float32)))
    return res


class BaselinePipeline:
    """Same models, plain cv2/NumPy pre/post, no batching across frames, no threads."""

    def __init__(
        self,
        det_engine: Any,
        ocr_engine: Any,
        *,
        det_size: int,
        ocr_hw: tuple[int, int],
        charset: str,
        mean: float,
        std: float,
        gray: bool,
        use_corners: bool,
        conf: float = 0.35,
        iou: float = 0.5,
        nk: int = 4,
    ) -> None:
        self.det, self.ocr = det_engine, ocr_engine
        self.det_size, self.ocr_hw, self.charset = det_size, ocr_hw, charset
        self.mean, self.std, self.gray, self.use_corners = mean, std, gray, use_corners
        self.conf, self.iou, self.nk = conf, iou, nk

    def __call__(
        self, frame: np.ndarray, times: dict[str, float] | None = None
    ) -> list[tuple[str, float, np.ndarray]]:
        import time

        t = times if times is not None else {}
        t0 = time.perf_counter()
        blob, info = letterbox(frame, self.det_size)
        t1 = time.perf_counter()
        out = self.det.infer(blob)[0][0]
        t2 = time.perf_counter()
        d = postprocess(out, info, self.conf, self.iou, self.nk)
        t3 = time.perf_counter()
        t["det_pre"] = t.get("det_pre", 0) + t1 - t0
        t["det_infer"] = t.get("det_infer", 0) + t2 - t1
        t["det_post"] = t.get("det_post", 0) + t3 - t2
        if not len(d.boxes):
            return []
        crops = crop(
            frame,
            d.boxes,
            d.keypoints if self.use_corners else None,
            *self.ocr_hw,
            self.mean,
            self.std,
            self.gray,
        )
        t4 = time.perf_counter()
        probs = self.ocr.infer(crops)[0]
        t5 = time.perf_counter()
        texts = ctc_greedy(probs, self.charset)
        t6 = time.perf_counter()
        t["ocr_pre"] = t.get("ocr_pre", 0) + t4 - t3
        t["ocr_infer"] = t.get("ocr_infer", 0) + t5 - t4
        t["ocr_post"] = t.get("ocr_post", 0) + t6 - t5
        return [(s, float(c.min()) if len(c) else 0.0, b) for (s, c), b in zip(texts, d.boxes, strict=True)]
