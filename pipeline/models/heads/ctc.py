"""The CTC head: class 0 is the blank, greedy or prefix-beam decoding, loss over the real frames."""

from __future__ import annotations

from typing import Any

import torch

from pipeline.models.heads.base import RecognizerHead, register_head
from pipeline.models.heads.ctc_decoding import decode_batch
from pipeline.models.heads.losses import ctc_loss, frame_lengths


class CtcHead(RecognizerHead):
    """Connectionist temporal classification over the frames of a line."""

    kind = "ctc"

    def output_lengths(self, model: Any, widths: torch.Tensor, frames: int) -> torch.Tensor:
        return frame_lengths(model, widths, frames)

    def loss(self, logits, targets, target_lengths, output_lengths) -> torch.Tensor:
        return ctc_loss(logits, targets, target_lengths, output_lengths)

    def decode(self, lines: list[torch.Tensor], charset: Any, *, method: str, beam_width: int) -> list[str]:
        return [decode_batch(line[None], charset, method=method, beam_width=beam_width)[0] for line in lines]


CTC = register_head(CtcHead())
