"""The launch form's model: every config field with its section, kind, help and allowed values.

Built from `pipeline.config` alone (stdlib-only, no torch). Values are written exactly as the CLI
takes them (``--variants ort-fp32,ptq``), and validated by `pipeline.config` itself so the form
shows the same one-line messages as `ocrq run`.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

from pipeline.config import ConfigError, resolve_config
from pipeline.config.schema import OWN_FIELDS, FieldSchema, field_schema, field_schemas

# One config field as the launch form shows it: the schema the CLI flags and the resolver use too.
FormField = FieldSchema


@functools.cache
def form_fields() -> tuple[FormField, ...]:
    """Every config field the form can set, in section order (template, name and mode have their own inputs)."""
    fields = []
    for schema in field_schemas():
        if schema.key in OWN_FIELDS or schema.section is None:
            continue
        if not schema.help:  # some data sections document nothing yet: at least say what it is
            text = f"{schema.section_title.lower()} setting: {schema.key.replace('_', ' ')}"
            schema = dataclasses.replace(schema, help=text)
        fields.append(schema)
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
    return field_schema(key).default()


__all__ = [
    "OWN_FIELDS",
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
