"""`ocrq run`: resolve a config, record an experiment in the store, run it with live progress."""

from __future__ import annotations

import contextlib
import signal
import sys
import zipfile
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.config_options import overrides_from_kwargs, with_config_options
from cli.configs import resolve_or_usage_error
from cli.console import CliError, UsageError, err, info, one_line, refuse_control_chars
from cli.manage import check_tags
from cli.resolve import LauncherId, existing_folder, is_new_id
from store import AmbiguousId, ExperimentNotFound, Store, StoreError


def _raise_keyboard_interrupt(signum, frame) -> None:
    # `ocrq tui` stops a run with SIGTERM/SIGINT; both end as a graceful interrupt (checkpoint saved).
    raise KeyboardInterrupt


@with_config_options
def run(
    template: Annotated[
        str | None, typer.Argument(help="Template to start from (see `ocrq templates`).")
    ] = None,
    config_file: Annotated[
        Path | None,
        typer.Option("--config", help="JSON settings layered over the template.", show_default=False),
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Experiment name.", show_default=False)] = None,
    template_opt: Annotated[
        str | None, typer.Option("--template", help="Same as the TEMPLATE argument.", show_default=False)
    ] = None,
    mode: Annotated[
        str | None, typer.Option("--mode", help="train | compress | both | evaluate", show_default=False)
    ] = None,
    resume: Annotated[
        str | None,
        typer.Option(
            "--resume", help="Continue an interrupted experiment (id or prefix).", show_default=False
        ),
    ] = None,
    from_ref: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="Reuse this experiment's trained FP32 model: --mode compress makes a new experiment from it, --mode evaluate re-measures it in place.",
            show_default=False,
        ),
    ] = None,
    tags: Annotated[
        list[str] | None, typer.Option("--tag", help="Tag the experiment (repeatable).", show_default=False)
    ] = None,
    experiment_id: LauncherId = None,
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON object with the result.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the experiment id.")] = False,
    auto_optimize: Annotated[
        bool,
        typer.Option(
            "--auto-optimize",
            "--auto_optimize",
            help="Run a small study and keep the smallest variant that meets the ratio.",
        ),
    ] = False,
    target_compression_ratio: Annotated[
        float,
        typer.Option(
            "--target-compression-ratio",
            "--target_compression_ratio",
            help="With --auto-optimize: size ratio to reach (0.25 = a quarter of FP32, or 4 = 4x smaller).",
        ),
    ] = 0.25,
    preserve_accuracy: Annotated[
        bool,
        typer.Option(
            "--preserve-accuracy",
            "--preserve_accuracy",
            help="With --auto-optimize: keep only variants within accuracy_budget_pp of FP32 CER.",
        ),
    ] = False,
    **kwargs: Any,
) -> None:
    """Train a recognizer, compress it and compare the variants; everything is recorded in the store."""
    if auto_optimize:
        if resume or from_ref or mode or experiment_id:
            raise UsageError(
                "--auto-optimize trains its own baseline; drop --resume, --from, --mode and --id"
            )
        from cli.study_auto import auto_optimize as run_auto_optimize

        run_auto_optimize(
            template or template_opt, kwargs, target_ratio=target_compression_ratio,
            preserve_accuracy=preserve_accuracy, name=name,
        )  # fmt: skip
        return
    if template and template_opt and template != template_opt:
        raise UsageError(f"template given twice ('{template}' and --template '{template_opt}'); give one")
    store = Store()
    overrides = overrides_from_kwargs(kwargs)
    if name is not None:
        overrides["name"] = name
    if mode is not None:
        overrides["mode"] = mode
    if experiment_id is not None and (resume or not is_new_id(store, experiment_id)):
        raise UsageError(
            f"--id '{experiment_id}' is not a free 12-hex-digit id (and cannot be used with --resume)"
        )
    baseline_dir = None
    in_place = False
    if from_ref:
        if resume:
            raise UsageError("--from and --resume cannot be combined; --resume continues an interrupted run")
        exp_id, config, baseline_dir = _config_from_baseline(
            store, from_ref, template or template_opt, config_file, overrides
        )
        in_place = config.mode == "evaluate"
        # An imported experiment has ONNX files, no torch model: it is re-measured from them, or its
        # imported file is compressed again into a new imported experiment.
        from pipeline.variants.import_reopen import is_imported

        if is_imported(baseline_dir):
            from cli.import_cmd import compress_imported, remeasure_imported

            if in_place:
                remeasure_imported(store, exp_id, config, json_=json_, quiet=quiet)
            else:
                compress_imported(
                    store, baseline_dir.name, config, experiment_id=experiment_id, tags=tags or [],
                    json_=json_, quiet=quiet,
                )  # fmt: skip
            return
    elif overrides.get("mode") in ("compress", "evaluate"):
        raise UsageError(
            f"--mode {overrides['mode']} needs --from ID: the experiment whose trained model to use"
        )
    elif resume:
        exp_id, config = _config_to_resume(store, resume, template or template_opt, config_file, overrides)
    else:
        config = resolve_or_usage_error(template or template_opt, config_file, overrides)
    # Names and tags are printed by `ocrq ls`/`show` and the TUI: no escape sequences or newlines in them.
    if config.name:
        refuse_control_chars("--name", config.name)
    check_tags(tags or [])

    from pipeline.runner import prepare_experiment, run_experiment

    try:
        prepared = prepare_experiment(config)
    except (ValueError, FileNotFoundError) as error:
        raise UsageError(str(error)) from None
    if not (resume or in_place):
        summary = store.create_experiment(
            name=config.name or f"{config.template}-{config.model.model}",
            template=config.template,
            config=config.to_dict(),
            model=config.model.model,
            command=["ocrq", *sys.argv[1:]],
            experiment_id=experiment_id,
        )
        exp_id = summary["id"]
        if tags:
            store.tag(exp_id, add=tags)
    if not (json_ or quiet):
        info(f"experiment [bold]{exp_id}[/] in {store.experiment_dir(exp_id)}")
    outcome = _run_recorded(
        store,
        exp_id,
        prepared,
        run_experiment,
        resume=bool(resume),
        show_progress=not (json_ or quiet),
        baseline_dir=baseline_dir,
        keep_status=in_place,
    )
    from cli.browse import print_result

    document = {"id": exp_id, "status": outcome.status, "error": outcome.error, "summary": outcome.summary}
    print_result(store, exp_id, document, json_=json_, quiet=quiet)
    if outcome.status == "failed":
        if not json_:
            what = "re-measuring failed (the experiment keeps its status)" if in_place else "run failed"
            err.print(f"ocrq: error: {what}: {one_line(outcome.error)}", markup=False)
        raise typer.Exit(1)
    if outcome.status == "interrupted":
        if not json_:
            info(f"interrupted; `ocrq run --resume {exp_id[:8]}` continues from the last checkpoint")
        raise typer.Exit(130)


