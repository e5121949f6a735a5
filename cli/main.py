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

from cli import (
    analyze_cmd,
    browse,
    configs,
    data_cmd,
    doctor_cmd,
    evaluate_cmd,
    import_cmd,
    manage,
    run,
    study_cmd,
    tui_command,
)
from cli.args import explain_extra_argument, prepare_args
from cli.console import CliError, UsageError, err, one_line
from cli.errors import describe_error

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
        if home.expanduser().exists() and not home.expanduser().is_dir():
            raise UsageError(f"--home '{home}' is a file, not a folder; give the folder of an ocrq store")
        # Children (detached runs, workers) inherit the choice through the environment.
        os.environ["OCRQ_HOME"] = str(home.expanduser().resolve())
    elif os.environ.get("OCRQ_HOME"):
        env_home = Path(os.environ["OCRQ_HOME"]).expanduser()
        if env_home.exists() and not env_home.is_dir():
            raise UsageError(
                f"OCRQ_HOME '{env_home}' is a file, not a folder; point it at the folder of an ocrq store"
            )


run.register(app)
import_cmd.register(app)
browse.register(app)
manage.register(app)
configs.register(app)
data_cmd.register(app)
evaluate_cmd.register(app)
analyze_cmd.register(app)
tui_command.register(app)
doctor_cmd.register(app)
study_cmd.register(app)


def main(argv: list[str] | None = None) -> int:
    """Entry point: runs the app and turns known errors into one line on stderr and an exit code.

    Returns 0 ok, 1 runtime error, 2 bad input, 130 interrupted (Ctrl-C, or SIGTERM during a run).
    """
    debug = os.environ.get("OCRQ_DEBUG", "") not in ("", "0")
    given = sys.argv[1:] if argv is None else list(argv)
    try:
        args = prepare_args(app, given)
        # Without standalone mode a command's `raise typer.Exit(code)` (and Typer's own Exit(130) for a
        # KeyboardInterrupt) comes back as the return value: it is the exit code.
        code = app(args=args, prog_name="ocrq", standalone_mode=False)
    except typer.Exit as exit_:
        code = exit_.exit_code
    except typer.Abort:
        err.print("ocrq: aborted")
        return 1
    except typer.TyperException as error:  # usage errors from the parser
        if debug:
            raise
        message = error.format_message() if hasattr(error, "format_message") else str(error)
        message = explain_extra_argument(app, given, message)
        err.print(f"ocrq: error: {one_line(message)}", markup=False)
        return getattr(error, "exit_code", 2)
    except CliError as error:
        if debug:
            raise
        err.print(f"ocrq: error: {one_line(error)}", markup=False)
        return error.exit_code
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:  # `ocrq ls | head`: the reader left; say nothing more to it
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except Exception as error:
        if debug:
            raise
        message, code = describe_error(error)
        err.print(f"ocrq: error: {message}", markup=False)
        return code
    code = code if isinstance(code, int) and not isinstance(code, bool) else 0
    if code == 130:
        err.print("ocrq: interrupted", markup=False)
    return code


def entry() -> None:
    try:
        code = main()
    except KeyboardInterrupt:  # a second Ctrl-C while main() was already on its way out
        code = 130
    sys.exit(code)


if __name__ == "__main__":
    entry()
