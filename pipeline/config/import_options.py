"""The choices of `ocrq import` that the CLI and the TUI's launch form (import mode) share.

Torch-free, so the TUI checks an import launch with the same lists and messages before starting it; what
needs the model itself (its input, its classes) is checked by `ocrq import` when it runs.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.config.fields import ConfigError

NORMALIZE_CHOICES = ("paddle", "imagenet", "zero_one", "minus_one_one")


def check_import_options(model: str, data: str, normalize: str = "paddle") -> None:
    """ConfigError naming the argument and what is allowed when the file, the data or a choice is wrong."""
    path = Path(model).expanduser()
    if not model.strip():
        raise ConfigError("model: give the path of an ONNX file")
    if not path.is_file():
        raise ConfigError(f"model '{model}' is not a file; give the path of an ONNX file")
    if path.suffix.lower() != ".onnx":
        raise ConfigError(f"model '{model}' is not an .onnx file; export the recognizer to ONNX first")
    if data != "synthetic" and not Path(data).expanduser().exists():
        raise ConfigError(
            f"--data '{data}' does not exist; give a label file (path<TAB>label), a folder holding one, "
            "or 'synthetic'"
        )
    if normalize not in NORMALIZE_CHOICES:
        raise ConfigError(f"--normalize '{normalize}' is not known; allowed {', '.join(NORMALIZE_CHOICES)}")
