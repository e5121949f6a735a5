"""Loss terms shared by baseline training, QAT and finetuning."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def frame_lengths(model: torch.nn.Module, widths: torch.Tensor, frames: int) -> torch.Tensor:
    """Output frames each line really has (padding excluded), capped at the padded batch's frame count."""
    multiple = model.width_multiple
    lengths = [
        min(frames, int(model.output_length(-(-int(w) // multiple) * multiple))) for w in widths.tolist()
    ]
    return torch.tensor(lengths, dtype=torch.long)


def ctc_loss(
    logits: torch.Tensor, targets: torch.Tensor, target_lengths: torch.Tensor, input_lengths: torch.Tensor
) -> torch.Tensor:
    """Mean CTC loss per line; `logits` is (B, T, C) raw scores with class 0 the blank."""
    log_probs = logits.float().log_softmax(-1).transpose(0, 1)  # (T, B, C) as ctc_loss expects
    return F.ctc_loss(
        log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean", zero_infinity=True
    )


def distillation_kl(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    temperature: float,
    input_lengths: torch.Tensor,
) -> torch.Tensor:
    """Per-frame KL(teacher || student) at a temperature, over real (unpadded) frames, scaled by T^2."""
    frames = student_logits.shape[1]
    mask = torch.arange(frames)[None, :] < input_lengths[:, None]  # (B, T)
    mask = mask.to(student_logits.device)
    student = (student_logits.float() / temperature).log_softmax(-1)
    teacher = (teacher_logits.float() / temperature).log_softmax(-1)
    kl = (teacher.exp() * (teacher - student)).sum(-1)  # (B, T)
    return (kl * mask).sum() / mask.sum().clamp_min(1) * temperature**2
