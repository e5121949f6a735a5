"""One description of every config field, shared by the CLI flags, the TUI launch form and search spaces:
its section, kind, allowed values, help and default. Built from the config dataclasses alone (no torch).
"""

from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass
from typing import Any

from pipeline.config.experiment import FLAT_FIELDS, SECTIONS, field_annotation, field_info
from pipeline.config.fields import base_type, describe_allowed

# Fields with a place of their own in every interface (a positional template, --name, --mode).
OWN_FIELDS = ("template", "name", "mode")
SECTION_TITLES = {
    "model": "Model",
    "data": "Data",
    "synthetic": "Synthetic text",
    "augment": "Augmentation",
    "train": "Training",
    "quantization": "Quantization",
    "distillation": "Distillation",
    "pruning": "Pruning",
    "deploy": "Deployment and variants",
}


@dataclass(frozen=True)
class FieldSchema:
    """One config field.

    Attributes:
        key: The flat field name (`qat_epochs`); the CLI flag is `--qat-epochs`.
        section: The config section that holds it (None for top-level fields).
        kind: bool, choice, int, float, text, list or mapping.
        choices: The allowed values of a choice field, as text.
        help: What the field does (its declared help, else its section docstring's entry).
        allowed: What values it accepts, in the words of the config's own messages.
    """

    key: str
    section: str | None
    kind: str
    choices: tuple[str, ...]
    help: str
    allowed: str

    @property
    def flag(self) -> str:
        return f"--{self.key.replace('_', '-')}"

    @property
    def section_title(self) -> str:
        return SECTION_TITLES.get(self.section or "", "Other")

    def default(self) -> Any:
        """The dataclass default (what applies when no template sets the field)."""
        info = field_info(self.key)
        if info.default is not dataclasses.MISSING:
            return info.default
        return info.default_factory()  # type: ignore[misc]


def _docstring_help(cls: type, key: str) -> str:
    """A field's entry in its section's `Attributes:` docstring (data sections declare help there)."""
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
def field_schemas() -> tuple[FieldSchema, ...]:
    """Every config field, in section order."""
    fields = []
    for key, section in FLAT_FIELDS.items():
        info = field_info(key)
        kind, choices = _kind(key)
        help_text = info.metadata.get("help") or (_docstring_help(SECTIONS[section], key) if section else "")
        allowed = describe_allowed(info, field_annotation(key))
        fields.append(FieldSchema(key, section, kind, choices, help_text, allowed))
    return tuple(fields)


def field_schema(key: str) -> FieldSchema:
    """The schema of one field; KeyError when there is none."""
    for item in field_schemas():
        if item.key == key:
            return item
    raise KeyError(key)
