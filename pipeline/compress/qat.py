"""Quantization-aware training with torchao: `QATConfig(..., step="prepare")` -> train -> `step="convert"`,
in progressive stages (e.g. head -> neck -> backbone), with distillation and the quantization penalty.

Each stage fake-quantizes the linear layers of its parts (on top of the earlier stages) and trains
for its share of `qat_epochs` at `learning_rate x qat_learning_rate_multiplier` through `pipeline.train.fit`,
so every QAT epoch reaches the sink with phase `qat:<variant>`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from torch import nn

from pipeline.compress.distill import make_extra_loss
from pipeline.compress.ptq import LayerPlan, apply_ptq
from pipeline.compress.schemes import qat_fake_quant_configs

PARTS = ("backbone", "neck", "head")


def stage_parts(progressive_stages: list[str]) -> list[tuple[str, ...]]:
    """Cumulative parts per stage: [head, neck, backbone] -> [(head,), (head, neck), (head, neck, backbone)].

    No stages means one stage over every part. Parts not named in a progressive list join the last stage.
    """
    if not progressive_stages:
        return [PARTS]
    seen: list[str] = []
    stages = []
    for part in progressive_stages:
        if part not in PARTS:
            raise ValueError(f"progressive_stages entry {part!r} is not a part; allowed {', '.join(PARTS)}")
        if part not in seen:
            seen.append(part)
            stages.append(tuple(seen))
    if len(seen) < len(PARTS):
        stages[-1] = tuple(seen + [p for p in PARTS if p not in seen])
    return stages


def stage_epochs(total: int, stages: int) -> list[int]:
    """Split `total` epochs over the stages (each gets at least one; the last takes the remainder)."""
    per = max(1, total // stages)
    epochs = [per] * stages
    epochs[-1] = max(1, total - per * (stages - 1))
    return epochs


def prepare_layers(model: nn.Module, plan: LayerPlan, names: list[str]) -> None:
    """Swap the named linear layers for torchao FakeQuantizedLinear with the plan's scheme."""
    from torchao.quantization import quantize_
    from torchao.quantization.qat import QATConfig

    for name in names:
        scheme = plan.schemes[name]
        module = model.get_submodule(name)
        activation, weight = qat_fake_quant_configs(scheme, module.in_features)
        config = QATConfig(activation_config=activation, weight_config=weight, step="prepare")
        quantize_(model, config, filter_fn=lambda m, fqn, target=name: fqn == target)


def convert_to_float(model: nn.Module) -> nn.Module:
    """Swap FakeQuantizedLinear back to nn.Linear (trained float weights), torchao's convert step."""
    from torchao.quantization import quantize_
    from torchao.quantization.qat import QATConfig

    quantize_(model, QATConfig(step="convert"))
    return model


@dataclass
class QATResult:
    """A QAT run: the fake-quant model, its float weights and the converted torchao model."""

    fake_quant_model: nn.Module
    float_model: nn.Module
    quantized_model: nn.Module
    history: list[dict] = field(default_factory=list)
    stages: list[tuple[str, ...]] = field(default_factory=list)


def run_qat(
    fp32_model: nn.Module,
    plan: LayerPlan,
    *,
    fit_stage: Callable[[nn.Module, int, int, Callable | None], tuple[nn.Module, list[dict]]],
    qat_epochs: int,
    progressive_stages: list[str],
    teacher: nn.Module | None,
    distillation_weight: float,
    temperature: float,
    quantization_loss_weight: float,
) -> QATResult:
    """Train a fake-quantized copy of `fp32_model` and convert it with the plan's torchao configs.

    Args:
        plan: The linear layers to quantize and their schemes (from `plan_linear_layers`).
        fit_stage: (model, stage index, epochs, extra_loss) -> (trained eval model, epoch history); wraps
            `pipeline.train.fit` so the caller keeps control of data, device, sink and checkpoints.
        qat_epochs: Epochs over all stages (0 converts without training: PTQ of the same plan).
    """
    model = copy.deepcopy(fp32_model).train()
    stages = stage_parts(progressive_stages)
    epochs = stage_epochs(qat_epochs, len(stages)) if qat_epochs > 0 else [0] * len(stages)
    extra = make_extra_loss(teacher, distillation_weight=distillation_weight, temperature=temperature,
                            quantization_loss_weight=quantization_loss_weight)
    layer_part = {layer.name: layer.part for layer in plan.layers}
    prepared: set[str] = set()
    history: list[dict] = []
    for index, parts in enumerate(stages):
        new = [name for name in plan.quantized if layer_part[name] in parts and name not in prepared]
        prepare_layers(model, plan, new)
        prepared.update(new)
        if epochs[index] > 0:
            model, stage_history = fit_stage(model, index, epochs[index], extra)
            history.extend({**h, "stage": index + 1, "parts": list(parts)} for h in stage_history)
    fake_quant = copy.deepcopy(model).eval()
    float_model = convert_to_float(model).eval()
    quantized = apply_ptq(float_model, plan)
    return QATResult(fake_quant_model=fake_quant, float_model=float_model, quantized_model=quantized,
                     history=history, stages=stages)

