"""The interface every recognizer head implements, and the registry that finds a model's head.

A recognizer's network ends in per-frame scores (B, T, C). What those scores mean is the head's business:
how they are trained (loss), how many frames of a line are real (output lengths), how they become text
(decode), what an ONNX export calls them, and what fidelity compares between FP32 and a variant.
Training, evaluation, pruning, distillation and deployment ask the model's head (`head_of(model)`) and
assume nothing else, so a new head is added in one place: a subclass registered here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


class RecognizerHead:
    """How one kind of head turns per-frame scores into a loss, text and deployable outputs.

    Attributes:
        kind: The name models carry in `head_kind`.
        onnx_output: Name of the scores in an ONNX export (input is always `images`).
    """

    kind: str = ""
    onnx_output: str = "logits"

    def output_lengths(self, model: Any, widths: torch.Tensor, frames: int) -> torch.Tensor:
        """Frames each line really has (padding excluded), at most `frames`."""
        raise NotImplementedError

    def loss(
        self,
        logits: torch.Tensor,
        targets: torch.Tensor,
        target_lengths: torch.Tensor,
        output_lengths: torch.Tensor,
    ) -> torch.Tensor:
        """Mean training loss per line; `targets` are class ids, concatenated (`target_lengths` each)."""
        raise NotImplementedError

    def decode(self, lines: list[torch.Tensor], charset: Any, *, method: str, beam_width: int) -> list[str]:
        """Text of each line from its (T_i, C) scores, padding frames already cut off."""
        raise NotImplementedError

    def initialize(self, model: Any) -> None:
        """Give a freshly built model's output layer its starting scores; by default PyTorch's init stands."""

    def fidelity_inputs(self, lines: list[torch.Tensor]) -> list[np.ndarray]:
        """What output fidelity compares between FP32 and a variant: by default each line's scores."""
        return [line.numpy() for line in lines]

    def onnx_dynamic_axes(self) -> dict[int, str]:
        """Dynamic axes of `onnx_output`."""
        return {0: "batch", 1: "frames"}


_HEADS: dict[str, RecognizerHead] = {}


def register_head(head: RecognizerHead) -> RecognizerHead:
    """Make `head` the one for models whose `head_kind` is `head.kind`."""
    if not head.kind:
        raise ValueError("a head needs a kind")
    _HEADS[head.kind] = head
    return head


def head_of(model: Any) -> RecognizerHead:
    """The head of a recognizer (a torch module, an ONNX Runtime session wrapper, a quantized copy).

    Raises:
        ValueError: for a head kind nothing registered.
    """
    kind = getattr(model, "head_kind", "ctc")
    if kind not in _HEADS:
        raise ValueError(
            f"recognizer head {kind!r} is not registered; known heads: {', '.join(sorted(_HEADS))}"
        )
    return _HEADS[kind]
