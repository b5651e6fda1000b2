# Hand-written stub of the Rust extension alpr._native; checked by `python -m mypy.stubtest alpr._native`.
# Each section is owned by one Rust module (rust/py/src/image.rs, rust/py/src/post.rs).

from collections.abc import Sequence
from typing import ClassVar, final

import numpy as np
import numpy.typing as npt

__version__: str

# pyo3 fills the module's __all__; each section appends its own names.
__all__ = ["__version__"]

# --- image: frame intake, letterbox, crops (rust/py/src/image.rs) ---

__all__ += [
    "LetterboxInfo",
    "crop_plates",
    "decode_jpeg",
    "letterbox",
    "letterbox_batch",
    "letterbox_jpeg",
    "letterbox_raw",
    "raw_to_bgr",
]

_Buffer = bytes | bytearray | memoryview | npt.NDArray[np.uint8]
_FloatTensor = npt.NDArray[np.float32] | npt.NDArray[np.float16]

@final
class LetterboxInfo:
    def __new__(
        cls,
        scale: float,
        pad_x: float,
        pad_y: float,
        src_width: int,
        src_height: int,
        width: int,
        height: int,
    ) -> LetterboxInfo: ...
    @property
    def scale(self) -> float: ...
    @property
    def pad_x(self) -> float: ...
    @property
    def pad_y(self) -> float: ...
    @property
    def pad(self) -> tuple[float, float]: ...
    @property
    def src_width(self) -> int: ...
    @property
    def src_height(self) -> int: ...
    @property
    def width(self) -> int: ...
    @property
    def height(self) -> int: ...
    def unmap_boxes(self, boxes: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]: ...
    def map_boxes(self, boxes: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]: ...
    def unmap_points(self, points: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __ne__(self, value: object, /) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

def letterbox(
    frame: npt.NDArray[np.uint8],
    width: int,
    height: int,
    input_order: str,
    pad_value: float,
    scale: float,
    dtype: str,
    out: _FloatTensor | None = None,
) -> tuple[_FloatTensor, LetterboxInfo]: ...
def letterbox_batch(
    frames: Sequence[npt.NDArray[np.uint8]],
    width: int,
    height: int,
    input_order: str,
    pad_value: float,
    scale: float,
    dtype: str,
    out: _FloatTensor | None = None,
) -> tuple[_FloatTensor, list[LetterboxInfo]]: ...
def letterbox_raw(
    data: _Buffer,
    src_width: int,
    src_height: int,
    fmt: str,
    stride: int | None,
    width: int,
    height: int,
    pad_value: float,
    scale: float,
    dtype: str,
    out: _FloatTensor | None = None,
) -> tuple[_FloatTensor, LetterboxInfo]: ...
def letterbox_jpeg(
    data: _Buffer,
    width: int,
    height: int,
    pad_value: float,
    scale: float,
    dtype: str,
    out: _FloatTensor | None = None,
) -> tuple[_FloatTensor, LetterboxInfo]: ...
def decode_jpeg(data: _Buffer) -> npt.NDArray[np.uint8]: ...
def raw_to_bgr(
    data: _Buffer, width: int, height: int, fmt: str, stride: int | None = None
) -> npt.NDArray[np.uint8]: ...
def crop_plates(
    frame: npt.NDArray[np.uint8],
    boxes: npt.NDArray[np.float32] | None,
    corners: npt.NDArray[np.float32] | None,
    height: int,
    width: int,
    gray: bool,
    keep_aspect: bool,
    pad: float,
    mean: Sequence[float],
    std: Sequence[float],
    layout: str,
    dtype: str,
) -> npt.NDArray[np.float32] | npt.NDArray[np.float16] | npt.NDArray[np.uint8]: ...

# --- post: detector decoding, NMS, CTC (rust/py/src/post.rs) ---

__all__ += [
    "ctc_decode",
    "ctc_decode_constrained",
    "decode_yolo",
    "nms",
    "parse_pattern",
    "postprocess_yolo",
    "slot_decode",
]

def nms(
    boxes: npt.NDArray[np.float32],
    scores: npt.NDArray[np.float32],
    iou_threshold: float,
    class_ids: npt.NDArray[np.int64] | None = None,
    max_det: int | None = None,
) -> npt.NDArray[np.int64]: ...
def decode_yolo(
    output: npt.NDArray[np.float32] | npt.NDArray[np.float16],
    num_classes: int,
    score_threshold: float,
    num_keypoints: int = 0,
    keypoint_dim: int = 2,
) -> tuple[
    npt.NDArray[np.float32], npt.NDArray[np.float32], npt.NDArray[np.int64], npt.NDArray[np.float32]
]: ...
def postprocess_yolo(
    output: npt.NDArray[np.float32] | npt.NDArray[np.float16],
    num_classes: int,
    conf_threshold: float,
    iou_threshold: float,
    max_det: int,
    num_keypoints: int = 0,
    keypoint_dim: int = 2,
    agnostic: bool = True,
    unletterbox: tuple[float, float, float, float, float] | None = None,
) -> tuple[
    npt.NDArray[np.float32], npt.NDArray[np.float32], npt.NDArray[np.int64], npt.NDArray[np.float32]
]: ...
def ctc_decode(
    probs: npt.NDArray[np.float32],
    charset: str | Sequence[str],
    blank: int = 0,
    method: str = "greedy",
    beam_width: int = 10,
    logits: bool = False,
) -> list[tuple[str, npt.NDArray[np.float32]]]: ...
def ctc_decode_constrained(
    probs: npt.NDArray[np.float32],
    charset: str | Sequence[str],
    patterns: Sequence[str],
    blank: int = 0,
    beam_width: int = 10,
    logits: bool = False,
) -> list[tuple[str, npt.NDArray[np.float32], int]]: ...
def parse_pattern(pattern: str) -> list[list[tuple[str, str]]]: ...
def slot_decode(
    probs: npt.NDArray[np.float32],
    alphabet: str | Sequence[str],
    pad_char: str = "_",
    logits: bool = False,
) -> list[tuple[str, npt.NDArray[np.float32]]]: ...
