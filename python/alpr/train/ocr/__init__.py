"""The plate OCR: networks, data, training, evaluation and export.

Networks: :mod:`.model` (CRNN and the transformer PlateViT, CTC); data: :mod:`.data` (label readers, crops,
the batch sampler); training: :mod:`.train`; evaluation: :mod:`.eval`; export: :mod:`.export` (ONNX, FP16,
INT8, the manifest entry).

Metrics (character accuracy, exact match, AUROC of the confidences) are in :mod:`alpr.train.metrics`.
"""

from __future__ import annotations

from alpr._lazy import by_module, lazy_getattr

# Names resolve lazily (PEP 562): importing a light submodule (the config, for the command line) must
# not import torch.
_EXPORTS = by_module(
    __name__,
    {
        ".model": "ARCHS CHARSET CRNN OcrConfig OcrModel PlateViT build_model init_from_onnx load_model",
        ".train": "TrainOcrOptions ctc_loss encode_texts greedy_decode predict_probs train_ocr",
        "alpr.train.metrics": "auroc char_accuracy edit_distance evaluate_reads",
    },
)
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr(__name__, _EXPORTS)
