"""The launch form's model: every config field with its section, kind, help and allowed values.

Built from `pipeline.config` alone (stdlib-only, no torch). Values are written exactly as the CLI
takes them (``--variants ort-fp32,ptq``), and validated by `pipeline.config` itself so the form
shows the same one-line messages as `ocrq run`.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass
from typing import Any

from pipeline.config import FLAT_FIELDS, SECTIONS, ConfigError, describe_allowed, field_info, resolve_config
from pipeline.config.experiment import field_annotation
from pipeline.config.fields import base_type

# Fields with their own place in the form (template picker, name and mode inputs).
OWN_FIELDS = ("template", "name", "mode")
SECTION_TITLES = {
    "model": "model",
    "data": "data",
    "synthetic": "synthetic text",
    "augment": "augmentation",
    "train": "training",
    "quantization": "quantization",
    "distillation": "distillation",
    "pruning": "pruning",
    "deploy": "deployment",
}


@dataclass(frozen=True)
class FormField:
    """One config field as the launch form shows it.

    Attributes:
        key: the flat field name (``qat_epochs``); the CLI flag is ``--qat-epochs``.
        section: the config section that holds it.
        kind: bool, choice, int, float, text, list or mapping.
        choices: the allowed values of a choice field, as text.
        help: what the field does.
        allowed: what values it accepts, in the words of the CLI's messages.
    """

    key: str
    section: str
    kind: str
    choices: tuple[str, ...]
    help: str
    allowed: str

    @property
    def flag(self) -> str:
        return f"--{self.key.replace('_', '-')}"


def _docstring_help(cls: type, key: str) -> str:
    """A field's entry in its section's ``Attributes:`` docstring (data sections declare help there)."""
    pattern = rf"^\s+{re.escape(key)}:\s*(.+?)(?=^\s+\w+:|\Z)"
    match = re.search(pattern, cls.__doc__ or "", re.M | re.S)
    return " ".join(match.group(1).split()) if match else ""


def _kind(key: str) -> tuple[str, tuple[str, ...]]:
    info = field_info(key)
    choices = info.metadata.get("choices")
    base = base_type(field_annotation(key))
    if base is bool:
        return "bool", ("true", "false")
    if choices and base is not list:
        return "choice", tuple(str(choice) for choice in choices)
    return {int: "int", float: "float", list: "list", dict: "mapping"}.get(base, "text"), ()


@functools.cache
def form_fields() -> tuple[FormField, ...]:
    """Every config field the form can set, in section order."""
    fields = []
    for key, section in FLAT_FIELDS.items():
        if key in OWN_FIELDS or section is None:
            continue
        info = field_info(key)
        kind, choices = _kind(key)
        help_text = info.metadata.get("help") or _docstring_help(SECTIONS[section], key)
        if not help_text:  # some data sections document nothing yet: at least say what it is
            help_text = f"{SECTION_TITLES.get(section, section)} setting: {key.replace('_', ' ')}"
        allowed = describe_allowed(info, field_annotation(key))
        fields.append(FormField(key, section, kind, choices, help_text, allowed))
    return tuple(fields)


def form_field(key: str) -> FormField:
    """The form field named ``key``; ``KeyError`` when there is none."""
    for item in form_fields():
        if item.key == key:
            return item
    raise KeyError(key)


def value_text(value: Any) -> str:
    """A value as the CLI writes it: lists comma-joined, mappings ``k=v,...``, booleans true/false."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(str(item) for item in value)
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items())
    return str(value)  # str(float) is the shortest text that reads back to the same number


def effective_values(template: str, overrides: dict[str, str]) -> dict[str, Any]:
    """The resolved value of every form field for ``template`` with ``overrides`` (CLI text).

    Raises:
        ConfigError: the exact one-line message `ocrq run` prints for the same choices.
    """
    config = resolve_config(template, overrides=overrides)
    return {item.key: config.get(item.key) for item in form_fields()}


def config_value(config: dict[str, Any], key: str) -> Any:
    """A field of a stored config (``config.to_dict()``: sections as nested dicts, or flat)."""
    if key in config and not isinstance(config[key], dict):
        return config[key]
    for value in config.values():
        if isinstance(value, dict) and key in value:
            return value[key]
    return None


def clone_overrides(config: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The template and the field overrides (CLI text) that rebuild a stored experiment's config.

    Only fields that differ from the template's values are returned; a stored value the form cannot
    express (a field this version no longer has, a value it refuses) is left out.
    """
    from pipeline.config import TEMPLATES

    template = config.get("template") if config.get("template") in TEMPLATES else next(iter(TEMPLATES))
    defaults = template_defaults(template)
    overrides: dict[str, str] = {}
    for item in form_fields():
        stored = config_value(config, item.key)
        if stored is None or stored == defaults.get(item.key):
            continue
        text = value_text(stored)
        try:
            effective_values(template, {**overrides, item.key: text})
        except ConfigError:
            continue
        overrides[item.key] = text
    return template, overrides


def template_defaults(template: str) -> dict[str, Any]:
    """Resolved values of a template without overrides."""
    return effective_values(template, {})


def default_of(key: str) -> Any:
    """A field's dataclass default (what applies when no template sets it)."""
    info = field_info(key)
    if info.default is not dataclasses.MISSING:
        return info.default
    return info.default_factory()  # type: ignore[misc]


__all__ = [
    "OWN_FIELDS",
    "SECTION_TITLES",
    "ConfigError",
    "FormField",
    "clone_overrides",
    "config_value",
    "default_of",
    "effective_values",
    "form_field",
    "form_fields",
    "template_defaults",
    "value_text",
]