# What `--mode evaluate` may change: how things are measured, never what was built.
_EVALUATE_OVERRIDES = {
    "latency_threads",
    "latency_runs",
    "accuracy_budget_pp",
    "decoding",
    "beam_width",
    "threads",
    "device",
}


def _config_from_baseline(
    store: Store, ref: str, template: str | None, config_file: Path | None, overrides: dict[str, Any]
):
    """(experiment id to record into, config, folder holding the baseline model) for --from."""
    from pipeline.config import ConfigError, canonical_key, config_from_dict, derive_config

    if template or config_file:
        raise UsageError(
            "--from starts from that experiment's saved config; change settings with flags, not a template or --config"
        )
    try:
        source_id = store.resolve_id(ref)
    except (ExperimentNotFound, AmbiguousId) as error:
        raise UsageError(str(error)) from None
    existing_folder(store, source_id)
    source = store.get(source_id)
    if source["status"] == "running":
        raise UsageError(f"experiment {source_id} is still running; wait for it to finish")
    overrides = {**overrides, "mode": overrides.get("mode", "compress")}
    try:
        if overrides["mode"] == "evaluate":
            changed = {canonical_key(k) for k in overrides} - _EVALUATE_OVERRIDES - {"mode"}
            if changed:
                raise UsageError(
                    f"--mode evaluate re-measures what exists; it cannot change {', '.join(sorted(changed))}"
                )
        elif overrides["mode"] != "compress":
            raise UsageError(f"--from works with --mode compress or evaluate, not {overrides['mode']}")
        config = derive_config(config_from_dict(source["config"]), overrides)
    except ConfigError as error:
        raise UsageError(str(error)) from None
    baseline_dir = store.experiment_dir(source_id)
    if source.get("template") == "import":
        if config.mode == "evaluate":
            _verify_deployables(baseline_dir, None)
            return source_id, config, baseline_dir
        from pipeline.variants.import_reopen import check_import_variants

        try:  # new variants of the imported model: its prepared graph (ort-fp32) first
            config = derive_config(config, {"variants": check_import_variants(list(config.deploy.variants))})
        except (ConfigError, ValueError) as error:
            raise UsageError(str(error)) from None
        _verify_deployables(baseline_dir, ["fp32"])
        return None, config, baseline_dir
    check_torch_file(
        baseline_dir / "model_fp32.pt",
        "the trained model of experiment " + source_id,
        "it cannot be reused; train a new baseline (`ocrq run`)",
        required=True,
    )
    _verify_deployables(baseline_dir, None if config.mode == "evaluate" else ["fp32"])
    if config.mode == "evaluate":
        return source_id, config, baseline_dir
    return None, config, baseline_dir


