"""Declarative config fields: one place that knows each option's type, range, choices and help text.

Sections declare fields with :func:`option`; :func:`validate_section` checks them in ``__post_init__``
and :func:`coerce_value` turns CLI text or JSON values into the declared type. Every error is one line
that names the field, the value and what is allowed, so the CLI, config files and the TUI form all
speak the same language.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from collections.abc import Callable
from dataclasses import MISSING, Field
from typing import Any, Literal

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


class ConfigError(ValueError):
    """A config value, key or combination that ocrq refuses, with a one-line message."""


def option(
    default: Any = MISSING,
    *,
    help: str,
    choices: tuple[Any, ...] | None = None,
    low: float | None = None,
    high: float | None = None,
    default_factory: Any = MISSING,
) -> Any:
    """Declare a config field with its help text and the values it allows."""
    metadata = {"help": help, "choices": choices, "low": low, "high": high}
    if default_factory is not MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def describe_allowed(f: Field, annotation: Any = None) -> str:
    """Human words for what a field allows, used in errors and in `--help`."""
    meta = f.metadata
    if meta.get("choices"):
        return ", ".join(_show(c) for c in meta["choices"])
    base = base_type(annotation if annotation is not None else f.type)
    low, high = meta.get("low"), meta.get("high")
    if base in (int, float) and (low is not None or high is not None):
        return f"{_show(low) if low is not None else '-inf'}..{_show(high) if high is not None else 'inf'}"
    if base is bool:
        return "true or false"
    if base is list:
        return "a comma-separated list"
    if base is dict:
        return "key=value pairs separated by commas"
    return {int: "an integer", float: "a number", str: "text"}.get(base, "a value")


def _show(value: Any) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e6:
        return str(int(value)) if value == int(value) and not isinstance(value, bool) else str(value)
    return str(value)


@functools.cache
def resolved_hints(cls: type) -> dict[str, Any]:
    """Field types with string annotations resolved (modules use `from __future__ import annotations`)."""
    return typing.get_type_hints(cls)


def base_type(annotation: Any) -> type:
    """The concrete type of an annotation, looking through Optional and Literal."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return base_type(args[0])
    if origin is Literal:
        return type(typing.get_args(annotation)[0])
    if origin in (list, tuple):
        return list
    if origin is dict:
        return dict
    return annotation if isinstance(annotation, type) else object


def is_optional(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType) and type(None) in typing.get_args(
        annotation
    )


# Fields whose values have a grammar of their own (a `variants` entry carries settings), parsed by the
# module that owns it: name -> parse(raw, from_text) returning the stored value or raising ConfigError.
FIELD_PARSERS: dict[str, Callable[[Any, bool], Any]] = {}


