"""ocrq's computing core: configs, data, models, training, compression, export, evaluation.

Importing this package is cheap: heavy libraries (torch, onnxruntime, optuna) are imported by the
submodules that need them, so `pipeline.config` can be read by the CLI and the TUI without torch.
"""
