"""The CTC head: class 0 is the blank, greedy or prefix-beam decoding, loss over the real frames."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from pipeline.models.heads.base import RecognizerHead, register_head
from pipeline.models.heads.ctc_decoding import decode_batch
from pipeline.models.heads.losses import ctc_loss, frame_lengths

# Share of a line's frames that are blank when it is read right: at the models' strides a letter spans
# about four frames, one or two of them its own. The head starts there instead of at a uniform guess.
BLANK_PRIOR = 0.8


def output_layer(model: Any) -> nn.Linear:
    """The linear layer that gives a recognizer its per-frame class scores (the last one in its head)."""
    return [module for module in model.head.modules() if isinstance(module, nn.Linear)][-1]


class CtcHead(RecognizerHead):
    """Connectionist temporal classification over the frames of a line."""

    kind = "ctc"

    def initialize(self, model: Any) -> None:
        """Start the output layer at the blank prior: blank at BLANK_PRIOR, the rest sharing what is left.

        From uniform scores a CTC model first spends hundreds of steps learning that most frames are blank,
        then sits on an all-blank plateau. Starting at the prior (as detection heads start at their class
        prior) shortens both: on quickstart's lines the training loss passed 2.0 about 230 steps earlier
        (bench/ctc_start_bench.py).
        """
        output = output_layer(model)
        others = output.out_features - 1
        with torch.no_grad():
            output.bias.zero_()
            output.bias[0] = math.log(BLANK_PRIOR * others / (1.0 - BLANK_PRIOR))

    def output_lengths(self, model: Any, widths: torch.Tensor, frames: int) -> torch.Tensor:
        return frame_lengths(model, widths, frames)

    def loss(self, logits, targets, target_lengths, output_lengths) -> torch.Tensor:
        return ctc_loss(logits, targets, target_lengths, output_lengths)

    def decode(self, lines: list[torch.Tensor], charset: Any, *, method: str, beam_width: int) -> list[str]:
        return [decode_batch(line[None], charset, method=method, beam_width=beam_width)[0] for line in lines]


CTC = register_head(CtcHead())
