"""Typed pipeline configuration: one TOML file, validated with pydantic, with environment overrides.

Example ``alpr.toml``::

    [engine]
    backend = "onnxruntime"      # or "tensorrt", "openvino"
    intra_op_threads = 2

    [detector]
    model = "yolo11n-plates.onnx"  # omit for the bundled detector
    format = "yolov8"            # an Ultralytics YOLOv8/11 export
    conf_threshold = 0.3

    [ocr]
    model = "rec.onnx"
    format = "ppocr"
    dict_path = "ppocr_keys.txt"

    [regions]
    enabled = ["us", "eu", "br"]

Environment overrides: ``ALPR__<SECTION>__<KEY>=value`` (value parsed as JSON when it parses, else a
string), e.g. ``ALPR__DETECTOR__CONF_THRESHOLD=0.5`` or ``ALPR__REGIONS__ENABLED='["br"]'``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from alpr._compat import tomllib
from alpr.errors import ConfigError

__all__ = [
    "DetectorConfig",
    "EngineConfig",
    "OcrConfig",
    "PipelineConfig",
    "RegionsConfig",
    "TrackingConfig",
    "VerifyConfig",
    "load_config",
]


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EngineConfig(_Base):
    """Which runtime runs the models, and its options.

    ``allow_spinning``: let ONNX Runtime's worker threads busy-wait between operators (lower latency
    on an idle machine, but it steals the cores that decode video; off by default).
    """

    backend: Literal["onnxruntime", "tensorrt", "openvino"] = "onnxruntime"
    providers: list[str] | None = None
    intra_op_threads: int | None = Field(default=None, ge=1)
    inter_op_threads: int | None = Field(default=None, ge=1)
    allow_spinning: bool = False
    device: str = "CPU"
    precision: Literal["fp32", "fp16", "int8"] = "fp16"
    cache_dir: Path | None = None
    max_batch: int = Field(default=8, ge=1)
    workspace_mib: int = Field(default=1024, ge=64)
    calibration_images: Path | None = None
    calibration_batches: int = Field(default=16, ge=1)


class DetectorConfig(_Base):
    """The plate detector.

    ``format = "alpr"`` is the bundled model (plate box + 4 corners); ``"yolov8"`` is any Ultralytics
    YOLOv8/YOLO11 detection export (``plate_classes`` picks the classes that are plates).
    ``closeup_zoom``: where a plate covers much of the frame (or a small frame shows none), detect once
    more on the frame shrunk by this factor (1 = off), so close-ups read like plates at scene scale;
    ``merge_fragments``: join boxes that are pieces of one plate. ``variant``: which bundled file
    (``"fp32"``, ``"int8"``, ``"fp16"``); unset: FP32, or INT8 with ONNX Runtime on an ARM CPU.
    """

    model: Path | None = None
    variant: str | None = None
    format: Literal["alpr", "yolov8"] = "alpr"
    input_size: int | None = Field(default=None, ge=32)
    num_keypoints: int | None = Field(default=None, ge=0)
    plate_classes: list[int] | None = None
    conf_threshold: float = Field(default=0.35, ge=0.0, le=1.0)
    iou_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    max_det: int = Field(default=50, ge=1)
    min_size: float = Field(default=4.0, ge=0.0)
    closeup_zoom: float = Field(default=4.0, ge=1.0)
    merge_fragments: bool = True


class VerifyConfig(_Base):
    """The read verifier (:mod:`alpr.verify`): drops phantom plates such as timestamp overlays.

    ``use_model``: use the logistic verifier shipped with the bundled models (``models/manifest.json``);
    otherwise, or with your own OCR, ``min_score`` applies to the plate score: detector score x
    geometric mean of the character confidences (its square root when the text fits an enabled format).
    """

    enabled: bool = True
    use_model: bool = True
    min_chars: int = Field(default=4, ge=1)
    max_chars: int = Field(default=10, ge=1)
    max_digits: int = Field(default=8, ge=1)
    max_aspect: float = Field(default=8.0, gt=0.0)
    min_score: float = Field(default=0.1, ge=0.0, le=1.0)


class OcrConfig(_Base):
    """The plate recognizer.

    ``ctc``: the bundled model (or any CTC model with ``charset``); ``ppocr``: a PaddleOCR recognizer
    ONNX with its dictionary (``dict_path``); ``slot``: a fast-plate-ocr fixed-slot model with its
    ``alphabet`` and ``pad_char``. ``crop``: cut plates by their box or warp them by the detector's
    corners; ``box_pad``: grow boxes by this fraction of their size on each side before cropping;
    ``vote_pads``: also read each plate with these margins and vote (test-time augmentation: one OCR
    pass per margin, so ``[0.0, 0.12]`` triples the OCR cost; empty = one read).
    Unset values come from ``models/manifest.json`` (bundled model) or the model's input shape;
    ``variant`` as for the detector (unset: FP32, or INT8 with ONNX Runtime on an ARM CPU).
    """

    model: Path | None = None
    variant: str | None = None
    format: Literal["ctc", "ppocr", "slot"] = "ctc"
    charset: str | None = None
    dict_path: Path | None = None
    alphabet: str | None = None
    pad_char: str = "_"
    width: int | None = Field(default=None, ge=4)
    height: int | None = Field(default=None, ge=4)
    channels: Literal[1, 3] | None = None
    mean: float | None = None
    std: float | None = Field(default=None, gt=0)
    keep_aspect: bool | None = None
    crop: Literal["box", "corners"] | None = None
    box_pad: float | None = Field(default=None, ge=0.0, le=1.0)
    vote_pads: list[Annotated[float, Field(ge=0.0, le=1.0)]] = Field(default_factory=list, max_length=4)
    beam_width: int = Field(default=10, ge=1)
    min_confidence: float = Field(default=0.0, ge=0.0, le=1.0)


class RegionsConfig(_Base):
    """Plate formats used to constrain decoding and to flag reads.

    ``enabled``: region files (``"us"``, ``"eu"``, ``"br"``, ``"cn"``) or single format ids
    (``"us-ny"``, ``"br-mercosur"``); empty = no constraint. ``extra_files``: your own TOML/JSON
    format files. ``constrain``: let the formats re-rank the reads (constrained CTC beam search);
    ``require_match``: drop reads that match no format (removes timestamps and overlay text).
    Formats only ever re-rank, never force: the format's read replaces the model's own read only when
    it differs from it by at most two confusable swaps (O/0, I/1, B/8, S/5, Z/2, G/6) and is at least
    ``min_format_ratio`` times as likely; otherwise the read is kept as read (``region = None`` when
    it fits no format), so a hint never makes plates of an unlisted format (vanity plates) read worse.
    """

    enabled: list[str] = Field(default_factory=list)
    extra_files: list[Path] = Field(default_factory=list)
    constrain: bool = True
    min_format_ratio: float = Field(default=0.05, ge=0.0, le=1.0)
    require_match: bool = False


class TrackingConfig(_Base):
    """Tracker settings (times in seconds of capture time)."""

    iou_threshold: float = Field(default=0.2, ge=0.0, le=1.0)
    max_distance: float = Field(default=2.5, gt=0.0)
    max_age: float = Field(default=1.0, gt=0.0)
    min_hits: int = Field(default=2, ge=1)
    stable_hits: int = Field(default=5, ge=1)
    stable_confidence: float = Field(default=0.8, ge=0.0, le=1.0)
    dedup_window: float = Field(default=10.0, ge=0.0)
    text_similarity: float = Field(default=0.6, ge=0.0, le=1.0)


class PipelineConfig(_Base):
    """Everything :class:`alpr.Pipeline` needs."""

    engine: EngineConfig = Field(default_factory=EngineConfig)
    detector: DetectorConfig = Field(default_factory=DetectorConfig)
    ocr: OcrConfig = Field(default_factory=OcrConfig)
    regions: RegionsConfig = Field(default_factory=RegionsConfig)
    verify: VerifyConfig = Field(default_factory=VerifyConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    detect_stride: int = Field(default=3, ge=1)
    return_crops: bool = False


def _parse_env_value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def apply_env_overrides(data: dict[str, Any], environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Merge ``ALPR__SECTION__KEY`` variables into a config dict (returns a new dict)."""
    env = os.environ if environ is None else environ
    out: dict[str, Any] = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    for name, raw in env.items():
        if not name.startswith("ALPR__"):
            continue
        parts = [p.lower() for p in name[len("ALPR__") :].split("__") if p]
        if not parts:
            continue
        node = out
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[parts[-1]] = _parse_env_value(raw)
    return out


