"""Quantization-aware training with torchao: `QATConfig(..., step="prepare")` -> train -> `step="convert"`,
in progressive stages (e.g. head -> neck -> backbone), with distillation and the quantization penalty.

Each stage fake-quantizes the linear layers of its parts (on top of the earlier stages) and trains
for its share of `qat_epochs` at `learning_rate x qat_learning_rate_multiplier` through `pipeline.training.fit.fit`,
so every QAT epoch reaches the sink with phase `qat:<variant>`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from torch import nn

from pipeline.compress.distill import make_extra_loss
from pipeline.compress.ptq import LayerPlan, apply_ptq
from pipeline.compress.schemes import qat_fake_quant_configs

PARTS = ("backbone", "neck", "head")
# Bit-width stages ("8bit" then the plan's bits): train at a gentle precision first, then at the target.
BIT_STAGES = {"8bit": 8, "4bit": 4}


@dataclass(frozen=True)
class Stage:
    """One QAT stage: the parts whose linear layers are fake-quantized, and the bits (None = the plan's)."""

    parts: tuple[str, ...]
    bits: int | None = None

    def describe(self) -> str:
        return "+".join(self.parts) + (f" at {self.bits} bits" if self.bits else "")


def qat_stages(progressive_stages: list[str]) -> list[Stage]:
    """Stages from `progressive_stages`.

    Part names accumulate: [head, neck, backbone] -> head, then head+neck, then all. Bit widths apply to
    every part: [8bit] -> all parts at 8 bits, then a last stage at the plan's bits ("8 -> 4 bits").
    Parts not named in a part list join the last stage; no list means one stage over every part.
    """
    if not progressive_stages:
        return [Stage(PARTS)]
    seen: list[str] = []
    stages: list[Stage] = []
    for entry in progressive_stages:
        if entry in BIT_STAGES:
            stages.append(Stage(PARTS, BIT_STAGES[entry]))
        elif entry in PARTS:
            if entry not in seen:
                seen.append(entry)
                stages.append(Stage(tuple(seen)))
        else:
            raise ValueError(
                f"progressive_stages entry {entry!r} is not a part or a bit width; allowed "
                f"{', '.join(PARTS + tuple(BIT_STAGES))}"
            )
    if seen and len(seen) < len(PARTS):
        last = stages[-1]
        stages[-1] = Stage(tuple(seen + [p for p in PARTS if p not in seen]), last.bits)
    if stages[-1].bits is not None or set(stages[-1].parts) != set(PARTS):
        stages.append(Stage(PARTS))  # always end on the plan itself: every part at its planned bits
    return stages


def stage_parts(progressive_stages: list[str]) -> list[tuple[str, ...]]:
    """The parts of each stage (see `qat_stages`)."""
    return [stage.parts for stage in qat_stages(progressive_stages)]


def stage_epochs(total: int, stages: int) -> list[int]:
    """Split `total` epochs over the stages (each gets at least one; the last takes the remainder)."""
    per = max(1, total // stages)
    epochs = [per] * stages
    epochs[-1] = max(1, total - per * (stages - 1))
    return epochs


def prepare_layers(model: nn.Module, plan: LayerPlan, names: list[str], bits: int | None = None) -> None:
    """Swap the named linear layers for torchao FakeQuantizedLinear with the plan's scheme (at `bits` if given).

    A layer that is already fake-quantized is swapped back to nn.Linear first, so a later stage can change
    its precision.
    """
    from torchao.quantization import quantize_
    from torchao.quantization.qat import QATConfig

    for name in names:
        scheme = plan.schemes[name]
        if bits is not None and bits != scheme.bits:
            scheme = replace(scheme, bits=bits)
        module = model.get_submodule(name)
        if hasattr(module, "to_linear"):
            parent, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent) if parent else model, child, module.to_linear())
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
    stages: list[Stage] = field(default_factory=list)


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
            `pipeline.training.fit.fit` so the caller keeps control of data, device, sink and checkpoints.
        qat_epochs: Epochs over all stages (0 converts without training: PTQ of the same plan).
    """
    model = copy.deepcopy(fp32_model).train()
    stages = qat_stages(progressive_stages)
    epochs = stage_epochs(qat_epochs, len(stages)) if qat_epochs > 0 else [0] * len(stages)
    extra = make_extra_loss(
        teacher,
        distillation_weight=distillation_weight,
        temperature=temperature,
        quantization_loss_weight=quantization_loss_weight,
    )
    layer_part = {layer.name: layer.part for layer in plan.layers}
    prepared: dict[str, int | None] = {}  # layer -> bits it is fake-quantized at
    history: list[dict] = []
    for index, stage in enumerate(stages):
        names = [
            n for n in plan.quantized if layer_part[n] in stage.parts and prepared.get(n, -1) != stage.bits
        ]
        prepare_layers(model, plan, names, stage.bits)
        prepared.update(dict.fromkeys(names, stage.bits))
        if epochs[index] > 0:
            model, stage_history = fit_stage(model, index, epochs[index], extra)
            history.extend({**h, "stage": index + 1, "stage_layers": stage.describe()} for h in stage_history)
    fake_quant = copy.deepcopy(model).eval()
    float_model = convert_to_float(model).eval()
    quantized = apply_ptq(float_model, plan)
    return QATResult(
        fake_quant_model=fake_quant,
        float_model=float_model,
        quantized_model=quantized,
        history=history,
        stages=stages,
    )
