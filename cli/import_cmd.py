"""`ocrq import`: a recognizer someone else exported to ONNX becomes an experiment (template `import`) whose
baseline is that file; ocrq prepares its graph, builds its variants and measures them like any other."""

from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path
from typing import Annotated

import typer

from cli.console import CliError, UsageError, err, fmt_pct, info, one_line, refuse_control_chars
from cli.resolve import LauncherId, is_new_id
from pipeline.config.import_options import NORMALIZE_CHOICES
from store import Store


def import_model(
    model: Annotated[
        Path, typer.Argument(help="The ONNX recognizer to import (CTC output, one image input).")
    ],
    data: Annotated[
        str,
        typer.Option(
            "--data",
            help="Lines to evaluate and calibrate on: a label file (path<TAB>label), a folder holding one, or 'synthetic'.",
        ),
    ],
    charset: Annotated[
        Path | None,
        typer.Option(
            "--charset",
            help="Characters of classes 1.. (one a line) when the model's metadata has none.",
            show_default=False,
        ),
    ] = None,
    height: Annotated[
        int | None,
        typer.Option(
            "--height", help="Line height, when the model's input does not fix it.", show_default=False
        ),
    ] = None,
    width: Annotated[
        int | None, typer.Option("--width", help="Line width of a fixed-width model.", show_default=False)
    ] = None,
    normalize: Annotated[
        str,
        typer.Option("--normalize", help="Input normalisation: paddle, imagenet, zero_one or minus_one_one."),
    ] = "paddle",
    blank: Annotated[
        int | None,
        typer.Option("--blank", help="Class index of the CTC blank (default 0).", show_default=False),
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Experiment name.", show_default=False)] = None,
    lines: Annotated[int, typer.Option("--lines", help="At most this many lines measured.")] = 300,
    calibration_lines: Annotated[
        int, typer.Option("--calibration-lines", help="Lines used for calibration (never measured).")
    ] = 64,
    sensitivity_lines: Annotated[
        int,
        typer.Option(
            "--sensitivity-lines",
            help="Lines the mixed variant scores each node on (never calibrated on or measured; "
            "at 64 a node's CER cost is mostly noise).",
        ),
    ] = 200,
    hard_lines: Annotated[
        int,
        typer.Option(
            "--hard-lines",
            help="Hard synthetic lines (held-out fonts, realism augmentations, half at low resolution) measured too; 0 for none.",
        ),
    ] = 100,
    observer: Annotated[
        str,
        typer.Option("--observer-type", help="Calibration: min_max, percentile, entropy, moving_average."),
    ] = "min_max",
    variants: Annotated[
        str,
        typer.Option(
            "--variants",
            help="Comma-separated: ort-int8-static, ort-int8-dynamic, ort-int4-weight, ort-int8-mixed.",
        ),
    ] = "ort-int8-static,ort-int8-dynamic,ort-int4-weight,ort-int8-mixed",
    budget: Annotated[
        float, typer.Option("--accuracy-budget-pp", help="Flag variants whose CER rises more than this (pp).")
    ] = 0.5,
    mixed_budget: Annotated[
        float, typer.Option("--mixed-budget-pp", help="CER rise the mixed variant stops at (pp).")
    ] = 0.1,
    mixed_min_ratio: Annotated[
        float,
        typer.Option(
            "--mixed-min-ratio",
            help="The mixed variant keeps no node float that takes it under this many times smaller.",
        ),
    ] = 3.0,
    threads: Annotated[int, typer.Option("--latency-threads", help="CPU threads for latency.", min=1)] = 1,
    tags: Annotated[
        list[str] | None, typer.Option("--tag", help="Tag the experiment (repeatable).", show_default=False)
    ] = None,
    experiment_id: LauncherId = None,
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON object with the result.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the experiment id.")] = False,
) -> None:
    """Import an ONNX recognizer, check it on --data, then build and measure ocrq's variants of it."""
    from pipeline.deploy.foreign_model import ImportRefused
    from pipeline.variants.catalog import import_kinds
    from pipeline.variants.imported import ImportSettings, import_config, prepare_import

    if normalize not in NORMALIZE_CHOICES:
        raise UsageError(f"--normalize '{normalize}' is not known; allowed {', '.join(NORMALIZE_CHOICES)}")
    chosen = tuple(v.strip() for v in variants.split(",") if v.strip())
    unknown = [v for v in chosen if v not in import_kinds()]
    if unknown or not chosen:
        raise UsageError(
            f"--variants '{unknown[0] if unknown else variants}' is not known for an import; allowed "
            f"{', '.join(import_kinds())}"
        )
    if observer not in ("min_max", "percentile", "entropy", "histogram", "moving_average"):
        raise UsageError(
            f"--observer-type '{observer}' is not known; allowed min_max, percentile, entropy, moving_average"
        )
    if name is not None:
        refuse_control_chars("--name", name)
    store = Store()
    if experiment_id is not None and not is_new_id(store, experiment_id):
        raise UsageError(f"--id '{experiment_id}' is not a free 12-hex-digit id")
    settings = ImportSettings(
        model=model,
        data=data,
        charset_file=charset,
        height=height,
        width=width,
        normalize=normalize,
        blank=blank,
        lines=lines,
        calibration_lines=calibration_lines,
        sensitivity_lines=sensitivity_lines,
        hard_lines=hard_lines,
        observer_type=observer,
        variants=chosen,
        accuracy_budget_pp=budget,
        mixed_budget_pp=mixed_budget,
        mixed_min_ratio=mixed_min_ratio,
        latency_threads=threads,
    )
    try:
        prepared = prepare_import(settings)
    except (ImportRefused, ValueError, FileNotFoundError) as error:
        raise UsageError(one_line(str(error))) from None
    config = import_config(settings, prepared.layout.height, name or f"import-{model.stem}").to_dict()
    exp_id = experiment_id or secrets.token_hex(6)
    summary = store.create_experiment(
        name=config["name"],
        template="import",
        config=config,
        model=f"import:{model.name}",
        command=["ocrq", *sys.argv[1:]],
        experiment_id=exp_id,
    )
    exp_id = summary["id"]
    if tags:
        store.tag(exp_id, add=tags)
    workdir = store.experiment_dir(exp_id)
    write_import_record(workdir, prepared, config)
    loud = not (json_ or quiet)
    if loud:
        info(f"experiment [bold]{exp_id}[/] in {workdir}")
        info(
            f"{model.name}: input {prepared.layout.channels}x{prepared.layout.height}x"
            f"{prepared.layout.fixed_width or 'W'} ({normalize}), {prepared.layout.classes} classes, charset from "
            f"{prepared.charset_source}; {prepared.data_label}"
        )
    outcome = run_recorded_import(store, exp_id, prepared, config, loud)
    _print_outcome(store, exp_id, outcome, json_=json_, quiet=quiet, what="import")


def write_import_record(workdir: Path, prepared, config: dict) -> None:
    """`import.json` (what re-measuring, evaluating and compressing the experiment again start from) and,
    as every experiment has, `config.json`."""
    from pipeline.core.atomic import write_text_atomic

    write_text_atomic(Path(workdir) / "config.json", json.dumps(config, indent=2))

    record = {
        "settings": prepared.settings.to_dict(), "layout": prepared.layout.to_dict(),
        "charset": prepared.charset_source, "data": prepared.data_label, "line_sets": prepared.lines.sizes(),
        "characters": prepared.charset.chars, "derived_from": prepared.source_experiment,
    }  # fmt: skip
    write_text_atomic(Path(workdir) / "import.json", json.dumps(record, indent=2))


def _print_outcome(store: Store, exp_id: str, outcome: dict, *, json_: bool, quiet: bool, what: str) -> None:
    from cli.browse import print_result

    document = {"id": exp_id, "status": outcome["status"], "error": outcome["error"]}
    print_result(store, exp_id, document, json_=json_, quiet=quiet)
    if outcome["status"] == "interrupted":
        raise typer.Exit(130)
    if outcome["status"] != "finished":
        if not json_:
            err.print(f"ocrq: error: {what} failed: {one_line(outcome['error'])}", markup=False)
        raise typer.Exit(1)


def open_import_for_compress(store: Store, source_id: str, config):
    """The import of experiment `source_id`, reopened from its folder for new variants; UsageError (exit
    2) when its import record, model copy or data can no longer give it."""
    from pipeline.deploy.foreign_model import ImportRefused
    from pipeline.variants.import_reopen import reopen_import
    from pipeline.variants.manifest import ManifestError

    try:
        prepared = reopen_import(store.experiment_dir(source_id), config)
    except (ManifestError, ImportRefused, ValueError, FileNotFoundError) as error:
        raise UsageError(
            f"experiment {source_id[:12]} cannot be compressed again: {one_line(str(error))}"
        ) from None
    prepared.source_experiment = source_id
    return prepared


def create_import_experiment(store: Store, prepared, config, **fields) -> str:
    """A new imported experiment (template `import`) for new variants of a reopened import, its import
    record written; returns its id."""
    original = Path(prepared.settings.model).name.removeprefix("imported-")
    summary = store.create_experiment(
        name=config.name or f"import-{Path(original).stem}", template="import", config=config.to_dict(),
        model=f"import:{original}", **fields,
    )  # fmt: skip
    write_import_record(store.experiment_dir(summary["id"]), prepared, config.to_dict())
    return summary["id"]


def compress_imported(
    store: Store,
    source_id: str,
    config,
    *,
    experiment_id: str | None,
    tags: list[str],
    json_: bool,
    quiet: bool,
) -> None:
    """`ocrq run --from IMPORTED --mode compress`: new variants of an imported model in a new experiment,
    made from that experiment's copy of the file, on its recorded line sets."""
    from cli.manage import check_tags

    if config.name:
        refuse_control_chars("--name", config.name)
    check_tags(tags)
    prepared = open_import_for_compress(store, source_id, config)
    exp_id = create_import_experiment(
        store, prepared, config, command=["ocrq", *sys.argv[1:]], experiment_id=experiment_id
    )
    if tags:
        store.tag(exp_id, add=tags)
    loud = not (json_ or quiet)
    if loud:
        info(
            f"experiment [bold]{exp_id}[/] in {store.experiment_dir(exp_id)} (variants of {source_id[:8]}'s imported model)"
        )
    outcome = run_recorded_import(store, exp_id, prepared, config.to_dict(), loud)
    _print_outcome(store, exp_id, outcome, json_=json_, quiet=quiet, what="run")


def run_recorded_import(store: Store, exp_id: str, prepared, config: dict, loud: bool) -> dict:
    """Run an import into experiment `exp_id`, recorded in the store; {status, error, rows}."""
    from pipeline.config import config_from_dict
    from pipeline.core.events import RunFailed
    from pipeline.variants.imported import run_import
    from store.recorder import StoreRecorder

    recorder = StoreRecorder(store, exp_id)

    def sink(event) -> None:
        recorder(event)
        if not loud:
            return
        kind = getattr(event, "kind", "")
        if kind == "variant_evaluated" and event.name == "fp32":
            m = event.metrics
            info(f"imported FP32 on {m.get('samples')} lines: CER {fmt_pct(m['cer'])}, EM {fmt_pct(m['em'])}")
        elif kind == "log":
            info(event.message)
        elif kind == "stage_started" and event.stage.startswith("variant:"):
            info(f"building {event.detail} ...")

    recorder.start_heartbeat()
    try:
        rows = run_import(prepared, sink, store.experiment_dir(exp_id), config_from_dict(config))
        return {"status": "finished", "error": None, "rows": {n: r.to_dict() for n, r in rows.items()}}
    except KeyboardInterrupt:
        from pipeline.core.events import RunFinished

        recorder(RunFinished(status="interrupted", summary={}))
        return {"status": "interrupted", "error": "interrupted", "rows": {}}
    except Exception as error:  # recorded as the run's failure, printed as one line
        message = f"{type(error).__name__}: {error}"
        recorder(RunFailed(error=message))
        return {"status": "failed", "error": message, "rows": {}}
    finally:
        recorder.stop()


def remeasure_imported(store: Store, exp_id: str, config, *, json_: bool, quiet: bool) -> None:
    """`ocrq run --from IMPORTED --mode evaluate`: measure the experiment's files again in place (its status
    kept), on its line sets drawn again from import.json."""
    from pipeline.variants.import_remeasure import remeasure_import
    from pipeline.variants.manifest import ManifestError
    from store.recorder import StoreRecorder

    experiment = store.get(exp_id)
    previous = {v["name"]: v for v in experiment.get("variants", [])}
    recorder = StoreRecorder(store, exp_id, keep_status=True)
    loud = not (json_ or quiet)

    def sink(event) -> None:
        recorder(event)
        if loud and getattr(event, "kind", "") == "log":
            info(event.message)

    recorder.start_heartbeat()
    try:
        remeasure_import(store.experiment_dir(exp_id), config, previous, sink)
    except ManifestError as error:
        raise CliError(one_line(str(error))) from None
    except KeyboardInterrupt:
        err.print("ocrq: interrupted; the experiment keeps its last figures", markup=False)
        raise typer.Exit(130) from None
    except (ValueError, FileNotFoundError) as error:  # the import's data is gone or changed
        raise CliError(
            f"re-measuring failed (the experiment keeps its status): {one_line(str(error))}"
        ) from None
    finally:
        recorder.stop()
    from cli.browse import print_result

    document = {"id": exp_id, "status": "finished", "remeasured": True}
    print_result(store, exp_id, document, json_=json_, quiet=quiet)


def register(app: typer.Typer) -> None:
    app.command("import", rich_help_panel="Run")(import_model)
