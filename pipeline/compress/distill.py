"""Extra loss terms for QAT and post-pruning finetuning: knowledge distillation from the FP32 teacher and
the weight-quantization error penalty. Both plug into `pipeline.training.fit.fit(extra_loss=...)`.

With distillation weight w the training loss is (1 - w) * task + w * KL(teacher || student) per frame at
temperature T (scaled by T^2), the task loss being the head's (CTC for every built-in model); `fit`
adds `extra` to the task loss, so `extra = w * (KL - task) + penalty`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from pipeline.models.heads import head_of
from pipeline.models.heads.losses import distillation_kl


def quantization_error(model: nn.Module) -> torch.Tensor | None:
    """Mean relative squared error between weights and their fake-quantized values over every
    fake-quantized layer (torchao's `weight_fake_quantizer`); None when the model has none."""
    terms = []
    for module in model.modules():
        quantizer = getattr(module, "weight_fake_quantizer", None)
        if quantizer is None or not getattr(quantizer, "enabled", True):
            continue
        weight = module.weight
        error = (weight - quantizer(weight)).pow(2).mean()
        terms.append(error / weight.detach().pow(2).mean().clamp_min(1e-12))
    return torch.stack(terms).mean() if terms else None


def make_extra_loss(
    teacher: nn.Module | None,
    *,
    distillation_weight: float,
    temperature: float,
    quantization_loss_weight: float = 0.0,
) -> Callable | None:
    """An `extra_loss(model, batch, logits, input_lengths)` for `fit`, or None when it would add nothing.

    Args:
        teacher: The FP32 model (frozen, eval mode); None disables distillation.
        distillation_weight: Share w of the KL term; the CTC term keeps 1 - w.
        temperature: Softmax temperature of the per-frame KL.
        quantization_loss_weight: Weight of `quantization_error` (0 = off).
    """
    distil = teacher is not None and distillation_weight > 0
    if not distil and quantization_loss_weight <= 0:
        return None
    if teacher is not None:
        teacher.eval()
        for parameter in teacher.parameters():
            parameter.requires_grad_(False)

    def extra_loss(model: nn.Module, batch, logits: torch.Tensor, input_lengths: torch.Tensor):
        total = logits.new_zeros((), dtype=torch.float32)
        parts: dict[str, float] = {}
        if distil:
            with torch.no_grad():
                teacher_logits = teacher(batch.images.to(logits.device)).float()
            kl = distillation_kl(logits, teacher_logits, temperature, input_lengths)
            task = head_of(model).loss(
                logits, batch.targets.to(logits.device), batch.target_lengths, input_lengths
            )
            total = total + distillation_weight * (kl - task)
            parts["kl"] = float(kl.detach())
        if quantization_loss_weight > 0:
            error = quantization_error(model)
            if error is not None:
                total = total + quantization_loss_weight * error
                parts["quant_error"] = float(error.detach())
        return total, parts

    return extra_loss
