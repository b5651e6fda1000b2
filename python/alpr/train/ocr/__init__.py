"""The plate OCR: networks (:mod:`.model`: CRNN and the transformer PlateViT, CTC), data (:mod:`.data`:
label readers, crops, the batch sampler), training (:mod:`.train`), evaluation (:mod:`.eval`) and
export (:mod:`.export`: ONNX, FP16, INT8, the manifest entry).

Metrics (character accuracy, exact match, AUROC of the confidences) are in :mod:`alpr.train.metrics`.
"""

from __future__ import annotations

from alpr._lazy import lazy_getattr

# Names resolve lazily (PEP 562): importing a light submodule (the config, for the command line) must
# not import torch.
_EXPORTS = {
    "ARCHS": "alpr.train.ocr.model",
    "CHARSET": "alpr.train.ocr.model",
    "CRNN": "alpr.train.ocr.model",
    "OcrConfig": "alpr.train.ocr.model",
    "OcrModel": "alpr.train.ocr.model",
    "PlateViT": "alpr.train.ocr.model",
    "TrainOcrOptions": "alpr.train.ocr.train",
    "auroc": "alpr.train.metrics",
    "build_model": "alpr.train.ocr.model",
    "char_accuracy": "alpr.train.metrics",
    "ctc_loss": "alpr.train.ocr.train",
    "edit_distance": "alpr.train.metrics",
    "encode_texts": "alpr.train.ocr.train",
    "evaluate_reads": "alpr.train.metrics",
    "greedy_decode": "alpr.train.ocr.train",
    "init_from_onnx": "alpr.train.ocr.model",
    "load_model": "alpr.train.ocr.model",
    "predict_probs": "alpr.train.ocr.train",
    "train_ocr": "alpr.train.ocr.train",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr(__name__, _EXPORTS)
