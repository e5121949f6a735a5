"""Layering: template <- `--config file.json` <- CLI flags, then the defaults a hardware target implies."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipeline.config.data_sections import SAVED_BEFORE_FIELD
from pipeline.config.experiment import (
    FLAT_FIELDS,
    SECTIONS,
    STRATEGY_BITS,
    ExperimentConfig,
    build_config,
    canonical_key,
    coerce_field,
)
from pipeline.config.fields import ConfigError
from pipeline.config.schema import field_schemas
from pipeline.config.templates import TEMPLATES
from pipeline.config.variant_specs import parse_variant

BUILTIN_CHARSETS = ("ascii", "digits", "alnum")
_PATH_FIELDS = ("train_data", "val_data", "test_data")
# hardware_target -> (backend, strategy it prefers when the user did not choose one)
_HARDWARE_DEFAULTS = {
    "cpu": ("onnxruntime", None),
    "gpu": ("torchao", None),
    "mobile": ("onnxruntime", "int8_dyn_act_int4_weight"),
}


def template_names() -> list[str]:
    return list(TEMPLATES)


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a JSON config file into flat {field: value}; accepts flat keys or {section: {...}} objects."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"config file '{path}' is a directory; give a JSON file")
    if not path.is_file():
        raise ConfigError(f"config file '{path}' does not exist")
    try:
        data = json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=_refuse_duplicate_keys)
    except json.JSONDecodeError as error:
        raise ConfigError(
            f"config file '{path}' is not valid JSON: line {error.lineno} column {error.colno}: {error.msg}"
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file '{path}' is not UTF-8 text") from None
    except RecursionError:
        raise ConfigError(
            f"config file '{path}' is nested too deeply; settings are at most 2 levels"
        ) from None
    except _DuplicateKey as error:
        raise ConfigError(
            f"config file '{path}' sets {error.args[0]!r} twice in one object; give each setting once"
        ) from None
    except OSError as error:
        raise ConfigError(f"config file '{path}' cannot be read: {error.strerror}") from None
    if not isinstance(data, dict):
        raise ConfigError(
            f"config file '{path}' must hold a JSON object of settings, not {type(data).__name__}"
        )
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if key in SECTIONS and isinstance(value, dict):
            items = value.items()
        else:
            items = [(key, value)]
        for sub_key, sub_value in items:
            name = canonical_key(sub_key)
            if key in SECTIONS and isinstance(value, dict) and FLAT_FIELDS[name] != key:
                raise ConfigError(
                    f"config file '{path}': '{sub_key}' belongs in section '{FLAT_FIELDS[name]}', not '{key}'"
                )
            if name in flat:  # `epochs` and `train.epochs`, or `qat-epochs` and `qat_epochs`
                raise ConfigError(f"config file '{path}' sets '{name}' twice; give each setting once")
            flat[name] = coerce_field(name, sub_value, from_text=False)
    return flat


class _DuplicateKey(Exception):
    pass


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads keeps the last of two equal keys silently; a config that says two things is refused.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def parse_overrides(overrides: Mapping[str, Any], *, from_text: bool = True) -> dict[str, Any]:
    """Validate the keys and coerce the values of CLI/TUI overrides (`--qat-epochs 5` -> {qat_epochs: 5})."""
    parsed = {}
    for key, raw in overrides.items():
        name = canonical_key(key)
        parsed[name] = coerce_field(name, raw, from_text=from_text)
    return parsed


def resolve_config(
    template: str | None = None,
    *,
    config_file: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    overrides_are_text: bool = True,
) -> ExperimentConfig:
    """Build the validated config of one experiment.

    Args:
        template: a built-in template name; None takes the config file's `template` key, else quickstart.
        config_file: JSON settings layered over the template.
        overrides: flag values layered last (text from the CLI or TUI form unless `overrides_are_text` is False).

    Raises:
        ConfigError: with one line naming the field, the value and what is allowed.
    """
    file_values = read_config_file(config_file) if config_file is not None else {}
    cli_values = parse_overrides(overrides or {}, from_text=overrides_are_text)
    template = template or cli_values.get("template") or file_values.get("template") or "quickstart"
    if template not in TEMPLATES:
        raise ConfigError(f"template '{template}' is not known; allowed {', '.join(TEMPLATES)}")
    chosen = {**file_values, **cli_values}
    chosen.pop("template", None)
    flat = {**copy.deepcopy(TEMPLATES[template].overrides), **chosen, "template": template}
    _apply_implied_defaults(flat, chosen)
    _check_paths(flat)
    return build_config(_nest(flat))


def _nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        section = FLAT_FIELDS[key]
        if section is None:
            nested[key] = value
        else:
            nested.setdefault(section, {})[key] = value
    return nested


def _apply_implied_defaults(flat: dict[str, Any], chosen: dict[str, Any]) -> None:
    """Fill what other choices imply, never overriding a value the user chose."""
    defaults = _field_defaults()
    value = lambda key: flat.get(key, defaults[key])  # noqa: E731
    target = value("hardware_target")
    backend, preferred_strategy = _HARDWARE_DEFAULTS[target]
    if value("backend") == "auto":
        flat["backend"] = backend
    strategy_chosen = "quantization_strategy" in chosen
    bits_chosen = {"weight_bits", "activation_bits"} & chosen.keys()
    if not strategy_chosen and bits_chosen:
        wanted = (value("weight_bits"), value("activation_bits"))
        matches = [name for name, bits in STRATEGY_BITS.items() if bits == wanted]
        if matches:
            flat["quantization_strategy"] = matches[0]
    elif not strategy_chosen and preferred_strategy and "quantization_strategy" not in flat:
        flat["quantization_strategy"] = preferred_strategy
    if not bits_chosen:
        flat["weight_bits"], flat["activation_bits"] = STRATEGY_BITS[value("quantization_strategy")]
    variants = list(value("variants"))
    pruned_listed = any(parse_variant(v).kind in ("pruned", "pruned-int8") for v in variants)
    if chosen.get("enable_pruning") and not pruned_listed and "variants" not in chosen:
        variants.append("pruned")
        pruned_listed = True
    if pruned_listed:
        flat["enable_pruning"] = True
    flat["variants"] = variants


def _check_paths(flat: dict[str, Any]) -> None:
    for key in _PATH_FIELDS:
        path = flat.get(key)
        if path is not None:
            if not Path(path).exists():
                raise ConfigError(
                    f"{key}='{path}' does not exist; allowed a PaddleOCR label file (path<TAB>label lines), "
                    "a folder with labels.csv or gt.txt, or an LMDB folder (data.mdb)"
                )
            flat[key] = str(Path(path).resolve())
    charset = flat.get("charset", "ascii")
    if charset not in BUILTIN_CHARSETS:
        if not Path(charset).is_file():
            raise ConfigError(
                f"charset='{charset}' is neither a built-in charset nor a file; allowed {', '.join(BUILTIN_CHARSETS)} "
                "or a file with one character per line"
            )
        flat["charset"] = str(Path(charset).resolve())


def _field_defaults() -> dict[str, Any]:
    return {field.key: field.default() for field in field_schemas()}


def config_from_dict(data: Mapping[str, Any]) -> ExperimentConfig:
    """Rebuild a saved (nested) config, e.g. from the store, validating it again.

    A data field missing from a config saved before it existed takes the value that reproduces the data the
    experiment was trained on (`SAVED_BEFORE_FIELD`), not today's default.
    """
    data = copy.deepcopy(dict(data))
    for section, values in SAVED_BEFORE_FIELD.items():
        if isinstance(data.get(section), dict):
            for key, value in values.items():
                data[section].setdefault(key, copy.deepcopy(value))
    return build_config(data)


def derive_config(base: ExperimentConfig, overrides: Mapping[str, Any] | None = None) -> ExperimentConfig:
    """A new config from a saved one plus flag overrides (compressing an existing baseline).

    Model, charset and image height stay the baseline's: the weights only fit that architecture.
    """
    cli_values = parse_overrides(overrides or {})
    frozen = {"model", "charset", "image_height"} & cli_values.keys()
    if frozen:
        raise ConfigError(f"{', '.join(sorted(frozen))} cannot change when compressing an existing baseline")
    flat = _flatten_config(base.to_dict())
    flat.update(cli_values)
    chosen = dict(cli_values)
    _apply_implied_defaults(flat, chosen)
    _check_paths(flat)
    return build_config(_nest(flat))


def _flatten_config(nested: Mapping[str, Any]) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in nested.items():
        if key in SECTIONS:
            flat.update(value)
        else:
            flat[key] = value
    return flat