def _resolve_paths(data: dict[str, Any], base: Path) -> None:
    """Make relative model/dictionary paths relative to the config file's folder."""
    for section, keys in (
        ("detector", ("model",)),
        ("ocr", ("model", "dict_path")),
        ("engine", ("cache_dir", "calibration_images")),
    ):
        sec = data.get(section)
        if isinstance(sec, dict):
            for key in keys:
                val = sec.get(key)
                if isinstance(val, str) and val and not Path(val).is_absolute():
                    sec[key] = str(base / val)
    regions = data.get("regions")
    if isinstance(regions, dict) and isinstance(regions.get("extra_files"), list):
        regions["extra_files"] = [
            str(base / p) if isinstance(p, str) and not Path(p).is_absolute() else p
            for p in regions["extra_files"]
        ]


def load_config(
    path: str | Path | None = None, *, environ: Mapping[str, str] | None = None, **overrides: Any
) -> PipelineConfig:
    """Load and validate a TOML config; environment variables override the file.

    Args:
        path: TOML file, or ``None`` for the defaults.
        environ: Environment to read overrides from (default ``os.environ``).
        **overrides: Section dicts merged last (e.g. ``detector={"conf_threshold": 0.5}``).

    Raises:
        ConfigError: unreadable file, TOML syntax error, or a value that fails validation
            (the message names the field, what was expected and what was given).
    """
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"config file not found: {p}") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read config {p}: {exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{p}: invalid TOML: {exc}") from exc
        _resolve_paths(data, p.resolve().parent)
    data = apply_env_overrides(data, environ)
    for key, val in overrides.items():
        if isinstance(val, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **val}
        else:
            data[key] = val
    try:
        return PipelineConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(x) for x in err['loc'])}: {err['msg']} (got {err.get('input')!r})"
            for err in exc.errors()
        )
        where = f"{path}: " if path is not None else ""
        raise ConfigError(f"{where}invalid config: {problems}") from exc
