"""Recognizer stage: plate crops (Rust) -> OCR engine -> text with per-character confidences.

One :class:`Recognizer` protocol and three implementations: :class:`CtcRecognizer` (the bundled
CRNN / transformer OCR, CTC), :class:`PpOcrRecognizer` (PaddleOCR recognizers) and
:class:`SlotRecognizer` (fast-plate-ocr style fixed-slot models).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import numpy as np

from alpr import ops
from alpr._models import bundled
from alpr.config import CtcOcrConfig, EngineConfig, PipelineConfig, PpOcrConfig, SlotOcrConfig
from alpr.engines import Engine, create_engine
from alpr.errors import EngineError, ModelLoadError
from alpr.regions import RegionSet, confusable_variant
from alpr.timing import StageTimes
from alpr.types import plate_char

__all__ = [
    "CtcRecognizer",
    "OcrResult",
    "PpOcrRecognizer",
    "Recognizer",
    "SlotRecognizer",
    "build_recognizer",
    "vote",
]

_MAX_PATTERNS = 64


class OcrResult(NamedTuple):
    """One plate's read: letters/digits, one confidence per character, the plate format it fits."""

    text: str
    confidences: np.ndarray
    format: str | None


_DEFAULT_BOX_PAD = 0.05


class Recognizer(Protocol):
    """Reads the plates of a batch of frames: one :class:`OcrResult` per box."""

    times: StageTimes

    def recognize(
        self,
        frames: Sequence[np.ndarray],
        boxes: Sequence[np.ndarray],
        corners: Sequence[np.ndarray | None],
        regions: RegionSet | None,
    ) -> list[list[OcrResult]]:
        """Read the plates in ``boxes`` (with ``corners`` where the detector gave them) of each frame.

        Returns one list of :class:`OcrResult` per frame, one result per box; ``regions`` (when given)
        supplies the plate formats for decoding.
        """

    def close(self) -> None:
        """Release the engine."""


def _check_classes(engine: Engine, expected: int, what: str) -> None:
    """Compare the model's class count with the charset; a dynamic axis is probed with one dummy run."""
    classes = engine.outputs[0].fixed(-1)
    if classes is None:
        spec = engine.inputs[0]
        shape = [
            d if isinstance(d, int) and d > 0 else (1 if i == 0 else 32) for i, d in enumerate(spec.shape)
        ]
        if len(shape) == 4 and not (isinstance(spec.shape[3], int) and spec.shape[3] > 0) and shape[3] == 32:
            shape[3] = max(32, 4 * shape[2]) if shape[1] in (1, 3) else shape[3]
        dummy = np.zeros(shape, dtype=np.uint8 if spec.dtype == "uint8" else np.dtype(spec.dtype))
        try:
            classes = int(engine.infer({spec.name: dummy})[0].shape[-1])
        except Exception as exc:
            raise ModelLoadError(f"OCR model cannot run a {tuple(shape)} probe input: {exc}") from exc
    if classes != expected:
        raise ModelLoadError(f"OCR model outputs {classes} classes but the {what} implies {expected}")


@dataclass(frozen=True)
class CropSpec:
    """How a recognizer wants its plate crops.

    The model's input size, colour, normalisation ``(px / 255 - mean) / std``, layout and dtype, whether to
    warp by the detector's corners, and the margin added around a detector box (a share of its width /
    height).
    """

    height: int
    width: int
    gray: bool = False
    keep_aspect: bool = False
    mean: float = 0.5
    std: float = 0.5
    pad: float = 0.0
    layout: str = "nchw"
    dtype: type = np.float32
    use_corners: bool = False
    box_pad: float = 0.0
    bgr: bool = False

    def kernel_args(self) -> dict[str, Any]:
        """Keyword arguments of :func:`alpr.ops.crop_plates`."""
        return {
            "height": self.height,
            "width": self.width,
            "gray": self.gray,
            "keep_aspect": self.keep_aspect,
            "pad": self.pad,
            "mean": self.mean,
            "std": self.std,
            "layout": self.layout,
            "dtype": self.dtype,
        }


