"""Typed specs of the variant kinds: each kind's own settings, fully resolved.

A spec's fields carry the names of the config fields they come from (`group_size`,
`observer_type`, ...), so a spec reads like the config section it narrows and the same validators apply.
`spec_for(entry, config)` fills what the entry does not set from the experiment's sections.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from pipeline.config import ConfigError
from pipeline.config.experiment import FLAT_FIELDS, STRATEGY_BITS
from pipeline.config.variant_specs import VariantEntry


@dataclass(frozen=True)
class VariantSpec:
    """What every variant has: a unique name and its kind."""

    name: str
    kind: str

    def settings(self) -> dict[str, Any]:
        """The resolved settings (every field but name and kind)."""
        return {
            f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in ("name", "kind")
        }

    def same_settings(self, other: VariantSpec, fields: tuple[str, ...]) -> bool:
        return all(getattr(self, f, None) == getattr(other, f, None) for f in fields)


@dataclass(frozen=True)
class StaticInt8Settings:
    quantization_granularity: str
    observer_type: str
    observer_momentum: float
    observer_percentile: float
    calibration_batches: int
    skip_first_last: bool


@dataclass(frozen=True)
class TorchaoSettings(StaticInt8Settings):
    quantization_strategy: str
    weight_bits: int
    activation_bits: int
    symmetric_quantization: bool
    group_size: int
    conv_weight_bits: int
    mixed_precision: bool


@dataclass(frozen=True)
class DistillationSettings:
    enable_distillation: bool
    temperature_distillation: float
    distillation_weight: float


@dataclass(frozen=True)
class PruningSettings(DistillationSettings):
    pruning_strategy: str
    pruning_ratio: float
    backbone_pruning_ratio: float | None
    neck_pruning_ratio: float | None
    decoder_pruning_ratio: float | None
    prune_criteria: str
    pruning_epoch: int
    finetune_epochs: int
    finetune_lr_multiplier: float
    min_acc_drop: float
    accuracy_first: bool


@dataclass(frozen=True)
class HalfSpec(VariantSpec):
    """fp16 / bf16 in PyTorch: no settings of its own."""


@dataclass(frozen=True)
class OrtFp32Spec(VariantSpec):
    """The FP32 ONNX export: the deployment baseline of every ratio."""


@dataclass(frozen=True)
class OrtInt8DynamicSpec(VariantSpec):
    quantization_granularity: str
    skip_first_last: bool


@dataclass(frozen=True)
class OrtInt8StaticSpec(StaticInt8Settings, VariantSpec):
    """ONNX Runtime static QDQ int8."""


@dataclass(frozen=True)
class OrtInt8MixedSpec(StaticInt8Settings, VariantSpec):
    """ONNX Runtime static int8 with the CER-costliest nodes kept float until within `accuracy_budget_pp`."""

    accuracy_budget_pp: float


@dataclass(frozen=True)
class OrtInt4WeightSpec(VariantSpec):
    group_size: int
    symmetric_quantization: bool
    activation_bits: int
    skip_first_last: bool


@dataclass(frozen=True)
class PtqSpec(TorchaoSettings, VariantSpec):
    """torchao post-training quantization."""


@dataclass(frozen=True)
class MixedSpec(TorchaoSettings, VariantSpec):
    """Per-layer bits from a sensitivity scan."""


@dataclass(frozen=True)
class QatSpec(DistillationSettings, TorchaoSettings, VariantSpec):
    quantization_aware_training: bool
    qat_epochs: int
    qat_learning_rate_multiplier: float
    quantization_loss_weight: float
    progressive_stages: tuple[str, ...]


@dataclass(frozen=True)
class PrunedSpec(PruningSettings, VariantSpec):
    """Pruned and finetuned, deployed as FP32 ONNX."""


@dataclass(frozen=True)
class PrunedInt8Spec(StaticInt8Settings, PruningSettings, VariantSpec):
    """Pruned and finetuned, then ONNX Runtime static int8."""


# The settings that decide a PTQ plan: a QAT variant's recovery figure is measured against the PTQ
# variant that shares all of them.
PLAN_SETTINGS = (
    "quantization_strategy",
    "quantization_granularity",
    "symmetric_quantization",
    "group_size",
    "skip_first_last",
    "mixed_precision",
)
PRUNING_SETTINGS = tuple(f.name for f in dataclasses.fields(PruningSettings))


def spec_for(cls: type[VariantSpec], entry: VariantEntry, config) -> VariantSpec:
    """Resolve an entry of `variants` into its kind's spec (own settings over the experiment's).

    Raises:
        ConfigError: when the merged settings break a rule of their config section.
    """
    own = entry.overrides
    if "quantization_strategy" in own:  # a variant's own strategy applies to every layer
        own.setdefault("mixed_precision", False)
    _imply_bits(own)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name in ("name", "kind"):
            continue
        value = own[f.name] if f.name in own else config.get(f.name)
        values[f.name] = tuple(value) if isinstance(value, list) else value
    _check_sections(entry, own, config)
    if "quantization_strategy" in values and "weight_bits" in values:
        expected = STRATEGY_BITS[values["quantization_strategy"]]
        if (values["weight_bits"], values["activation_bits"]) != expected:
            raise ConfigError(
                f"variant {entry.name}: weight_bits={values['weight_bits']}, activation_bits="
                f"{values['activation_bits']} contradict quantization_strategy={values['quantization_strategy']}; "
                "change one of them"
            )
    return cls(name=entry.name, kind=entry.kind, **values)


def _imply_bits(own: dict[str, Any]) -> None:
    """A variant that chooses a strategy gets its bits, and one that chooses bits gets their strategy."""
    if "quantization_strategy" in own:
        bits = STRATEGY_BITS[own["quantization_strategy"]]
        own.setdefault("weight_bits", bits[0])
        own.setdefault("activation_bits", bits[1])
    elif {"weight_bits", "activation_bits"} & own.keys():
        wanted = (own.get("weight_bits"), own.get("activation_bits"))
        for strategy, bits in STRATEGY_BITS.items():
            if all(w is None or w == b for w, b in zip(wanted, bits, strict=True)):
                own["quantization_strategy"] = strategy
                own.setdefault("weight_bits", bits[0])
                own.setdefault("activation_bits", bits[1])
                break


def _check_sections(entry: VariantEntry, own: dict[str, Any], config) -> None:
    """Run each touched section's own validation on the merged values."""
    by_section: dict[str, dict[str, Any]] = {}
    for key, value in own.items():
        by_section.setdefault(FLAT_FIELDS[key], {})[key] = value
    for section, values in by_section.items():
        try:
            dataclasses.replace(getattr(config, section), **values)
        except ConfigError as error:
            raise ConfigError(f"variant {entry.name}: {error}") from None
        except ValueError as error:
            raise ConfigError(f"variant {entry.name}: {error}") from None
