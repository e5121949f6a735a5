"""`ocrq evaluate` and `ocrq export`: use a stored experiment's variants."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cli.console import CliError, UsageError, fmt_fixed, fmt_pct, info, out, print_json, terminal_safe
from cli.resolve import existing_folder, resolve
from store import Store


def _experiment_with_variant(store: Store, ref: str, variant: str) -> tuple[str, dict]:
    """The experiment `ref` names and its document; UsageError when it has no such variant."""
    exp_id = resolve(store, ref)
    existing_folder(store, exp_id)
    experiment = store.get(exp_id)
    names = [v["name"] for v in experiment.get("variants", [])]
    if variant not in names:
        known = ", ".join(names) or "none (the experiment has not finished evaluating)"
        raise UsageError(f"--variant '{variant}' is not in experiment {exp_id}; allowed {known}")
    return exp_id, experiment


def evaluate(
    ref: Annotated[str, typer.Argument(help="Experiment id, prefix or name.")],
    data: Annotated[
        str,
        typer.Option("--data", help="A label file (path<TAB>label), a folder holding one, or 'synthetic'."),
    ] = "synthetic",
    variant: Annotated[
        str, typer.Option("--variant", "-v", help="Which variant to run (see `ocrq show ID`).")
    ] = "fp32",
    count: Annotated[
        int | None,
        typer.Option("-n", "--count", help="Evaluate at most this many lines.", min=1, show_default=False),
    ] = None,
    fonts: Annotated[
        str, typer.Option("--fonts", help="Synthetic data: train, held_out or all fonts.")
    ] = "train",
    skip_bad: Annotated[
        bool, typer.Option("--skip-bad-samples", help="Skip bad label-file lines instead of stopping.")
    ] = False,
    threads: Annotated[int, typer.Option("--threads", help="CPU threads.", min=1)] = 1,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Measure a variant on a labelled folder or on fresh synthetic lines; write predictions.tsv and record it."""
    if fonts not in ("train", "held_out", "all"):
        raise UsageError(f"--fonts '{fonts}' is not allowed; allowed train, held_out, all")
    store = Store()
    exp_id, experiment = _experiment_with_variant(store, ref, variant)
    from pipeline.variants.evaluate_imported import evaluate_imported
    from pipeline.variants.evaluate_on_data import evaluate_experiment
    from pipeline.variants.manifest import ManifestError

    options = dict(variant=variant, data=data, count=count, fonts=fonts, skip_bad=skip_bad, threads=threads)
    try:
        if experiment.get("template") == "import":  # the import's own preprocessing and charset
            result = evaluate_imported(store.experiment_dir(exp_id), **options)
        else:
            result = evaluate_experiment(store.experiment_dir(exp_id), experiment["config"], **options)
    except ManifestError as error:  # the experiment folder is damaged or tampered with: not the user's input
        raise CliError(str(error)) from None
    except ValueError as error:
        raise UsageError(str(error)) from None
    record = result.record()
    store.record_evaluation(exp_id, record)
    store.record_artifact(
        exp_id,
        kind="predictions",
        path=str(result.predictions_path),
        bytes=result.predictions_path.stat().st_size,
        variant=variant,
    )
    if json_:
        print_json({"id": exp_id, **record})
        return
    m = result.metrics
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("dataset", "samples", "CER", "accuracy (EM)", "1 - NED", "label length"):
        table.add_column(column, justify="left" if column == "dataset" else "right")
    mean_length = m.label_chars / m.samples if m.samples else 0.0
    table.add_row(
        result.data, str(m.samples), fmt_pct(m.cer), fmt_pct(m.em), fmt_fixed(m.ned, 4), f"{mean_length:.1f}"
    )
    out.print(f"[bold]{exp_id[:8]}[/] variant [bold]{variant}[/]")
    out.print(table)
    info(f"lines resized as in training: {result.resize.describe()}")
    buckets = Table(
        title="by label length", box=None, pad_edge=False, header_style="bold", title_justify="left"
    )
    for column in ("length", "samples", "CER", "EM", "1 - NED"):
        buckets.add_column(column, justify="right")
    for bucket in m.to_dict().get("buckets", []):
        buckets.add_row(
            str(bucket["bucket"]),
            str(bucket["samples"]),
            fmt_pct(bucket["cer"]),
            fmt_pct(bucket["em"]),
            fmt_fixed(bucket["ned"], 4),
        )
    out.print(buckets)
    ops = m.to_dict().get("edits", {})
    if ops:
        out.print("errors: " + ", ".join(f"{k} {v}" for k, v in ops.items()))
    info(f"predictions: {result.predictions_path}")


