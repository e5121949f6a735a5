"""The weight-bearing layers of a recognizer (conv, linear, LSTM), in forward order, with their part.

Every compression step speaks about layers by module name (`backbone.layers.0`, `neck.lstm`,
`head.1`), so a variant can say which layers it quantized, pruned or left in float.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

LAYER_KINDS = {nn.Conv2d: "conv", nn.Linear: "linear", nn.LSTM: "lstm"}


@dataclass(frozen=True)
class WeightLayer:
    """One layer that owns a weight matrix or kernel.

    Attributes:
        name: Module name inside the recognizer.
        kind: conv, linear or lstm.
        part: backbone, neck or head.
        params: Weight elements (biases not counted).
        in_features: Reduction size of one output (in_channels x kernel for convs, in_features for linears).
    """

    name: str
    kind: str
    part: str
    params: int
    in_features: int


def _kind(module: nn.Module) -> str | None:
    # isinstance, so torchao's FakeQuantizedLinear (an nn.Linear subclass) still counts as a linear layer
    for cls, kind in LAYER_KINDS.items():
        if isinstance(module, cls):
            return kind
    return None


def weight_layers(model: nn.Module) -> list[WeightLayer]:
    """Conv, linear and LSTM layers of `model` in registration order (forward order for ocrq models)."""
    layers = []
    for name, module in model.named_modules():
        kind = _kind(module)
        if kind is None or not name:
            continue
        part = name.split(".", 1)[0] if name.split(".", 1)[0] in ("backbone", "neck", "head") else "backbone"
        if kind == "lstm":
            params = sum(p.numel() for n, p in module.named_parameters() if n.startswith("weight"))
            in_features = module.input_size
        else:
            weight = module.weight
            params = weight.numel()
            in_features = int(weight[0].numel()) if kind == "conv" else int(weight.shape[1])
        layers.append(
            WeightLayer(name=name, kind=kind, part=part, params=int(params), in_features=in_features)
        )
    return layers


def first_and_last(layers: list[WeightLayer]) -> set[str]:
    """Names of the first and the last weight layer (the input stem and the classifier)."""
    if not layers:
        return set()
    return {layers[0].name, layers[-1].name}


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(parameters, non-zero parameters); quantized tensor subclasses count their logical elements."""
    total = nonzero = 0
    for parameter in model.parameters():
        tensor = parameter.detach()
        total += tensor.numel()
        try:
            dense = (
                tensor.dequantize()
                if type(tensor) is not torch.Tensor and hasattr(tensor, "dequantize")
                else tensor
            )
            nonzero += int(torch.count_nonzero(dense))
        except (RuntimeError, NotImplementedError, TypeError):
            nonzero += tensor.numel()
    return total, nonzero
