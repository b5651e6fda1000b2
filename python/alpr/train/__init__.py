"""Training, evaluation and export of alpr's own models (extra ``alpr-engine[train]``).

Everything under :mod:`alpr.train` may import torch; ``import alpr`` never imports this package.
Modules: :mod:`~alpr.train.common` (shared utilities), :mod:`~alpr.train.synth` (synthetic plates),
:mod:`~alpr.train.augment`, :mod:`~alpr.train.ocr_data`, :mod:`~alpr.train.ocr` (CRNN + CTC),
:mod:`~alpr.train.export`, :mod:`~alpr.train.quantize`, :mod:`~alpr.train.plots` and
:mod:`~alpr.train.cli` (the ``alpr train`` / ``alpr export`` commands; TensorRT engines are built by
:mod:`alpr.engines.tensorrt`, ``alpr export tensorrt``).
"""
