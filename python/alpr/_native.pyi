# Hand-written stub of the Rust extension alpr._native; checked by `python -m mypy.stubtest alpr._native`.
# Each section is owned by one Rust module (rust/py/src/image.rs, rust/py/src/post.rs).

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__version__: str

# --- image: frame intake, letterbox, crops (rust/py/src/image.rs) ---

# --- post: detector decoding, NMS, CTC (rust/py/src/post.rs) ---

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
def slot_decode(
    probs: npt.NDArray[np.float32],
    alphabet: str | Sequence[str],
    pad_char: str = "_",
    logits: bool = False,
) -> list[tuple[str, npt.NDArray[np.float32]]]: ...
