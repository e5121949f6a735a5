"""`ocrq tui`: the terminal UI over the store (browse, compare, launch and stop runs; works over SSH).

Textual is imported only when the command runs, so other commands start as fast as before.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from cli.console import CliError, UsageError
from store import Store, StoreError


def tui(
    experiment: Annotated[
        str | None,
        typer.Argument(help="Open this experiment (id, unique prefix or name) at start.", show_default=False),
    ] = None,
) -> None:
    """Open the terminal UI: live experiments, comparisons, studies, and a form that launches runs.

    Launched runs are separate `ocrq run` processes in their own session: they outlive the TUI and SSH.

    Press F1 in the TUI for every key.
    """
    from tui.model.graphics import detect_graphics

    try:
        graphics = detect_graphics(os.environ, is_tty=sys.stdout.isatty())
    except ValueError as error:
        raise UsageError(str(error)) from None
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise CliError("ocrq tui needs an interactive terminal; use `ocrq ls` / `ocrq show` in scripts")
    exp_id = None
    if experiment is not None:
        try:
            exp_id = Store().resolve_id(experiment)
        except StoreError as error:  # not found or ambiguous: say so before the screen takes over
            raise CliError(str(error)) from None
    from tui.app import run_tui

    run_tui(open_ref=exp_id, graphics=graphics)


def register(app: typer.Typer) -> None:
    """Add the `tui` command to the `ocrq` app."""
    app.command("tui", rich_help_panel="Browse")(tui)
