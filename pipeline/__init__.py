"""ocrq's computing core: configs, data, models, training, compression, export, evaluation.

Importing this package is cheap: heavy libraries (torch, onnxruntime, optuna) are imported by the
submodules that need them, so `pipeline.config` can be read by the CLI and the TUI without torch.
"""

import logging

# torchao registers enums with torch's pytree on import and torch warns about it on every run: noise
# a user can do nothing about.
logging.getLogger("torch.utils._pytree").setLevel(logging.ERROR)
