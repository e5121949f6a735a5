"""`ExperimentConfig`: every section of one experiment, validated as a whole."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from pipeline.config.data_sections import AugmentationConfig, SyntheticDataConfig
from pipeline.config.fields import (
    FIELD_PARSERS,
    ConfigError,
    coerce_value,
    describe_allowed,
    option,
    resolved_hints,
    validate_section,
)
from pipeline.config.sections import (
    DataConfig,
    DeployConfig,
    DistillationConfig,
    ModelConfig,
    PruningConfig,
    QuantizationConfig,
    TrainConfig,
)

SECTIONS: dict[str, type] = {
    "model": ModelConfig,
    "data": DataConfig,
    "synthetic": SyntheticDataConfig,
    "augment": AugmentationConfig,
    "train": TrainConfig,
    "quantization": QuantizationConfig,
    "distillation": DistillationConfig,
    "pruning": PruningConfig,
    "deploy": DeployConfig,
}

MODES = ("train", "compress", "both", "evaluate")

# Bits each torchao strategy implies: (weight_bits, activation_bits); 32 = float activations.
STRATEGY_BITS = {
    "int8_weight_only": (8, 32),
    "int8_dyn_act_int8_weight": (8, 8),
    "int8_dyn_act_int4_weight": (4, 8),
    "int4_weight_only": (4, 32),
}

# Spellings from older configs that mean one of our fields.
KEY_ALIASES = {
    "strategy": "quantization_strategy",
    "granularity": "quantization_granularity",
    "symmetric": "symmetric_quantization",
    "model_name": "model",
    "lr": "learning_rate",
}


@dataclass
class ExperimentConfig:
    """One experiment: a baseline plus the compression variants its deploy section asks for."""

    template: str = option("quickstart", help="template the config was built from")
    name: str | None = option(None, help="experiment name (default: template-model-time)")
    mode: str = option("both", help="train the baseline, compress it, or both", choices=MODES)
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    synthetic: SyntheticDataConfig = field(default_factory=SyntheticDataConfig)
    augment: AugmentationConfig = field(default_factory=AugmentationConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    quantization: QuantizationConfig = field(default_factory=QuantizationConfig)
    distillation: DistillationConfig = field(default_factory=DistillationConfig)
    pruning: PruningConfig = field(default_factory=PruningConfig)
    deploy: DeployConfig = field(default_factory=DeployConfig)

    def __post_init__(self) -> None:
        validate_section(self)
        q = self.quantization
        if q.activation_bits == 4:
            raise ConfigError(
                "activation_bits=4 is not supported: neither onnxruntime nor torchao runs int4 activations; "
                "allowed 8 or 32 (float activations)"
            )
        expected = STRATEGY_BITS[q.quantization_strategy]
        if (q.weight_bits, q.activation_bits) != expected:
            raise ConfigError(
                f"weight_bits={q.weight_bits}, activation_bits={q.activation_bits} contradict "
                f"quantization_strategy={q.quantization_strategy} (which means {expected[0]}-bit weights, "
                f"{'float' if expected[1] == 32 else str(expected[1]) + '-bit'} activations); change one of them"
            )
        if self.deploy.backend == "auto":
            raise ConfigError("backend=auto must be resolved before use; build configs with resolve_config()")

    def to_dict(self) -> dict[str, Any]:
        """The nested, JSON-native form saved with every experiment."""
        return dataclasses.asdict(self)

    def section_of(self, key: str) -> Any:
        """The section object that holds a flat field name."""
        return getattr(self, FLAT_FIELDS[key]) if FLAT_FIELDS[key] else self

    def get(self, key: str) -> Any:
        return getattr(self.section_of(key), key)


def _flat_fields() -> dict[str, str | None]:
    """Flat field name -> section name (None for top-level fields); names are unique by construction."""
    flat: dict[str, str | None] = {}
    for f in dataclasses.fields(ExperimentConfig):
        if f.name in SECTIONS:
            continue
        flat[f.name] = None
    for section_name, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            if f.name in flat:
                raise RuntimeError(
                    f"config field {f.name} is declared twice ({flat[f.name]}, {section_name})"
                )
            flat[f.name] = section_name
    return flat


FLAT_FIELDS = _flat_fields()


def field_annotation(key: str) -> Any:
    section = FLAT_FIELDS[key]
    cls = SECTIONS[section] if section else ExperimentConfig
    return resolved_hints(cls)[key]


def field_info(key: str) -> dataclasses.Field:
    section = FLAT_FIELDS[key]
    cls = SECTIONS[section] if section else ExperimentConfig
    return {f.name: f for f in dataclasses.fields(cls)}[key]


def coerce_field(key: str, raw: Any, *, from_text: bool) -> Any:
    """Coerce a value for a flat field; type errors say what the field allows."""
    if key in FIELD_PARSERS:
        return FIELD_PARSERS[key](raw, from_text)
    try:
        return coerce_value(key, field_annotation(key), raw, from_text=from_text)
    except ConfigError as error:
        if "allowed" in str(error):
            raise
        raise ConfigError(
            f"{error}; allowed {describe_allowed(field_info(key), field_annotation(key))}"
        ) from None


def canonical_key(key: str) -> str:
    """Accept `qat-epochs`, `qat_epochs` and known aliases; raise ConfigError for unknown keys."""
    name = key.strip().lstrip("-").replace("-", "_")
    name = KEY_ALIASES.get(name, name)
    if name not in FLAT_FIELDS:
        close = [k for k in FLAT_FIELDS if name and (name in k or k in name)][:4]
        hint = f"; did you mean {', '.join(close)}?" if close else "; run `ocrq config fields` for the list"
        raise ConfigError(f"unknown config key '{key}'{hint}")
    return name


def build_config(nested: dict[str, Any]) -> ExperimentConfig:
    """Build and validate an ExperimentConfig from the nested dict form (JSON values)."""
    kwargs: dict[str, Any] = {}
    for key, value in nested.items():
        if key in SECTIONS:
            cls = SECTIONS[key]
            section_values = {}
            for sub_key, sub_value in value.items():
                if sub_key in FIELD_PARSERS:
                    section_values[sub_key] = FIELD_PARSERS[sub_key](sub_value, False)
                    continue
                section_values[sub_key] = coerce_value(
                    sub_key, resolved_hints(cls)[sub_key], sub_value, from_text=False
                )
            try:
                kwargs[key] = cls(**section_values)
            except ConfigError:
                raise
            except ValueError as error:
                raise ConfigError(str(error)) from None
        else:
            kwargs[key] = value
    return ExperimentConfig(**kwargs)