def export(
    ref: Annotated[str, typer.Argument(help="Experiment id, prefix or name.")],
    variant: Annotated[str, typer.Option("--variant", "-v", help="Which variant to export.")] = "ort-fp32",
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            help="File or folder (ending in /) to write it to (default: current folder).",
            show_default=False,
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", "-f", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a variant's deployable model file (ONNX or a torch state dict) and print its path and size."""
    store = Store()
    exp_id, experiment = _experiment_with_variant(store, ref, variant)
    from pipeline.config.variant_specs import artifact_stem
    from pipeline.variants.load import deployable_artifact
    from pipeline.variants.manifest import ManifestError

    try:
        source = deployable_artifact(store.experiment_dir(exp_id), variant)
    except (ManifestError, FileNotFoundError) as error:
        raise CliError(str(error)) from None
    file_name = f"{exp_id[:8]}-{artifact_stem(variant)}{source.suffix}"
    if output is None:
        target = Path.cwd() / file_name
    elif output.endswith(("/", "\\")) or Path(output).is_dir():
        target = Path(output) / file_name
    else:
        target = Path(output)
    _refuse_inside_home(target, store.home)
    if target.exists() and not force:
        raise UsageError(f"'{target}' exists; pass --force to overwrite it")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".part")
    try:
        shutil.copyfile(source, tmp)
        tmp.replace(target)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk leaves no half-copied model behind
        raise
    typer.echo(f"{target}\t{target.stat().st_size} bytes")
    _tell_resize_rule(store.experiment_dir(exp_id), experiment, source)


def _tell_resize_rule(experiment_dir: Path, experiment: dict, artifact: Path) -> None:
    """Say how the exported model's input lines must be resized (the rule it was trained with)."""
    from pipeline.variants.manifest import read_resize_rule
    from pipeline.variants.resize import onnx_resize_rule

    rule = read_resize_rule(experiment_dir)
    if rule is None and experiment.get("template") != "import":  # made before the rule was recorded
        from pipeline.config import config_from_dict
        from pipeline.models import model_info
        from pipeline.variants.resize import experiment_resize_rule

        config = config_from_dict(experiment["config"])
        stride = model_info(config.model.model, image_height=config.synthetic.image_height)["width_multiple"]
        rule = experiment_resize_rule(config, stride)
    if rule is None:
        return
    try:
        stamped = artifact.suffix == ".onnx" and onnx_resize_rule(artifact) is not None
    except ValueError:  # not an ONNX model we can read, or a damaged rule: say only what the manifest says
        stamped = False
    where = " (also in the file's ONNX metadata, keys ocrq.*)" if stamped else ""
    info(f"feed it lines resized as in training: {rule.describe()}{where}")


def _refuse_inside_home(target: Path, home: Path) -> None:
    """A usage error when `target` (links followed) is inside the ocrq home: the index, an experiment's
    record or an artifact there would be overwritten by the exported file."""
    resolved, home = target.expanduser().resolve(), home.expanduser().resolve()
    if resolved == home or resolved.is_relative_to(home):
        raise UsageError(
            f"--output '{terminal_safe(target)}' is inside the ocrq home {home}; "
            "export to a path outside it (the store's files would be overwritten)"
        )


def register(app: typer.Typer) -> None:
    app.command("evaluate", rich_help_panel="Deploy")(evaluate)
    app.command("export", rich_help_panel="Deploy")(export)
