"""Typed pipeline configuration: one TOML file and the environment, validated at load (pydantic-settings).

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

Priority: :func:`load_config`'s keyword overrides > ``ALPR__<SECTION>__<KEY>`` environment variables >
the file > the defaults, e.g. ``ALPR__DETECTOR__CONF_THRESHOLD=0.5`` or ``ALPR__REGIONS__ENABLED='["br"]'``;
the scheme, shared with the bridge (:mod:`alpr.bridge.config`), is described in the README's
"Configuration" section.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationInfo, field_validator

from alpr._settings import EnvSource, Settings, TomlSource, load_settings, read_toml

__all__ = [
    "CtcOcrConfig",
    "DetectorConfig",
    "EngineConfig",
    "OcrConfig",
    "PipelineConfig",
    "PpOcrConfig",
    "RegionsConfig",
    "SlotOcrConfig",
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
    ``closeup_zoom``: where a plate covers much of the frame (or a frame no larger than
    ``closeup_empty_max`` px shows none), detect once more on the frame shrunk by this factor (1 = off),
    so close-ups read like plates at scene scale (a plate-free frame of that size costs two detector
    passes; set ``closeup_empty_max`` lower for plate-free 720p streams);
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
    closeup_empty_max: int = Field(default=1280, ge=0)
    merge_fragments: bool = True


class VerifyConfig(_Base):
    """The read verifier (:mod:`alpr.verify`): drops phantom plates such as timestamp overlays.

    ``use_model``: use the logistic verifier shipped with the bundled models (``models/manifest.json``);
    otherwise, or with your own OCR, ``min_score`` applies to the plate score: detector score x
    geometric mean of the character confidences (its square root when the text fits an enabled format).
    ``cjk_needs_format``: a read with a Chinese character must fit a Chinese plate format (those plates
    follow one strict scheme; a province character before a read that fits none is a phantom or a misread).
    """

    enabled: bool = True
    cjk_needs_format: bool = True
    use_model: bool = True
    min_chars: int = Field(default=4, ge=1)
    max_chars: int = Field(default=10, ge=1)
    max_digits: int = Field(default=8, ge=1)
    max_aspect: float = Field(default=8.0, gt=0.0)
    min_score: float = Field(default=0.1, ge=0.0, le=1.0)


class _OcrCommon(_Base):
    """What every recognizer takes (see :data:`OcrConfig`)."""

    width: int | None = Field(default=None, ge=4)
    height: int | None = Field(default=None, ge=4)
    vote_pads: list[Annotated[float, Field(ge=0.0, le=1.0)]] = Field(default_factory=list, max_length=4)
    min_confidence: float = Field(default=0.0, ge=0.0, le=1.0)


class CtcOcrConfig(_OcrCommon):
    """``format = "ctc"``: the bundled model, or any CTC model ``model`` with its ``charset``.

    ``charset``: characters in class order, blank excluded. ``crop``: cut plates by their box or warp
    them by the detector's corners; ``box_pad``: grow boxes by this fraction of their size on each side
    before cropping. ``variant`` as for the detector (unset: FP32, or INT8 with ONNX Runtime on an ARM
    CPU).
    """

    format: Literal["ctc"] = "ctc"
    model: Path | None = None
    variant: str | None = None
    charset: str | None = Field(default=None, validate_default=True)
    channels: Literal[1, 3] | None = None
    mean: float | None = None
    std: float | None = Field(default=None, gt=0)
    keep_aspect: bool | None = None
    crop: Literal["box", "corners"] | None = None
    box_pad: float | None = Field(default=None, ge=0.0, le=1.0)
    beam_width: int = Field(default=10, ge=1)

    @field_validator("charset")
    @classmethod
    def _charset_with_model(cls, v: str | None, info: ValidationInfo) -> str | None:
        if not v and info.data.get("model") is not None:
            raise ValueError("required with ocr.model (the bundled charset fits only the bundled model)")
        return v


class PpOcrConfig(_OcrCommon):
    """``format = "ppocr"``: a PaddleOCR recognizer ONNX ``model``.

    Its dictionary comes from ``dict_path`` (one character per line) or, unset, from the model's
    metadata.
    """

    format: Literal["ppocr"]
    model: Path
    dict_path: Path | None = None


class SlotOcrConfig(_OcrCommon):
    """``format = "slot"``: a fast-plate-ocr fixed-slot ``model`` with its ``alphabet``.

    ``pad_char`` is the padding character, one of the alphabet's.
    """

    format: Literal["slot"]
    model: Path
    alphabet: str = Field(min_length=1)
    pad_char: str = Field(default="_", min_length=1, max_length=1, validate_default=True)
    channels: Literal[1, 3] | None = None

    @field_validator("pad_char")
    @classmethod
    def _pad_in_alphabet(cls, v: str, info: ValidationInfo) -> str:
        alphabet = info.data.get("alphabet")
        if alphabet is not None and v not in alphabet:
            raise ValueError(f"{v!r} is not in the alphabet {alphabet!r}")
        return v


def _ocr_format(value: Any) -> Any:
    # An [ocr] table without ``format`` is the default CTC one, as before the formats had own models.
    return value.get("format", "ctc") if isinstance(value, dict) else getattr(value, "format", None)


OcrConfig = Annotated[
    Annotated[CtcOcrConfig, Tag("ctc")]
    | Annotated[PpOcrConfig, Tag("ppocr")]
    | Annotated[SlotOcrConfig, Tag("slot")],
    Discriminator(
        _ocr_format, custom_error_type="ocr_format", custom_error_message="expected 'ctc', 'ppocr' or 'slot'"
    ),
]
"""The plate recognizer, one of three formats picked by ``format`` (default ``"ctc"``).

