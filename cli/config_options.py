"""Every config field as a CLI flag, generated from the config schema.

Each flag accepts both spellings (`--qat-epochs` and seed-style `--qat_epochs`). Values are parsed by
`pipeline.config` itself, so a bad value gets the same one-line message as in a config file or the TUI
form. Boolean flags work bare (`--enable_pruning`) or with a value (`--symmetric_quantization false`).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.markup import escape

from pipeline.config import FLAT_FIELDS
from pipeline.config.experiment import field_annotation
from pipeline.config.fields import base_type
from pipeline.config.schema import OWN_FIELDS, field_schema

# Fields that `ocrq run` declares itself (arguments with their own semantics).
_OWN = set(OWN_FIELDS)


def field_help(key: str) -> str:
    """Help for a field with what it allows, as `--help` shows it."""
    schema = field_schema(key)
    return f"{schema.help} [{schema.allowed}]" if schema.help else f"[{schema.allowed}]"


def field_default(key: str) -> Any:
    return field_schema(key).default()


@functools.cache
def config_parameters() -> tuple[inspect.Parameter, ...]:
    """One keyword-only parameter per config field, named `cfg__<field>`, each a string option."""
    params = []
    for key in FLAT_FIELDS:
        if key in _OWN:
            continue
        is_bool = base_type(field_annotation(key)) is bool
        # Seed-style `--qat_epochs` is rewritten to `--qat-epochs` by normalize_config_flags().
        option = typer.Option(
            f"--{key.replace('_', '-')}",
            help=escape(field_help(key)),
            rich_help_panel=field_schema(key).section_title,
            show_default=False,
            metavar="BOOL" if is_bool else _metavar(key),
        )
        params.append(
            inspect.Parameter(
                f"cfg__{key}",
                inspect.Parameter.KEYWORD_ONLY,
                default=None,
                annotation=Annotated[str | None, option],
            )
        )
    return tuple(params)


def _metavar(key: str) -> str:
    base = base_type(field_annotation(key))
    return {int: "INT", float: "FLOAT", list: "LIST", dict: "K=V,..."}.get(base, "TEXT")


def with_config_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Append the config flags to a command function's signature; they arrive as `cfg__<field>` kwargs."""
    signature = inspect.signature(func, eval_str=True)
    own = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    func.__signature__ = signature.replace(parameters=[*own, *config_parameters()])  # type: ignore[attr-defined]
    func.__annotations__ = {**func.__annotations__, **{p.name: p.annotation for p in config_parameters()}}
    return func


def overrides_from_kwargs(kwargs: dict[str, Any]) -> dict[str, str]:
    """The config flags the user actually gave, as {field: text}."""
    return {key[5:]: value for key, value in kwargs.items() if key.startswith("cfg__") and value is not None}


_BOOL_WORDS = {"true", "false", "yes", "no", "on", "off", "1", "0"}


@functools.cache
def _bool_flags() -> dict[str, str]:
    """`--enable-pruning`/`--enable_pruning`/`--no-enable-pruning` -> canonical `--enable-pruning`."""
    flags = {}
    for key in FLAT_FIELDS:
        if key in _OWN or base_type(field_annotation(key)) is not bool:
            continue
        dashed = key.replace("_", "-")
        for spelling in {dashed, key}:
            flags[f"--{spelling}"] = f"--{dashed}"
            flags[f"--no-{spelling}"] = f"--{dashed}"
            flags[f"--no_{spelling}"] = f"--{dashed}"
    return flags


@functools.cache
def _underscore_flags() -> dict[str, str]:
    return {f"--{key}": f"--{key.replace('_', '-')}" for key in FLAT_FIELDS if "_" in key and key not in _OWN}


def boolean_flag_value(token: str) -> str | None:
    """What a boolean config flag may be followed by: "true or false" (`--ema`, `--enable_pruning`),
    "no value" (`--no-ema`), or None when `token` is not a boolean config flag."""
    canonical = _bool_flags().get(token)
    if canonical is None:
        return None
    negated = token.startswith(("--no-", "--no_")) and token not in (canonical, canonical.replace("-", "_"))
    return "no value" if negated else "true or false (or nothing, meaning true)"


def normalize_config_flags(args: list[str]) -> list[str]:
    """Accept seed-style spellings: `--qat_epochs 5`, bare booleans (`--enable_pruning`), `--no-ema`,
    and booleans with a value (`--symmetric_quantization false`)."""
    flags = _bool_flags()
    underscores = _underscore_flags()
    result: list[str] = []
    index = 0
    while index < len(args):
        token = args[index]
        if token == "--":
            result.extend(args[index:])
            break
        name, eq, value = token.partition("=")
        if name in underscores:
            token = underscores[name] + eq + value
        canonical = flags.get(token)
        if canonical is None:
            result.append(token)
        elif token.startswith(("--no-", "--no_")) and token not in (canonical, canonical.replace("-", "_")):
            result.extend([canonical, "false"])
        elif index + 1 < len(args) and args[index + 1].lower() in _BOOL_WORDS:
            result.extend([token, args[index + 1]])
            index += 1
        else:
            result.extend([token, "true"])
        index += 1
    return result
