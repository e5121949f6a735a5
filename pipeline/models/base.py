"""The `Recognizer` base class every ocrq text-line model subclasses.

A recognizer maps grey line images (B, 1, H, W) to per-frame CTC logits (B, T, num_classes), class 0
being the blank. It is a plain `nn.Module` made of three named parts, `backbone` -> `neck` -> `head`,
so that pruning can treat them differently; training, losses and decoding live elsewhere.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def check_choice(name: str, value: Any, allowed_text: str, ok: bool) -> None:
    """Raise the project's one-line `ValueError` for a bad model argument."""
    if not ok:
        raise ValueError(f"{name}={value!r} is out of range; allowed {allowed_text}")


def check_positive_ints(name: str, values: Any, length: int | None = None) -> tuple[int, ...]:
    """Validate a tuple of positive integers (optionally of a given length) and return it as a tuple."""
    items = tuple(values) if isinstance(values, list | tuple) else (values,)
    good = all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in items)
    if length is not None:
        good = good and len(items) == length
    shape = f"{length} positive integers" if length is not None else "positive integers"
    check_choice(name, values, shape, good and bool(items))
    return items


class Recognizer(nn.Module):
    """Base of all CTC text-line recognizers.

    Subclasses build `self.backbone`, `self.neck` and `self.head` and implement `output_length`.

    Attributes:
        family: Model family name ("crnn", "vit", "svtr").
        model_name: Registered name the model was created under (set by `create_model`).
        num_classes: Output classes including the CTC blank (class 0).
        image_height: The only input height the model accepts.
        width_multiple: Input widths must be multiples of this.
        hparams: Architecture arguments; with `model_name`, `num_classes` and `image_height` they
            form `config()`.
    """

    family: str = ""
    # which `pipeline.models.heads` head reads the per-frame scores (loss, decoding, ONNX outputs)
    head_kind: str = "ctc"

    def __init__(self, *, num_classes: int, image_height: int, width_multiple: int) -> None:
        super().__init__()
        check_choice(
            "num_classes",
            num_classes,
            ">= 2 (blank + at least one character)",
            isinstance(num_classes, int) and num_classes >= 2,
        )
        self.num_classes = num_classes
        self.image_height = image_height
        self.width_multiple = width_multiple
        self.model_name = ""
        self.hparams: dict[str, Any] = {}

    def parts(self) -> dict[str, nn.Module]:
        """The three named parts, in forward order."""
        return {"backbone": self.backbone, "neck": self.neck, "head": self.head}

    def config(self) -> dict[str, Any]:
        """Everything `create_model(**config)` needs to rebuild this architecture (JSON-native)."""
        hparams = {k: list(v) if isinstance(v, tuple) else v for k, v in self.hparams.items()}
        return {
            "name": self.model_name,
            "num_classes": self.num_classes,
            "image_height": self.image_height,
            **hparams,
        }

    def check_width(self, width: int) -> None:
        """Raise `ValueError` unless `width` is a positive multiple of `width_multiple`."""
        if width <= 0 or width % self.width_multiple:
            raise ValueError(
                f"image width {width} is not allowed; use a positive multiple of {self.width_multiple}"
            )

    def output_length(self, width: int) -> int:
        """Number of output frames T for an input of this width.

        Raises:
            ValueError: if the width is not a positive multiple of `width_multiple`.
        """
        raise NotImplementedError

    def _check_input(self, images: torch.Tensor) -> None:
        if images.dim() != 4 or images.shape[1] != 1 or images.shape[2] != self.image_height:
            raise ValueError(
                f"images must be (B, 1, {self.image_height}, W) for {self.model_name or self.family}; "
                f"got {tuple(images.shape)}"
            )
        self.check_width(images.shape[3])

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Per-frame logits (B, T, num_classes) for images (B, 1, image_height, W) in [0, 1]."""
        # Python-side shape checks would be frozen into a traced graph or guard a symbolic width.
        if not (torch.jit.is_tracing() or torch.compiler.is_compiling()):
            self._check_input(images)
        return self.head(self.neck(self.backbone(images)))
