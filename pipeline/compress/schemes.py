"""Quantization schemes: what a config's strategy, granularity, symmetry and group size mean for one
layer, and the torchao configs (PTQ and QAT) that realise them.

One `WeightScheme` describes a linear layer's quantization; torchao realises it in PyTorch and
`pipeline.deploy.ort_plan` realises the same numbers in ONNX Runtime, so a model can be evaluated in
torch and deployed through ONNX Runtime with the same weights.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

# strategy -> (weight bits, activations quantized dynamically to int8)
STRATEGIES = {
    "int8_weight_only": (8, False),
    "int8_dyn_act_int8_weight": (8, True),
    "int8_dyn_act_int4_weight": (4, True),
    "int4_weight_only": (4, False),
}
GROUP_SIZES = (32, 64, 128, 256)
GRANULARITIES = ("per_tensor", "per_channel", "per_group")


@dataclass(frozen=True)
class WeightScheme:
    """How one layer's weights (and its input activations) are quantized.

    Attributes:
        bits: Weight bits, 4 or 8.
        granularity: per_tensor, per_channel (one scale per output row) or per_group.
        group_size: Input elements sharing a scale when per_group.
        symmetric: Zero point 0 (symmetric) or a zero point per scale (asymmetric).
        dynamic_activations: Quantize the layer's input to int8 per token at run time.
    """

    bits: int
    granularity: str = "per_group"
    group_size: int = 32
    symmetric: bool = True
    dynamic_activations: bool = False

    def __post_init__(self) -> None:
        if self.bits not in (4, 8):
            raise ValueError(f"weight bits={self.bits} is not supported; allowed 4 or 8")
        if self.granularity not in GRANULARITIES:
            raise ValueError(
                f"granularity={self.granularity!r} is not supported; allowed {', '.join(GRANULARITIES)}"
            )
        if self.group_size not in GROUP_SIZES:
            raise ValueError(
                f"group_size={self.group_size} is not supported; allowed {', '.join(map(str, GROUP_SIZES))}"
            )
        if self.bits == 4 and self.granularity == "per_tensor":
            raise ValueError(
                "quantization_granularity=per_tensor is not available for 4-bit weights (one scale cannot cover a "
                "layer in 16 levels); allowed per_channel or per_group"
            )
        if self.granularity == "per_tensor" and not self.symmetric:
            raise ValueError(
                "quantization_granularity=per_tensor with symmetric_quantization=False is not available in torchao; "
                "allowed symmetric per_tensor, or per_channel / per_group for asymmetric weights"
            )

    @property
    def strategy(self) -> str:
        for name, (bits, dynamic) in STRATEGIES.items():
            if bits == self.bits and dynamic == self.dynamic_activations:
                return name
        raise AssertionError("every (bits, dynamic) pair is a strategy")

    def label(self) -> str:
        """Short human label, e.g. `w4 g32 sym +a8`."""
        grain = {"per_tensor": "tensor", "per_channel": "channel"}.get(
            self.granularity, f"g{self.group_size}"
        )
        return f"w{self.bits} {grain} {'sym' if self.symmetric else 'asym'}{' +a8' if self.dynamic_activations else ''}"

    def theoretical_bits(self, in_features: int) -> float:
        """Bits per weight including one float32 scale (and a zero point when asymmetric) per group."""
        group = self.group_for(in_features) or in_features
        if self.granularity == "per_tensor":
            return float(self.bits)
        return self.bits + (32 + (0 if self.symmetric else self.bits)) / group

    def group_for(self, in_features: int) -> int | None:
        """The group size used on a layer with `in_features` inputs; None = one scale per row.

        A group must divide the row; when the configured size does not, the largest smaller size from
        GROUP_SIZES that does is used, and a row that none divides gets one scale per row.
        """
        if self.granularity != "per_group":
            return None
        for size in sorted((s for s in GROUP_SIZES if s <= self.group_size), reverse=True):
            if in_features % size == 0:
                return size
        return None


def scheme_from_config(quantization, strategy: str | None = None) -> WeightScheme:
    """The scheme a QuantizationConfig asks for (optionally with another strategy, e.g. `ptq:int4_weight_only`)."""
    name = strategy or quantization.quantization_strategy
    if name not in STRATEGIES:
        raise ValueError(f"quantization_strategy={name!r} is not known; allowed {', '.join(STRATEGIES)}")
    bits, dynamic = STRATEGIES[name]
    return WeightScheme(
        bits=bits,
        granularity=quantization.quantization_granularity,
        group_size=quantization.group_size,
        symmetric=quantization.symmetric_quantization,
        dynamic_activations=dynamic,
    )


def with_bits(scheme: WeightScheme, bits: int) -> WeightScheme:
    """The same scheme at another bit width (8-bit keeps per_tensor only when it was asked for)."""
    return replace(scheme, bits=bits)


def _granularity(scheme: WeightScheme, in_features: int):
    from torchao.quantization.granularity import PerAxis, PerGroup

    group = scheme.group_for(in_features)
    return PerGroup(group) if group else PerAxis(0)


def torchao_config(scheme: WeightScheme, in_features: int):
    """The torchao PTQ config (`quantize_`) that realises `scheme` on a linear layer.

    8-bit symmetric per-tensor/per-channel use torchao's Int8Tensor configs (real int8 kernels on CUDA);
    everything else uses the Intx configs, which run on any device (weights unpacked to int8).
    """
    from torchao.quantization import (
        Int8DynamicActivationInt8WeightConfig,
        Int8DynamicActivationIntxWeightConfig,
        Int8WeightOnlyConfig,
        IntxWeightOnlyConfig,
    )
    from torchao.quantization.granularity import PerRow, PerTensor
    from torchao.quantization.quant_primitives import MappingType

    mapping = MappingType.SYMMETRIC if scheme.symmetric else MappingType.ASYMMETRIC
    dtype = torch.int8 if scheme.bits == 8 else torch.int4
    if scheme.bits == 8 and scheme.symmetric and scheme.granularity in ("per_tensor", "per_channel"):
        grain = PerTensor() if scheme.granularity == "per_tensor" else PerRow()
        if scheme.dynamic_activations:
            from pipeline.core.cpu_features import should_reduce_range

            return Int8DynamicActivationInt8WeightConfig(
                granularity=[PerRow(), grain], reduce_range=should_reduce_range()
            )
        return Int8WeightOnlyConfig(granularity=grain, set_inductor_config=False)
    grain = _granularity(scheme, in_features)
    if scheme.dynamic_activations:
        return Int8DynamicActivationIntxWeightConfig(
            weight_dtype=dtype, weight_granularity=grain, weight_mapping_type=mapping
        )
    return IntxWeightOnlyConfig(weight_dtype=dtype, granularity=grain, mapping_type=mapping)


def qat_fake_quant_configs(scheme: WeightScheme, in_features: int):
    """(activation, weight) fake-quantize configs for torchao's `QATConfig` that mirror `torchao_config`."""
    from torchao.quantization.qat import IntxFakeQuantizeConfig

    dtype = torch.int8 if scheme.bits == 8 else torch.int4
    group = scheme.group_for(in_features)
    if scheme.granularity == "per_tensor":
        raise ValueError(
            "qat with quantization_granularity=per_tensor is not available (torchao fakes weights per channel or "
            "per group); allowed per_channel or per_group"
        )
    if group:
        weight = IntxFakeQuantizeConfig(dtype, group_size=group, is_symmetric=scheme.symmetric)
    else:
        weight = IntxFakeQuantizeConfig(dtype, "per_channel", is_symmetric=scheme.symmetric)
    activation = (
        IntxFakeQuantizeConfig(torch.int8, "per_token", is_symmetric=False)
        if scheme.dynamic_activations
        else None
    )
    return activation, weight
