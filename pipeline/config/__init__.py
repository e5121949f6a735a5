"""Experiment configuration: validated dataclass sections, templates and layering.

Imports only the standard library and `pipeline.core`, so the CLI and the TUI read configs
without importing torch.
"""

from pipeline.config.experiment import (
    FLAT_FIELDS,
    MODES,
    SECTIONS,
    ExperimentConfig,
    canonical_key,
    field_info,
)
from pipeline.config.fields import ConfigError, describe_allowed
from pipeline.config.resolve import (
    config_from_dict,
    derive_config,
    parse_overrides,
    read_config_file,
    resolve_config,
    template_names,
)
from pipeline.config.sections import MODEL_NAMES, QUANTIZATION_STRATEGIES
from pipeline.config.templates import TEMPLATES, Template
from pipeline.config.variant_specs import VARIANT_KINDS

__all__ = [
    "FLAT_FIELDS",
    "MODEL_NAMES",
    "MODES",
    "QUANTIZATION_STRATEGIES",
    "SECTIONS",
    "TEMPLATES",
    "VARIANT_KINDS",
    "ConfigError",
    "ExperimentConfig",
    "Template",
    "canonical_key",
    "config_from_dict",
    "derive_config",
    "describe_allowed",
    "field_info",
    "parse_overrides",
    "read_config_file",
    "resolve_config",
    "template_names",
]
