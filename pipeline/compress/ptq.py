"""Post-training quantization with torchao: a per-layer plan of schemes, applied with `quantize_` and
`FqnToConfig`, and a deployable file (the quantized state dict).

torchao swaps only `nn.Linear` weights; convs and LSTMs stay float in the torch model and are listed as
such. ONNX Runtime deployment (`pipeline.deploy.ort_plan`) quantizes them too.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from pipeline.compress.schemes import WeightScheme, torchao_config
from pipeline.models.layers import WeightLayer, first_and_last, weight_layers

TORCHAO_FORMAT = "ocrq-torchao-1"


@dataclass
class LayerPlan:
    """Which scheme every linear layer gets (None = float), and the float layers torchao cannot touch."""

    schemes: dict[str, WeightScheme | None]
    layers: list[WeightLayer]
    notes: list[str] = field(default_factory=list)
    skipped: set[str] = field(
        default_factory=set
    )  # layers of any kind kept float on purpose (skip_first_last)

    @property
    def quantized(self) -> dict[str, WeightScheme]:
        return {name: s for name, s in self.schemes.items() if s is not None}

    def torch_float_layers(self) -> list[str]:
        """Weight layers the torchao model keeps in float (convs, LSTMs, skipped linears)."""
        return [layer.name for layer in self.layers if self.schemes.get(layer.name) is None]

    def theoretical_bits(self) -> float:
        """Bits per weight over every weight layer, counting float layers at 32 and group scales."""
        total = sum(layer.params for layer in self.layers)
        bits = 0.0
        for layer in self.layers:
            scheme = self.schemes.get(layer.name)
            bits += layer.params * (scheme.theoretical_bits(layer.in_features) if scheme else 32.0)
        return bits / total if total else 32.0

    def to_dict(self) -> dict[str, object]:
        return {name: (s.label() if s else "float") for name, s in self.schemes.items()}


def plan_linear_layers(
    model: nn.Module,
    scheme: WeightScheme,
    *,
    skip_first_last: bool = False,
    per_layer: dict[str, WeightScheme | None] | None = None,
    parts: tuple[str, ...] | None = None,
) -> LayerPlan:
    """Give every linear layer `scheme` (or its `per_layer` choice), except those skipped.

    Args:
        skip_first_last: Keep the first and the last weight layer in float (listed in the notes).
        per_layer: Module name -> scheme or None, overriding `scheme` (mixed precision).
        parts: Quantize only linear layers in these parts (progressive QAT stages).
    """
    layers = weight_layers(model)
    skipped = first_and_last(layers) if skip_first_last else set()
    schemes: dict[str, WeightScheme | None] = {}
    notes = []
    for layer in layers:
        if layer.kind != "linear":
            continue
        chosen = (per_layer or {}).get(layer.name, scheme)
        if layer.name in skipped or (parts is not None and layer.part not in parts):
            chosen = None
        schemes[layer.name] = chosen
        if (
            chosen is not None
            and chosen.granularity == "per_group"
            and chosen.group_for(layer.in_features) != chosen.group_size
        ):
            used = chosen.group_for(layer.in_features)
            notes.append(
                f"{layer.name}: {layer.in_features} inputs are not a multiple of group_size={chosen.group_size}; "
                f"used {'group ' + str(used) if used else 'one scale per row'}"
            )
    if skipped:
        notes.append(f"skip_first_last kept {', '.join(sorted(skipped))} in float")
    return LayerPlan(schemes=schemes, layers=layers, notes=notes, skipped=set(skipped))


def torchao_fqn_config(model: nn.Module, plan: LayerPlan):
    """One `FqnToConfig` holding the torchao config of every quantized linear layer."""
    from torchao.quantization import FqnToConfig

    configs = OrderedDict()
    for name, scheme in plan.quantized.items():
        module = model.get_submodule(name)
        configs[name] = torchao_config(scheme, module.in_features)
    return FqnToConfig(fqn_to_config=configs)


def apply_ptq(model: nn.Module, plan: LayerPlan, *, inplace: bool = False) -> nn.Module:
    """Quantize the planned linear layers with torchao `quantize_`; returns the quantized model (eval mode)."""
    from torchao.quantization import quantize_

    target = model if inplace else copy.deepcopy(model)
    target.eval()
    if plan.quantized:
        quantize_(target, torchao_fqn_config(target, plan), filter_fn=None)
    return target


def save_torchao_model(model: nn.Module, plan: LayerPlan, path: Path, meta: dict[str, object]) -> int:
    """Write the deployable torchao file: `torch.save` of the quantized state dict (int8/int4 tensors with
    their scales) with the plan needed to rebuild the modules. Loads with `weights_only=True`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        **meta,
        "format": TORCHAO_FORMAT,
        "plan": {name: (vars(s) if s else None) for name, s in plan.schemes.items()},
        "weights": model.state_dict(),
    }
    torch.save(payload, path)
    return path.stat().st_size


def load_torchao_model(path: Path, map_location: str | torch.device = "cpu") -> nn.Module:
    """Rebuild a model saved by `save_torchao_model` (architecture from its config, torchao layers from its plan)."""
    import torchao.quantization  # noqa: F401  (importing it allow-lists its tensor classes for weights_only loads)

    from pipeline.models import create_model

    payload = torch.load(path, map_location=map_location, weights_only=True)
    if payload.get("format") != TORCHAO_FORMAT:
        raise ValueError(f"{path} is not an ocrq torchao model (format {payload.get('format')!r})")
    model = create_model(**payload["model_config"]).eval()
    schemes = {name: (WeightScheme(**fields) if fields else None) for name, fields in payload["plan"].items()}
    plan = LayerPlan(schemes=schemes, layers=weight_layers(model))
    model = apply_ptq(model, plan, inplace=True)
    model.load_state_dict(payload["weights"], assign=True)
    return model.eval()
