"""The `ocrq` command: a Typer app whose commands live one group per module.

Commands that only read the store import neither torch nor onnxruntime nor optuna, so `ocrq ls`
starts in a fraction of a second; commands that compute import the pipeline inside their body.
"""

from __future__ import annotations

import os
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated

import typer

from cli import browse, configs, data_cmd, doctor_cmd, evaluate_cmd, manage, run, tui_command
from cli.config_options import normalize_config_flags
from cli.console import CliError, err

app = typer.Typer(
    name="ocrq",
    help="Train, compress and compare OCR text-line recognizers.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version() -> str:
    try:
        return version("ocrq")
    except PackageNotFoundError:
        return "0+unknown"


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"ocrq {_version()}")
        raise typer.Exit()


@app.callback()
def root(
    home: Annotated[
        Path | None,
        typer.Option("--home", help="ocrq home folder (default: $OCRQ_HOME or ~/.ocrq)", show_default=False),
    ] = None,
    version_: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """ocrq: a compression lab for OCR text-line recognizers."""
    if home is not None:
        # Children (detached runs, workers) inherit the choice through the environment.
        os.environ["OCRQ_HOME"] = str(home.expanduser().resolve())


run.register(app)
browse.register(app)
manage.register(app)
configs.register(app)
data_cmd.register(app)
evaluate_cmd.register(app)
tui_command.register(app)
doctor_cmd.register(app)


def main(argv: list[str] | None = None) -> int:
    """Entry point: runs the app and turns known errors into one line on stderr and an exit code."""
    args = normalize_config_flags(sys.argv[1:] if argv is None else list(argv))
    debug = os.environ.get("OCRQ_DEBUG", "") not in ("", "0")
    try:
        # Without standalone mode a command's `raise typer.Exit(code)` comes back as the return value.
        code = app(args=args, prog_name="ocrq", standalone_mode=False)
    except typer.Exit as exit_:
        return exit_.exit_code
    except typer.Abort:
        err.print("ocrq: aborted")
        return 1
    except typer.TyperException as error:  # usage errors from the parser
        if debug:
            raise
        message = error.format_message() if hasattr(error, "format_message") else str(error)
        err.print(f"ocrq: error: {' '.join(message.split())}", markup=False)
        return getattr(error, "exit_code", 2)
    except CliError as error:
        if debug:
            raise
        err.print(f"ocrq: error: {error}", markup=False)
        return error.exit_code
    except KeyboardInterrupt:
        err.print("ocrq: interrupted")
        return 130
    except Exception as error:  # an unknown failure: one line, the traceback with OCRQ_DEBUG=1
        if debug:
            raise
        err.print(
            f"ocrq: error: {type(error).__name__}: {error} (set OCRQ_DEBUG=1 for the traceback)", markup=False
        )
        return 1
    return code if isinstance(code, int) and not isinstance(code, bool) else 0


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