All take ``width`` / ``height`` (unset: from ``models/manifest.json`` for the bundled model, else the
model's input shape), ``min_confidence``, and ``vote_pads``: also read each plate with these margins
and vote (test-time augmentation: one OCR pass per margin, so ``[0.0, 0.12]`` triples the OCR cost;
empty = one read). A key that the chosen format does not take is an error, as is a missing one
(``ppocr`` and ``slot`` need ``model``, ``slot`` its ``alphabet``).
"""

_OCR_FORMATS = frozenset({"ctc", "ppocr", "slot"})


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


class PipelineConfig(Settings):
    """Everything :class:`alpr.Pipeline` needs: the ``alpr.toml`` document (sections as above).

    ``PipelineConfig(...)`` takes exactly the values given; :func:`load_config` adds a TOML file and
    the ``ALPR__*`` environment.
    """

    engine: EngineConfig = Field(default_factory=EngineConfig)
    detector: DetectorConfig = Field(default_factory=DetectorConfig)
    ocr: OcrConfig = Field(default_factory=CtcOcrConfig)
    regions: RegionsConfig = Field(default_factory=RegionsConfig)
    verify: VerifyConfig = Field(default_factory=VerifyConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    detect_stride: int = Field(default=3, ge=1)
    return_crops: bool = False


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
    """Load and validate a TOML config: ``overrides`` > ``ALPR__*`` environment > the file > defaults.

    Args:
        path: TOML file (relative paths in it are relative to its folder), or ``None`` for the defaults.
        environ: Environment to read ``ALPR__<SECTION>__<KEY>`` variables from (default ``os.environ``).
        **overrides: Sections or values, merged key by key over the rest (e.g.
            ``detector={"conf_threshold": 0.5}`` keeps the file's ``detector.model``).

    Raises:
        ConfigError: unreadable file, TOML syntax error, unknown key, or a value that fails validation
            (the message names the key, what was expected and what was given).
    """
    data: dict[str, Any] = {}
    if path is not None:
        data = read_toml(path)
        _resolve_paths(data, Path(path).resolve().parent)
    return load_settings(
        PipelineConfig,
        overrides,
        EnvSource(PipelineConfig, environ),
        TomlSource(PipelineConfig, data),
        where=f"{path}: invalid config" if path is not None else "invalid config",
        drop_loc=_OCR_FORMATS,
    )