def _verify_deployables(folder: Path, variants: list[str] | None) -> None:
    """A runtime error (exit 1) when a file the run starts from is not the one recorded (size, sha256)."""
    from pipeline.variants.load import verify_deployables
    from pipeline.variants.manifest import ManifestError

    try:
        verify_deployables(folder, variants)
    except (ManifestError, FileNotFoundError) as error:
        raise CliError(str(error)) from None


def _config_to_resume(
    store: Store, ref: str, template: str | None, config_file: Path | None, overrides: dict[str, Any]
):
    from pipeline.config import config_from_dict

    if template or config_file or overrides:
        raise UsageError(
            "--resume continues with the experiment's saved config; drop the template, --config and setting flags"
        )
    try:
        exp_id = store.resolve_id(ref)
    except (ExperimentNotFound, AmbiguousId) as error:
        raise UsageError(str(error)) from None
    existing_folder(store, exp_id)
    experiment = store.get(exp_id)
    if experiment["status"] == "running":
        raise UsageError(
            f"experiment {exp_id} is still running (pid {experiment.get('pid')}); stop it before resuming"
        )
    if experiment["status"] == "finished":
        raise UsageError(f"experiment {exp_id} already finished; nothing to resume")
    last = store.experiment_dir(exp_id) / "checkpoints" / "last.pt"
    trained = [e for e in experiment.get("epochs", []) if e.get("phase", "baseline") == "baseline"]
    if trained and not last.exists():
        # Training would silently start over at epoch 1 (and the epochs table would repeat itself).
        raise CliError(
            f"the resume checkpoint ({last}) is missing although {len(trained)} epoch(s) were recorded; "
            f"`ocrq run --from {exp_id[:8]} --mode compress` reuses a finished model_fp32.pt, or start "
            "a new run with `ocrq run`"
        )
    check_torch_file(
        last,
        "the resume checkpoint",
        f"delete it to train experiment {exp_id[:8]} again from the start, then rerun --resume",
    )
    return exp_id, config_from_dict(experiment["config"])


def check_torch_file(path: Path, what: str, fix: str, *, required: bool = False) -> None:
    """A runtime error (exit 1) naming `path` when it is empty or not a torch zip file.

    torch.load's own errors on such files are an EOFError without a message or a paragraph about
    `weights_only`; this says which file is damaged and what to do, before anything is recorded.
    """
    if not path.exists():
        if required:
            raise CliError(f"{what} ({path}) is missing; {fix}")
        return
    if path.stat().st_size == 0:
        raise CliError(f"{what} ({path}) is empty (a disk filled up or a copy was cut short); {fix}")
    if not zipfile.is_zipfile(path):
        raise CliError(f"{what} ({path}) is damaged: not a torch checkpoint; {fix}")


def _run_recorded(
    store: Store,
    exp_id: str,
    prepared,
    run_experiment,
    *,
    resume: bool,
    show_progress: bool,
    baseline_dir: Path | None = None,
    keep_status: bool = False,
):
    from cli.progress import ProgressDisplay, fan_out
    from store.recorder import StoreRecorder

    recorder = StoreRecorder(store, exp_id, keep_status=keep_status)
    display = ProgressDisplay(enabled=show_progress and err.is_terminal)
    previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    recorder.start_heartbeat()
    try:
        with display:
            return run_experiment(
                prepared,
                fan_out(recorder, display),
                store.experiment_dir(exp_id),
                resume=resume,
                baseline_dir=baseline_dir,
            )
    except OSError as error:
        # The runner reports failures to the store itself; on a full disk that write can fail too.
        # Its temp files are gone by now, so try once more: the run must not stay `running`.
        if not keep_status:
            with contextlib.suppress(OSError, StoreError):
                store.set_status(exp_id, "failed", error=f"{type(error).__name__}: {error}")
        raise
    finally:
        recorder.stop()
        signal.signal(signal.SIGTERM, previous)


def register(app: typer.Typer) -> None:
    app.command("run", rich_help_panel="Run")(run)
