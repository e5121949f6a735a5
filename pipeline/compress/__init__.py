"""Compression as torch transforms: PTQ and QAT (torchao), pruning, distillation, sensitivity scans.

May import core, config, data, models, evaluation and training; never ONNX or ONNX Runtime (that is `deploy`)."""