def coerce_value(name: str, annotation: Any, raw: Any, *, from_text: bool) -> Any:
    """Turn a CLI string (``from_text``) or a JSON value into the field's type, or raise ConfigError."""
    if raw is None or (from_text and isinstance(raw, str) and raw.lower() in ("none", "null")):
        if is_optional(annotation):
            return None
        raise ConfigError(f"{name}=None is not allowed; {name} needs a value")
    alternatives = _union_alternatives(annotation)
    if len(alternatives) > 1:
        return _coerce_union(name, alternatives, raw, from_text)
    base = base_type(annotation)
    shown = raw if not isinstance(raw, str) else repr(raw)
    if base is bool:
        if isinstance(raw, bool):
            return raw
        if from_text and isinstance(raw, str) and raw.lower() in _TRUE | _FALSE:
            return raw.lower() in _TRUE
        raise ConfigError(f"{name}={shown} is not a boolean; allowed true or false")
    if base is int:
        if isinstance(raw, bool):
            raise ConfigError(f"{name}={shown} is not an integer")
        if isinstance(raw, int):
            return raw
        if isinstance(raw, float) and raw.is_integer() and not from_text:
            return int(raw)
        if from_text and isinstance(raw, str):
            try:
                return int(raw.replace("_", ""))
            except ValueError:
                pass
        raise ConfigError(f"{name}={shown} is not an integer")
    if base is float:
        if isinstance(raw, bool):
            raise ConfigError(f"{name}={shown} is not a number")
        if isinstance(raw, int | float):
            value = float(raw)
        elif from_text and isinstance(raw, str):
            try:
                value = float(raw)
            except ValueError:
                raise ConfigError(f"{name}={shown} is not a number") from None
        else:
            raise ConfigError(f"{name}={shown} is not a number")
        if not math.isfinite(value):
            raise ConfigError(f"{name}={shown} is not a finite number")
        return value
    if base is str:
        if isinstance(raw, str):
            return raw
        raise ConfigError(f"{name}={shown} is not text")
    if base is list:
        if from_text and isinstance(raw, str):
            return [item.strip() for item in raw.split(",") if item.strip()]
        if isinstance(raw, list) and all(isinstance(item, str | int | float) for item in raw):
            return list(raw)
        raise ConfigError(
            f"{name}={shown} is not a list; allowed a list of names (comma-separated on the CLI)"
        )
    if base is dict:
        return _coerce_mapping(name, raw, from_text)
    return raw


def _union_alternatives(annotation: Any) -> list[Any]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [a for a in typing.get_args(annotation) if a is not type(None)]
    return [annotation]


def _coerce_union(name: str, alternatives: list[Any], raw: Any, from_text: bool) -> Any:
    """A field such as `list[str] | str`: CLI text with a comma is a list, other text the plain type."""
    bases = [base_type(a) for a in alternatives]
    if from_text and isinstance(raw, str) and list in bases and str in bases:
        chosen = alternatives[bases.index(list if "," in raw else str)]
        return coerce_value(name, chosen, raw, from_text=True)
    errors = []
    for alternative in alternatives:
        try:
            return coerce_value(name, alternative, raw, from_text=from_text)
        except ConfigError as error:
            errors.append(str(error))
    raise ConfigError(errors[0])


def _coerce_mapping(name: str, raw: Any, from_text: bool) -> dict[str, float]:
    if from_text and isinstance(raw, str):
        pairs: dict[str, Any] = {}
        for item in filter(None, (part.strip() for part in raw.split(","))):
            key, sep, value = item.partition("=")
            if not sep:
                raise ConfigError(
                    f"{name}={raw!r} is not a mapping; allowed key=value pairs like words=3,numbers=1"
                )
            try:
                pairs[key.strip()] = float(value)
            except ValueError:
                raise ConfigError(f"{name}: {key.strip()}={value!r} is not a number") from None
        return pairs
    if isinstance(raw, dict) and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in raw.values()
    ):
        return {str(k): float(v) for k, v in raw.items()}
    raise ConfigError(f"{name}={raw!r} is not a mapping of names to numbers")


def validate_section(section: Any) -> None:
    """Check every declared field of a dataclass instance against its type, choices and range."""
    hints = resolved_hints(type(section))
    for f in dataclasses.fields(section):
        if "help" not in f.metadata:
            continue
        value = getattr(section, f.name)
        annotation = hints[f.name]
        value = coerce_value(f.name, annotation, value, from_text=False)
        object.__setattr__(section, f.name, value)
        if value is None:
            continue
        choices = f.metadata.get("choices")
        items = value if isinstance(value, list) else [value]
        if choices:
            for item in items:
                if item not in choices:
                    raise ConfigError(
                        f"{f.name}={_show(item)} is not supported; allowed {describe_allowed(f, annotation)}"
                    )
        low, high = f.metadata.get("low"), f.metadata.get("high")
        if isinstance(value, int | float) and not isinstance(value, bool):
            if (low is not None and value < low) or (high is not None and value > high):
                raise ConfigError(
                    f"{f.name}={_show(value)} is out of range; allowed {describe_allowed(f, annotation)}"
                )