class _CropRecognizer:
    """Shared crop -> engine -> decode plumbing (OCR batched over every plate of every frame)."""

    max_batch = 64

    def __init__(self, engine: Engine, crop: CropSpec) -> None:
        self.engine = engine
        self.crop = crop
        self._input_name = engine.inputs[0].name
        self._fixed_batch = engine.inputs[0].fixed(0)
        self.times = StageTimes()

    vote_pads: tuple[float, ...] = ()
    """Extra box margins read for test-time voting (see :func:`vote`); empty = one read per plate."""

    def _crops(
        self, frame: np.ndarray, boxes: np.ndarray, corners: np.ndarray | None, pad: float | None = None
    ) -> np.ndarray:
        c = self.crop
        kw = c.kernel_args()
        if c.use_corners and corners is not None and corners.shape[0] == boxes.shape[0]:
            quads = np.ascontiguousarray(corners, np.float32)
            lo, hi = quads.min(axis=1), quads.max(axis=1)
            out = np.asarray(ops.crop_plates(frame, corners=quads, **kw))
            return self._shrink_large(out, frame, np.concatenate([lo, hi], axis=1), quads)
        b = np.asarray(boxes, dtype=np.float32)
        box_pad = c.box_pad if pad is None else pad
        if box_pad > 0 and len(b):
            wh = b[:, 2:] - b[:, :2]
            b = np.concatenate([b[:, :2] - wh * box_pad, b[:, 2:] + wh * box_pad], axis=1)
            h, w = frame.shape[:2]
            b[:, [0, 2]] = b[:, [0, 2]].clip(0, w)
            b[:, [1, 3]] = b[:, [1, 3]].clip(0, h)
        b = np.ascontiguousarray(b)
        return self._shrink_large(np.asarray(ops.crop_plates(frame, b, **kw)), frame, b, None)

    def _shrink_large(
        self, out: np.ndarray, frame: np.ndarray, boxes: np.ndarray, quads: np.ndarray | None
    ) -> np.ndarray:
        """Redo the crops of plates at least twice the OCR input size from an area-filtered copy.

        The native crop samples bilinearly, which is right near the OCR's own scale (scene-scale plates
        are 0.5-2x its input width) but aliases a close-up plate shrunk 4-10x (thin strokes vanish, B reads
        8). Such a plate's region is first shrunk by an integer factor with ``cv2.INTER_AREA`` (the
        average of each block), then cropped as usual.
        """
        c = self.crop
        wh = boxes[:, 2:] - boxes[:, :2]
        factor = np.floor(np.minimum(wh[:, 0] / c.width, wh[:, 1] / c.height))
        big = np.flatnonzero(factor >= 2)
        if len(big) == 0:
            return out
        import cv2

        h, w = frame.shape[:2]
        kw = c.kernel_args()
        for i in big:
            f = int(factor[i])
            x0, y0 = (int(max(0.0, v - 2 * f)) for v in boxes[i, :2])
            x1, y1 = int(min(w, boxes[i, 2] + 2 * f + 1)), int(min(h, boxes[i, 3] + 2 * f + 1))
            roi = frame[y0:y1, x0:x1]
            small: np.ndarray = np.asarray(
                cv2.resize(
                    roi, (max(1, (x1 - x0) // f), max(1, (y1 - y0) // f)), interpolation=cv2.INTER_AREA
                ),
                dtype=np.uint8,
            )
            sx, sy = small.shape[1] / (x1 - x0), small.shape[0] / (y1 - y0)
            scale = np.array([sx, sy], np.float32)
            origin = np.array([x0, y0], np.float32)
            if quads is not None:
                q = np.ascontiguousarray(((quads[i] - origin) * scale)[None], np.float32)
                out[i] = np.asarray(ops.crop_plates(small, corners=q, **kw))[0]
            else:
                bb = ((boxes[i].reshape(2, 2) - origin) * scale).reshape(1, 4)
                out[i] = np.asarray(ops.crop_plates(small, np.ascontiguousarray(bb, np.float32), **kw))[0]
        return out

    def _infer(self, batch: np.ndarray) -> np.ndarray:
        if self.crop.bgr:
            axis = 1 if self.crop.layout == "nchw" else 3
            batch = np.ascontiguousarray(np.flip(batch, axis=axis))
        outs = []
        step = 1 if self._fixed_batch == 1 else self.max_batch
        for i in range(0, len(batch), step):
            outs.append(self.engine.infer({self._input_name: batch[i : i + step]})[0])
        return np.concatenate(outs, axis=0) if len(outs) > 1 else outs[0]

    def _decode(
        self, probs: np.ndarray, regions: RegionSet | None
    ) -> list[OcrResult]:  # pragma: no cover - overridden
        raise NotImplementedError

    def recognize(
        self,
        frames: Sequence[np.ndarray],
        boxes: Sequence[np.ndarray],
        corners: Sequence[np.ndarray | None],
        regions: RegionSet | None,
    ) -> list[list[OcrResult]]:
        """OCR every box of every frame in one batch; returns per frame, per box ``(text, confs, format)``."""
        counts = [len(b) for b in boxes]
        if sum(counts) == 0:
            return [[] for _ in frames]
        pads: list[float | None] = [None, *self.vote_pads]
        with self.times.stage("ocr_pre"):
            parts = [
                self._crops(f, b, c, pad)
                for pad in pads
                for f, b, c in zip(frames, boxes, corners, strict=True)
                if len(b) > 0
            ]
            batch = np.concatenate(parts, axis=0) if len(parts) > 1 else parts[0]
        with self.times.stage("ocr_infer"):
            probs = self._infer(batch)
        with self.times.stage("ocr_post"):
            reads = self._decode(np.ascontiguousarray(probs, dtype=np.float32), regions)
            n_box = sum(counts)
            flat = (
                reads
                if len(pads) == 1
                else [vote([reads[k + i * n_box] for k in range(len(pads))]) for i in range(n_box)]
            )
        out: list[list[OcrResult]] = []
        k = 0
        for n in counts:
            out.append(flat[k : k + n])
            k += n
        return out

    def close(self) -> None:
        """Close the engine."""
        self.engine.close()


def vote(candidates: Sequence[OcrResult]) -> OcrResult:
    """Test-time voting over reads of one plate (crops with different margins).

    The text read most often wins; ties go to the text with the highest mean log character confidence. Returns
    that text's most confident read.
    """
    by_text: dict[str, list[OcrResult]] = {}
    for cand in candidates:
        by_text.setdefault(cand[0], []).append(cand)

    def quality(c: OcrResult) -> float:
        return float(np.log(np.clip(c[1], 1e-6, 1.0)).mean()) if len(c[1]) else -np.inf

    best = max(by_text.values(), key=lambda group: (len(group), max(quality(c) for c in group)))
    return max(best, key=quality)


def _resolved(reads: Sequence[tuple[str, np.ndarray]], regions: RegionSet | None) -> list[OcrResult]:
    """Cleaned reads of a model that knows no plate formats, settled against ``regions`` if given."""
    out = []
    for text, confs in reads:
        clean, cc = _clean(text, confs)
        region = None
        if regions is not None:
            clean, region = regions.resolve(clean)
        out.append(OcrResult(clean, cc, region))
    return out


def _clean(text: str, confs: np.ndarray) -> tuple[str, np.ndarray]:
    """Upper-case, keep letters/digits only (separators and spaces dropped) with their confidences."""
    keep = [i for i, ch in enumerate(text.upper()) if plate_char(ch)]
    up = text.upper()
    return "".join(up[i] for i in keep), np.asarray([float(confs[i]) for i in keep], dtype=np.float32)


class CtcRecognizer(_CropRecognizer):
    """CTC plate OCR (the bundled model): output float32 (N, T, len(charset)+1) softmax, blank 0.

    With plate formats configured, decoding is constrained to them (beam search in Rust), which also
    settles the confusable characters where a format decides.
    """

    def __init__(  # noqa: PLR0913 (keyword-only decoding options of OcrConfig)
        self,
        engine: Engine,
        charset: str,
        *,
        blank: int = 0,
        constrain: bool = True,
        beam_width: int = 10,
        logits: bool = False,
        min_format_ratio: float = 0.0,
        crop: CropSpec | None = None,
    ) -> None:
        super().__init__(engine, crop or CropSpec(height=32, width=128, box_pad=_DEFAULT_BOX_PAD))
        self.min_format_ratio = float(min_format_ratio)
        self.charset = charset
        self.blank = int(blank)
        self.constrain = constrain
        self.beam_width = int(beam_width)
        self.logits = logits
        _check_classes(engine, len(charset) + 1, f"charset ({len(charset)} characters + blank)")

    @classmethod
    def from_config(
        cls,
        cfg: CtcOcrConfig,
        engine_cfg: EngineConfig | None,
        constrain: bool,
        min_format_ratio: float = 0.0,
    ) -> CtcRecognizer:
        """The bundled OCR (or ``cfg.model`` with ``cfg.charset``)."""
        inp: dict[str, Any] = {}
        blank, charset = 0, cfg.charset
        if cfg.model is None:
            path, entry = bundled("ocr", cfg.variant, engine=engine_cfg, auto=True)
            inp, blank, charset = entry.input, int(entry.output.get("blank", 0)), charset or entry.charset
        else:
            path = Path(cfg.model)
        if not charset:
            raise ModelLoadError(f"OCR model {path}: no charset (set ocr.charset)")
        engine = create_engine(path, engine_cfg)
        spec = engine.inputs[0]
        channels = cfg.channels or spec.fixed(1) or int(inp.get("channels", 3))
        return cls(
            engine,
            charset,
            blank=blank,
            constrain=constrain,
            beam_width=cfg.beam_width,
            min_format_ratio=min_format_ratio,
            crop=CropSpec(
                height=cfg.height or spec.fixed(2) or int(inp.get("height", 32)),
                width=cfg.width or spec.fixed(3) or int(inp.get("width", 128)),
                gray=channels == 1,
                keep_aspect=cfg.keep_aspect
                if cfg.keep_aspect is not None
                else bool(inp.get("keep_aspect", False)),
                mean=cfg.mean if cfg.mean is not None else float(inp.get("mean", 0.5)),
                std=cfg.std if cfg.std is not None else float(inp.get("std", 0.5)),
                use_corners=(cfg.crop or str(inp.get("crop", "box"))) == "corners",
                # The OCR's training crops carry a margin around the plate (0-8 % by source); a detector
                # box is tight, so grow it a little unless the manifest or the config says otherwise.
                box_pad=cfg.box_pad
                if cfg.box_pad is not None
                else float(inp.get("box_pad", _DEFAULT_BOX_PAD)),
            ),
        )

    def _decode(self, probs: np.ndarray, regions: RegionSet | None) -> list[OcrResult]:
        if regions is not None and self.constrain and len(regions):
            pats = list(regions.patterns)
            best: list[tuple[str, np.ndarray, str | None, float]] = []
            # The native decoder takes at most 64 patterns: decode per group, keep the likeliest match.
            for start in range(0, len(pats), _MAX_PATTERNS):
                res = ops.ctc_decode_constrained(
                    probs,
                    self.charset,
                    pats[start : start + _MAX_PATTERNS],
                    self.blank,
                    beam_width=self.beam_width,
                    logits=self.logits,
                )
                for row, (t, c, idx) in enumerate(res):
                    owner = regions.owner(start + idx) if idx >= 0 else None
                    score = float(np.log(np.clip(c, 1e-9, 1.0)).sum()) if owner is not None else -np.inf
                    if row == len(best):
                        best.append((t, c, owner, score))
                    elif score > best[row][3]:
                        best[row] = (t, c, owner, score)
            # Formats only ever re-rank: the format's read replaces the free (greedy) read only where
            # it is the same text or differs from it by at most two confusable swaps (O/0, I/1, B/8...)
            # - a read that fits no format is kept as read, never forced into one (a region hint must
            # not make plates of an unlisted format, e.g. vanity plates, read worse).
            free = ops.ctc_decode(probs, self.charset, self.blank, logits=self.logits)
            floor = float(np.log(self.min_format_ratio)) if self.min_format_ratio > 0 else -np.inf
            out: list[OcrResult] = []
            for (t, c, o, score), (ft, fc) in zip(best, free, strict=True):
                free_score = float(np.log(np.clip(fc, 1e-9, 1.0)).sum())
                if o is not None and confusable_variant(ft, t) and score - free_score >= floor:
                    out.append(OcrResult(t, c, o))
                else:
                    out.append(OcrResult(ft, fc, regions.match(ft)))
            return out
        plain = ops.ctc_decode(probs, self.charset, self.blank, logits=self.logits)
        return [OcrResult(t, c, None) for t, c in plain]


class PpOcrRecognizer(_CropRecognizer):
    """A PaddleOCR (PP-OCR) recognizer ONNX with its dictionary file (one character per line).

    Input float32 (N, 3, 48, W) BGR, (px/255 - 0.5)/0.5, width padded with 0; output (N, T, len(dict)+2):
    blank first, then the dictionary, then the space character.
    """

    def __init__(
        self, engine: Engine, dictionary: Sequence[str], *, height: int = 48, width: int = 320
    ) -> None:
        super().__init__(engine, CropSpec(height=height, width=width, keep_aspect=True, bgr=True))
        chars = [c for c in dictionary]
        if any(len(c) != 1 for c in chars):
            raise ModelLoadError("PP-OCR dictionary: expected one character per line")
        self.charset = "".join(chars) + " "
        _check_classes(engine, len(self.charset) + 1, f"dictionary ({len(chars)} entries + space + blank)")

    @classmethod
    def from_config(cls, cfg: PpOcrConfig, engine_cfg: EngineConfig | None) -> PpOcrRecognizer:
        """A PP-OCR recognizer for ``cfg.model``.

        The dictionary comes from ``cfg.dict_path`` or, when that is unset, from the model's ``character``
        metadata (as in the ONNX files of the ``rapidocr`` wheel).

        Raises:
            ModelLoadError: the dictionary is missing or unreadable.
        """
        engine = create_engine(cfg.model, engine_cfg)
        if cfg.dict_path is not None:
            try:
                lines = Path(cfg.dict_path).read_text(encoding="utf-8").splitlines()
            except OSError as exc:
                raise ModelLoadError(f"cannot read PP-OCR dictionary {cfg.dict_path}: {exc}") from exc
        else:
            embedded = getattr(engine, "metadata", {}).get("character")
            if not embedded:
                raise ModelLoadError(f"{cfg.model} has no embedded dictionary: set ocr.dict_path")
            lines = embedded.splitlines()
        return cls(
            engine,
            [ln for ln in lines if ln != ""] if lines else [],
            height=cfg.height or 48,
            width=cfg.width or 320,
        )

    def _decode(self, probs: np.ndarray, regions: RegionSet | None) -> list[OcrResult]:
        return _resolved(ops.ctc_decode(probs, self.charset, 0), regions)


class SlotRecognizer(_CropRecognizer):
    """A fast-plate-ocr fixed-slot model: input uint8 (N, H, W, C); output (N, slots*len(alphabet)) probs."""

    def __init__(
        self,
        engine: Engine,
        alphabet: str,
        *,
        pad_char: str = "_",
        height: int = 70,
        width: int = 140,
        channels: int = 1,
    ) -> None:
        spec = CropSpec(
            height=height, width=width, gray=channels == 1, mean=0.0, std=1.0, layout="nhwc", dtype=np.uint8
        )
        super().__init__(engine, spec)
        if pad_char not in alphabet:
            raise ModelLoadError(f"slot OCR: pad_char {pad_char!r} is not in the alphabet {alphabet!r}")
        self.alphabet, self.pad_char = alphabet, pad_char
        out = engine.outputs[0]
        last = out.fixed(-1)
        if last is not None and last % len(alphabet) != 0:
            raise ModelLoadError(
                f"OCR model outputs {last} values per plate, "
                f"not a multiple of the alphabet size {len(alphabet)}"
            )

    @classmethod
    def from_config(cls, cfg: SlotOcrConfig, engine_cfg: EngineConfig | None) -> SlotRecognizer:
        """``cfg.model`` with ``cfg.alphabet`` (both required by :class:`~alpr.config.SlotOcrConfig`)."""
        engine = create_engine(cfg.model, engine_cfg)
        spec = engine.inputs[0]
        return cls(
            engine,
            cfg.alphabet,
            pad_char=cfg.pad_char,
            height=cfg.height or spec.fixed(1) or 70,
            width=cfg.width or spec.fixed(2) or 140,
            channels=cfg.channels or spec.fixed(3) or 1,
        )

    def _decode(self, probs: np.ndarray, regions: RegionSet | None) -> list[OcrResult]:
        n = len(self.alphabet)
        if probs.ndim == 2:
            if probs.shape[1] % n:
                raise EngineError(f"slot OCR output {probs.shape}: not a multiple of the alphabet size {n}")
            probs = probs.reshape(probs.shape[0], -1, n)
        if probs.shape[-1] != n:
            raise EngineError(f"slot OCR output {probs.shape}: last axis must be the alphabet size {n}")
        return _resolved(ops.slot_decode(np.ascontiguousarray(probs), self.alphabet, self.pad_char), regions)


def build_recognizer(cfg: PipelineConfig) -> Recognizer:
    """The recognizer ``cfg.ocr.format`` names, with ``cfg.ocr.vote_pads`` test-time voting."""
    rec: _CropRecognizer
    if isinstance(cfg.ocr, PpOcrConfig):
        rec = PpOcrRecognizer.from_config(cfg.ocr, cfg.engine)
    elif isinstance(cfg.ocr, SlotOcrConfig):
        rec = SlotRecognizer.from_config(cfg.ocr, cfg.engine)
    else:
        # The pipeline decides per call whether to constrain (it passes the formats or not).
        rec = CtcRecognizer.from_config(
            cfg.ocr, cfg.engine, constrain=True, min_format_ratio=cfg.regions.min_format_ratio
        )
    rec.vote_pads = tuple(cfg.ocr.vote_pads)
    return rec


def charset_of(recognizer: Recognizer) -> str | None:
    for attr in ("charset", "alphabet"):
        val = getattr(recognizer, attr, None)
        if isinstance(val, str):
            return val
    return None
