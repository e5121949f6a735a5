"""Checks on the raw command line before Typer parses it.

Two things Typer does not do: rewrite seed-style config flags only for the commands that have config
flags (so `ocrq evaluate --skip-bad-samples` keeps its own meaning), and refuse an option given twice
(Typer keeps the last value silently, so `--epochs 1 --epochs 50` would train 50 epochs unnoticed).
"""

from __future__ import annotations

import re
from typing import Any

import typer

from cli.config_options import boolean_flag_value, normalize_config_flags
from cli.console import UsageError, terminal_safe


def prepare_args(app: typer.Typer, args: list[str]) -> list[str]:
    """`args` ready for the app: config flags normalized where the command has them; repeats refused.

    Raises:
        UsageError: an option that takes one value was given more than once.
    """
    command = typer.main.get_command(app)
    chain = _command_chain(command, args)
    if any(_has_config_options(level) for level, _ in chain):
        args = normalize_config_flags(args)
        chain = _command_chain(command, args)
    for level, tokens in chain:
        _refuse_repeated_options(level, tokens)
    return args


def explain_extra_argument(app: typer.Typer, args: list[str], message: str) -> str:
    """Typer's "Got unexpected extra argument (maybe)", reworded when the word follows a boolean config flag.

    A bare boolean takes no value unless the value is a boolean word, so `--render-ahead maybe` leaves
    `maybe` over, and the parser's message does not say which flag it belonged to.
    """
    extra = re.fullmatch(r"Got unexpected extra argument(?:s|\(s\))? \((.*)\)", message.strip())
    chain = _command_chain(typer.main.get_command(app), args)
    if extra is None or not any(_has_config_options(level) for level, _ in chain):
        return message
    first = extra.group(1).split(" ")[0]
    for flag, following in zip(args, args[1:], strict=False):
        takes = boolean_flag_value(flag)
        if following == first and takes is not None:
            return f"{flag} takes {takes}; got '{terminal_safe(first)}'"
    return message


def _has_config_options(command: Any) -> bool:
    return any((param.name or "").startswith("cfg__") for param in command.params)


def _options(command: Any) -> dict[str, Any]:
    """Every spelling of the command's options -> the option."""
    spellings = {}
    for param in command.params:
        if getattr(param, "param_type_name", "") != "option":
            continue
        for spelling in [*param.opts, *param.secondary_opts]:
            spellings[spelling] = param
    return spellings


def _takes_value(option: Any) -> bool:
    return not (getattr(option, "is_flag", False) or getattr(option, "count", False))


def _command_chain(command: Any, args: list[str]) -> list[tuple[Any, list[str]]]:
    """[(command, its own tokens)] from the root group down to the subcommand the args name."""
    chain: list[tuple[Any, list[str]]] = []
    index = 0
    while True:
        spellings = _options(command)
        subcommands = getattr(command, "commands", None)
        start = index
        while index < len(args):
            token = args[index]
            if token == "--":
                index = len(args)
                break
            if subcommands is not None and not token.startswith("-"):
                break  # the subcommand's name
            option = spellings.get(token.split("=", 1)[0]) if token.startswith("-") else None
            index += 1
            if option is not None and "=" not in token and _takes_value(option) and index < len(args):
                index += 1  # the option's value, whatever it looks like
        chain.append((command, args[start:index]))
        if subcommands is None or index >= len(args):
            return chain
        command = subcommands.get(args[index])
        index += 1
        if command is None:
            return chain  # an unknown command: Typer says so


def _refuse_repeated_options(command: Any, tokens: list[str]) -> None:
    spellings = _options(command)
    seen: dict[str, list[str]] = {}
    index = 0
    while index < len(tokens):
        token = tokens[index]
        name, eq, inline = token.partition("=")
        option = spellings.get(name) if token.startswith("-") else None
        index += 1
        if option is None:
            continue
        value = None
        if _takes_value(option):
            if eq:
                value = inline
            elif index < len(tokens):
                value = tokens[index]
                index += 1
        if option.multiple or option.name in ("help",):
            continue
        given = f"{name} {value}" if value is not None else name
        seen.setdefault(option.name, []).append(given)
    for uses in seen.values():
        if len(uses) > 1:
            shown = " and ".join(f"'{use}'" for use in uses)
            raise UsageError(f"{uses[0].split()[0]} is given {len(uses)} times ({shown}); give it once")
