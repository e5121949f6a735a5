"""`ocrq ls`, `ocrq show`, `ocrq compare`: read the store, print tables or JSON. No torch imported."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from cli.analyze_cmd import stored_flips
from cli.console import (
    UsageError,
    fmt_pct,
    fmt_ratio,
    fmt_time,
    info,
    out,
    print_json,
    terminal_safe,
    write_table,
)
from cli.import_view import print_line_sets, print_node_sensitivity
from cli.resolve import resolve, resolve_all
from store import STATUSES, SUMMARY_FIELDS, Store
from store.comparison import config_differences, metric_summary
from store.display import (
    ANATOMY_COLUMNS,
    EPOCH_COLUMNS,
    VARIANT_COLUMNS,
    anatomy_rows,
    epoch_cells,
    ordered_variants,
    variant_cells,
)

SORTABLE = tuple(SUMMARY_FIELDS)


def _study(ref: str) -> dict[str, Any]:
    from store import AmbiguousId, StudyNotFound

    try:
        return Store().get_study(ref)
    except (StudyNotFound, AmbiguousId) as error:
        raise UsageError(str(error)) from None


def _add_trial_states(study: dict[str, Any], rows: list[dict[str, Any]]) -> str | None:
    """Put each trial experiment's state, read from the study's Optuna storage (its one record), on its row
    as ``trial_state``; returns why the storage could not be read, if it could not."""
    from cli.study_common import quiet_optuna, storage_url_of
    from pipeline.study.storage import StudyReader

    quiet_optuna()
    trials = StudyReader().read(study["name"], storage_url_of(Store(), study))
    states = {trial["number"]: trial["state"] for trial in trials.trials}
    for row in rows:
        if row.get("trial_number") is not None:
            row["trial_state"] = states.get(row["trial_number"])
    return trials.error


def ls(
    status: Annotated[
        str | None,
        typer.Option("--status", "-s", help=f"Only this status: {', '.join(STATUSES)}.", show_default=False),
    ] = None,
    template: Annotated[
        str | None, typer.Option("--template", "-t", help="Only this template.", show_default=False)
    ] = None,
    tag: Annotated[
        str | None, typer.Option("--tag", help="Only experiments with this tag.", show_default=False)
    ] = None,
    text: Annotated[
        str | None,
        typer.Option(
            "--grep",
            "-g",
            help="Only experiments whose id, name, model, tags or note contain this text.",
            show_default=False,
        ),
    ] = None,
    sort: Annotated[
        str,
        typer.Option("--sort", help="Sort by any column (created, name, status, best_cer, size_ratio, ...)."),
    ] = "created",
    ascending: Annotated[bool, typer.Option("--asc", help="Sort ascending (default: descending).")] = False,
    all_: Annotated[bool, typer.Option("--all", "-a", help="Include deleted experiments.")] = False,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit",
            "-n",
            help="Show at most this many; 0 = all (default: 50 in the table, all with --json/-q).",
            min=0,
            show_default=False,
        ),
    ] = None,
    study: Annotated[
        str | None,
        typer.Option("--study", help="Only the trials of this study (name or id).", show_default=False),
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print a JSON list of summaries.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print ids only.")] = False,
) -> None:
    """List experiments."""
    if status is not None and status not in STATUSES:
        raise UsageError(f"--status '{status}' is not a status; allowed {', '.join(STATUSES)}")
    if sort not in SORTABLE:
        raise UsageError(f"--sort '{sort}' is not a column; allowed {', '.join(SORTABLE)}")
    study_doc = _study(study) if study is not None else None
    rows = Store().list_experiments(
        status=status,
        template=template,
        tag=tag,
        text=text,
        sort=sort,
        descending=not ascending,
        include_deleted=all_,
        study_id=study_doc["id"] if study_doc is not None else None,
    )
    total = len(rows)
    if limit is None:
        limit = 0 if (json_ or quiet) else 50  # a terminal shows a page; scripts get everything
    if limit:
        rows = rows[:limit]
    storage_error = _add_trial_states(study_doc, rows) if study_doc is not None and not quiet else None
    if storage_error:
        typer.echo(f"trial states unknown: {storage_error}", err=True)
    if json_:
        print_json(rows)
        return
    if quiet:
        for row in rows:
            typer.echo(row["id"])
        return
    if not rows:
        typer.echo(
            "no experiments"
            + (" match" if any((status, template, tag, text)) else " yet: try `ocrq run --template smoke`"),
            err=True,
        )
        return
    headers = ["id", "name", "template", "model", "status", "CER", "EM", "size×", "speed×", "created", "tags"]
    body, styles = [], []
    for row in rows:
        status = row.get("status", "?") + (" (deleted)" if row.get("deleted") else "")
        body.append(
            [
                row["id"][:8],
                row.get("name") or "-",
                row.get("template") or "-",
                row.get("model") or "-",
                status,
                fmt_pct(row.get("best_cer")),
                fmt_pct(row.get("best_em"), 1),
                fmt_ratio(row.get("size_ratio")),
                fmt_ratio(row.get("speedup")),
                fmt_time(row.get("created")),
                ",".join(row.get("tags") or []),
            ]
        )
        styles.append({4: _STATUS_STYLE.get(row.get("status", ""), None)})
        if study_doc is not None:
            body[-1].append(_trial_cell(row))
    if study_doc is not None:
        headers.append("trial (Optuna)")
    write_table(
        headers,
        body,
        right={"CER", "EM", "size×", "speed×"},
        max_width={"name": 28, "tags": 24},
        styles=styles,
    )
    if total > len(rows):
        typer.echo(f"showing {len(rows)} of {total} experiments; -n 0 shows all", err=True)


def _trial_cell(row: dict[str, Any]) -> str:
    if row.get("trial_number") is None:
        return "baseline"
    return f"#{row['trial_number']} {row.get('trial_state') or '?'}"


_STATUS_STYLE = {
    "finished": "green",
    "running": "cyan",
    "failed": "red",
    "crashed": "red",
    "missing": "red",
    "interrupted": "yellow",
}


def _status(row: dict[str, Any]) -> str:
    status = row.get("status", "?")
    label = f"[{_STATUS_STYLE.get(status, 'white')}]{status}[/]"
    return label + (" [dim](deleted)[/]" if row.get("deleted") else "")


def show(
    ref: Annotated[str, typer.Argument(help="Experiment id, unique id prefix or name.")],
    json_: Annotated[
        bool, typer.Option("--json", help="Print the whole experiment as one JSON object.")
    ] = False,
    config: Annotated[bool, typer.Option("--config/--no-config", help="Include the resolved config.")] = True,
) -> None:
    """Show one experiment: config, epochs, variants, artifacts and figure paths."""
    store = Store()
    experiment = store.get(resolve(store, ref))
    if json_:
        print_json(experiment)
        return
    sections = (
        ("header", "config", "epochs", "variants", "evaluations", "artifacts")
        if config
        else ("header", "epochs", "variants", "evaluations", "artifacts")
    )
    print_experiment(experiment, sections=sections)


def print_result(store: Store, exp_id: str, document: dict[str, Any], *, json_: bool, quiet: bool) -> None:
    """What a command that ran an experiment prints at the end: `document` as JSON, the id alone with -q,
    else the variants table and where to look further."""
    if json_:
        print_json({**document, "path": str(store.experiment_dir(exp_id))})
    elif quiet:
        typer.echo(exp_id)
    else:
        print_experiment(store.get(exp_id), sections=("variants",))
        info(f"details: ocrq show {exp_id[:8]}")


def print_experiment(experiment: dict[str, Any], sections: tuple[str, ...]) -> None:
    """Human view of a full experiment document, one block per requested section.

    Text a user or a run wrote (name, tags, note, error, paths) is shown with control characters escaped
    and rich markup disabled, so it can neither drive the terminal nor restyle the output.
    """

    def text(value: Any) -> str:
        return escape(terminal_safe(value))

    if "header" in sections:
        out.print(f"[bold]{text(experiment['id'])}[/]  {text(experiment.get('name'))}  {_status(experiment)}")
        out.print(
            f"template {text(experiment.get('template'))} · model {text(experiment.get('model'))} · created {fmt_time(experiment.get('created'))}"
            + (f" · tags {text(', '.join(experiment['tags']))}" if experiment.get("tags") else "")
        )
        if experiment.get("study_id"):
            trial = experiment.get("trial_number")
            role = f"trial {trial}" if trial is not None else "baseline"
            out.print(
                f"{role} of study {text(experiment['study_id'][:8])} (`ocrq study show {text(experiment['study_id'][:8])}`)"
            )
        if experiment.get("note"):
            out.print(f"note: {text(experiment['note'])}")
        if experiment.get("error"):
            out.print(f"[red]error:[/] {text(experiment['error'])}", markup=True)
    if "config" in sections and experiment.get("config"):
        out.print("\n[bold]config[/]")
        for section, values in experiment["config"].items():
            if isinstance(values, dict):
                out.print(
                    f"  [cyan]{text(section)}[/] "
                    + text(" ".join(f"{k}={json.dumps(v)}" for k, v in values.items())),
                    markup=True,
                    soft_wrap=True,
                )
            else:
                out.print(f"  {terminal_safe(section)}={json.dumps(values)}", markup=False)
    if "epochs" in sections and experiment.get("epochs"):
        out.print("\n[bold]epochs[/]")
        out.print(epochs_table(experiment["epochs"]))
    if "variants" in sections and experiment.get("variants"):
        shapes = {v.get("latency_input") for v in experiment["variants"] if v.get("latency_input")}
        line = shapes.pop().removeprefix("1x") if len(shapes) == 1 else "32x256"
        out.print(f"\n[bold]variants[/] (test set; latency for one {escape(terminal_safe(line))} line)")
        out.print(variants_table(experiment["variants"]))
        anatomy = anatomy_rows(experiment["variants"])
        if anatomy:
            out.print(
                "\n[bold]bytes by kind[/] (ONNX files; bound = FP32 ONNX bytes / main weights, "
                "the ratio with free scales, biases and graph)"
            )
            table = Table(box=None, pad_edge=False, header_style="bold")
            for column in ANATOMY_COLUMNS:
                table.add_column(column, justify="left" if column == "variant" else "right", no_wrap=True)
            for row in anatomy:
                table.add_row(*(text(cell) for cell in row))
            out.print(table)
        print_line_sets(experiment["variants"])
        print_node_sensitivity(experiment["variants"])
    if "evaluations" in sections and experiment.get("evaluations"):
        out.print("\n[bold]evaluations[/]")
        for evaluation in experiment["evaluations"]:
            out.print(
                f"  {fmt_time(evaluation.get('created'))} {text(evaluation.get('variant'))} on {text(evaluation.get('data'))}: "
                f"CER {fmt_pct(evaluation.get('cer'))} EM {fmt_pct(evaluation.get('em'))} ({evaluation.get('samples')} lines)"
            )
    if "artifacts" in sections and experiment.get("artifacts"):
        out.print("\n[bold]artifacts[/]")
        table = Table(box=None, pad_edge=False, header_style="bold")
        for column, justify in (("kind", "left"), ("variant", "left"), ("bytes", "right"), ("path", "left")):
            table.add_column(column, justify=justify, overflow="fold")
        for artifact in experiment["artifacts"]:
            table.add_row(
                text(artifact["kind"]),
                text(artifact.get("variant") or "-"),
                f"{artifact['bytes']:,}",
                text(artifact["path"]),
            )
        out.print(table)


def epochs_table(epochs: list[dict[str, Any]]) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in EPOCH_COLUMNS:
        table.add_column(column, justify="left" if column == "phase" else "right")
    for epoch in epochs:
        table.add_row(*(escape(terminal_safe(cell)) for cell in epoch_cells(epoch)))
    return table


def variants_table(variants: list[dict[str, Any]], flips: dict[str, tuple[int, int]] | None = None) -> Table:
    """The comparison table, FP32 first; ratios are against FP32 ONNX. With `flips` (from `ocrq analyze`),
    a column of lines broke/fixed against FP32 follows ΔCER."""
    columns = list(VARIANT_COLUMNS)
    at = columns.index("ΔCER pp") + 1
    if flips:
        columns.insert(at, "flips -/+")
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in columns:
        table.add_column(
            column, justify="left" if column in ("variant", "backend", "guard") else "right", no_wrap=True
        )
    for variant in ordered_variants(variants):
        *cells, guard = (escape(terminal_safe(cell)) for cell in variant_cells(variant))
        if flips:
            broke_fixed = flips.get(variant.get("name"))
            cells.insert(at, f"-{broke_fixed[0]}/+{broke_fixed[1]}" if broke_fixed else "-")
        table.add_row(*cells, f"[red]{guard}[/]" if guard == "exceeded" else guard)
    return table


def compare(
    refs: Annotated[list[str], typer.Argument(help="Two or more experiment ids, prefixes or names.")],
    only_changed: Annotated[
        bool, typer.Option("--only-changed", help="Show only config fields that differ.")
    ] = False,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Compare experiments side by side: config, best and last metrics, variants."""
    if len(refs) < 2:
        raise UsageError(f"compare needs two or more experiments; got {len(refs)}")
    store = Store()
    experiments = store.compare(resolve_all(store, refs))
    config_rows = config_differences(experiments, only_changed=only_changed)
    metric_rows = metric_summary(experiments)
    if json_:
        print_json(
            {
                "experiments": [e["id"] for e in experiments],
                "config": config_rows,
                "metrics": [{"metric": r["metric"], "values": r["values"]} for r in metric_rows],
                "variants": {e["id"]: e.get("variants", []) for e in experiments},
                "flips": {
                    e["id"]: {name: {"broke": b, "fixed": f} for name, (b, f) in stored_flips(e).items()}
                    for e in experiments
                },
            }
        )
        return
    ids = [e["id"][:8] for e in experiments]
    table = Table(
        title="config" + (" (only changed)" if only_changed else ""),
        box=None,
        pad_edge=False,
        header_style="bold",
        title_justify="left",
    )
    table.add_column("field")
    for exp_id in ids:
        table.add_column(exp_id, overflow="fold")
    for row in config_rows:
        style = "yellow" if row["changed"] else None
        table.add_row(
            escape(terminal_safe(row["field"])),
            *[escape(terminal_safe(json.dumps(v))) for v in row["values"]],
            style=style,
        )
    out.print(table)
    table = Table(title="metrics", box=None, pad_edge=False, header_style="bold", title_justify="left")
    table.add_column("metric")
    for exp_id in ids:
        table.add_column(exp_id, justify="right")
    for row in metric_rows:
        table.add_row(row["metric"], *row["texts"])
    out.print(table)
    for experiment in experiments:
        if experiment.get("variants"):
            out.print(
                f"\n[bold]variants of {experiment['id'][:8]}[/] {escape(terminal_safe(experiment.get('name')))}"
            )
            out.print(variants_table(experiment["variants"], stored_flips(experiment)))


def register(app: typer.Typer) -> None:
    app.command("ls", rich_help_panel="Browse")(ls)
    app.command("show", rich_help_panel="Browse")(show)
    app.command("compare", rich_help_panel="Browse")(compare)
