"""`ocrq doctor`: check the store for damage and repair it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cli.console import CliError, UsageError, info, out, print_json
from store import SchemaTooNew, StoreError
from store.doctor import FOUND, NEEDS_YES, REPAIRED, DoctorReport, run_doctor

_OUTCOME_STYLES = {FOUND: "yellow", REPAIRED: "green", NEEDS_YES: "yellow"}


def _home() -> Path:
    # The same resolution as Store(): --home (exported by the root callback), $OCRQ_HOME, ~/.ocrq.
    return Path(os.environ.get("OCRQ_HOME") or "~/.ocrq").expanduser().absolute()


def _table(report: DoctorReport) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("problem", "subject", "detail", "fix", "outcome"):
        table.add_column(column, overflow="fold")
    for problem in report.problems:
        fix = problem.fix + (" (needs --yes)" if problem.deletes else "")
        style = _OUTCOME_STYLES.get(problem.outcome, "red")
        table.add_row(problem.kind, problem.subject, problem.detail, fix, f"[{style}]{problem.outcome}[/]")
    return table


def _summary_line(report: DoctorReport) -> str:
    if not report.problems:
        return f"store at {report.home}: healthy"
    remaining = report.remaining
    if not report.repaired:
        hint = "ocrq doctor --repair fixes what deletes nothing; --repair --yes also deletes"
        return f"{len(report.problems)} problem(s) in the store at {report.home}; {hint}"
    repaired = len(report.problems) - len(remaining)
    if not remaining:
        return f"repaired {repaired} problem(s); the store at {report.home} is healthy"
    needs_yes = sum(problem.outcome == NEEDS_YES for problem in remaining)
    hint = f" ({needs_yes} need --yes: they delete something)" if needs_yes else ""
    return f"repaired {repaired} problem(s), {len(remaining)} remain{hint}"


def doctor(
    repair: Annotated[
        bool, typer.Option("--repair", help="Fix what can be fixed without deleting anything.")
    ] = False,
    yes: Annotated[
        bool,
        typer.Option(
            "--yes",
            "-y",
            help="With --repair, also delete: stale temp files, empty orphan folders, entries whose folder is gone.",
        ),
    ] = False,
    json_: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check the store for damage and repair it.

    Finds a corrupt index, orphan or missing experiment folders, stale temp files, runs stuck
    `running`/`created` whose process is dead, and model/ONNX files whose size or sha256 is not the
    recorded one. Exit 0 when healthy (or everything was repaired), 1 when problems remain, 2 on bad input.
    """
    if yes and not repair:
        raise UsageError("--yes only goes with --repair (it allows the repair to delete files)")
    home = _home()
    if not home.exists():
        raise UsageError(f"no ocrq store at {home}; give --home or set OCRQ_HOME")
    if not home.is_dir():
        raise UsageError(f"ocrq home {home} is not a folder")
    try:
        report = run_doctor(home, fix=repair, delete=yes)
    except SchemaTooNew as error:
        raise CliError(str(error)) from None
    except StoreError as error:
        raise CliError(f"cannot check the store: {error}") from None
    if json_:
        print_json(report.to_dict())
    else:
        if report.problems:
            out.print(_table(report))
        info(_summary_line(report))
    if not report.healthy:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("doctor", rich_help_panel="Organise")(doctor)
