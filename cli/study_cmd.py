"""`ocrq study`: Optuna searches over compression settings (run, worker, ls, show, rm).

A study trains (or takes with `--from`) one FP32 baseline, then every trial is an experiment in the store
that compresses that baseline with one variant built from the trial's parameters. Optuna's storage (a
journal file in the ocrq home, or `--storage URL`) is the one record of trial states, parameters and
values; the store keeps only the link: the study's name and storage, and each trial's experiment
(`study_id`, `trial_number`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from cli import study_view
from cli.config_options import overrides_from_kwargs, with_config_options
from cli.console import CliError, UsageError, err, info, one_line, print_json, terminal_safe
from cli.study_baseline import baseline_model, find_baseline, is_import_folder, record_baseline
from cli.study_common import (
    existing_settings,
    journal_path,
    print_study,
    quiet_optuna,
    studies_dir,
)
from store import AmbiguousId, ExperimentNotFound, Store, StudyNotFound, process_started, this_host

study_app = typer.Typer(
    name="study",
    help="Optuna searches over compression settings: each trial is an experiment compressing one baseline.",
    no_args_is_help=True,
)

_FROZEN = {"model", "charset", "image_height", "template", "mode", "variants"}
DRY_RUN_OVERRIDES = {
    "num_train": "32", "num_val": "8", "num_test": "8", "epochs": "1", "batch_size": "4",
    "latency_runs": "3", "calibration_batches": "1", "qat_epochs": "1", "finetune_epochs": "1",
}  # fmt: skip


@with_config_options
def run(
    template: Annotated[
        str | None,
        typer.Argument(help="Template of the baseline (default quickstart; smoke with --dry-run)."),
    ] = None,
    method: Annotated[
        str,
        typer.Option(
            "--method",
            help="bayesian | grid_search | random_search | nsga2 (multi-objective: CER, size, latency).",
        ),
    ] = "bayesian",
    n_trials: Annotated[
        int, typer.Option("--n-trials", "--n_trials", help="Trials in all (every worker together).")
    ] = 20,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", help="Stop starting trials after this many seconds.", show_default=False),
    ] = None,
    target: Annotated[
        str,
        typer.Option(
            "--optimization-target",
            "--optimization_target",
            help="balanced | accuracy | compression | speed.",
        ),
    ] = "balanced",
    min_accuracy: Annotated[
        float,
        typer.Option(
            "--min-accuracy-threshold",
            "--min_accuracy_threshold",
            help="Share of FP32 accuracy a trial must keep to count (constraint).",
        ),
    ] = 0.0,
    param_config: Annotated[
        Path | None,
        typer.Option("--param-config", "--param_config", help="JSON search space.", show_default=False),
    ] = None,
    study_name: Annotated[
        str | None,
        typer.Option(
            "--study-name",
            "--study_name",
            help="Name; an existing study of that name resumes.",
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            "--dry_run",
            help="The whole flow on tiny data in seconds (smoke template, 3 trials).",
        ),
    ] = False,
    from_ref: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="Compress this experiment's trained FP32 model (or its imported ONNX model) instead of training one.",
            show_default=False,
        ),
    ] = None,
    jobs: Annotated[int, typer.Option("--jobs", help="Worker processes on this box (journal storage).")] = 1,
    storage: Annotated[
        str | None,
        typer.Option(
            "--storage",
            help="Optuna storage URL (postgresql://...); default a journal file in the ocrq home.",
            show_default=False,
        ),
    ] = None,
    pruner: Annotated[str, typer.Option("--pruner", help="median | hyperband | none.")] = "median",
    seed: Annotated[int, typer.Option("--seed", help="Sampler seed.")] = 0,
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON object with the result.")] = False,
    **kwargs: Any,
) -> None:
    """Run an Optuna study: one baseline, then trials that each compress it with one variant."""
    from pipeline.config import ConfigError
    from pipeline.config.study_options import check_study_name, check_study_options

    try:
        method = check_study_options(method, target, pruner, n_trials, jobs)
    except ConfigError as error:
        raise UsageError(str(error)) from None
    if timeout is not None and timeout <= 0:
        raise UsageError(f"--timeout {timeout} is not allowed; give seconds > 0")
    if not 0.0 <= min_accuracy <= 1.0:
        raise UsageError(f"--min-accuracy-threshold {min_accuracy} is out of range; allowed 0..1")
    store = Store()
    name = study_name or f"{method}-{target}-{os.getpid()}"
    try:
        check_study_name(name)
    except ConfigError as error:
        raise UsageError(str(error)) from None
    storage_url = storage or str(journal_path(store, name))
    existing = existing_settings(name, storage_url)
    if existing is not None:
        _resume(store, existing, storage_url, n_trials, timeout, jobs, json_)
        return
    if any(study.get("name") == name for study in store.list_studies()):
        raise UsageError(
            f"study '{name}' is in the store but has no trials in {storage_url} (its baseline never finished); "
            f"`ocrq study rm {name}` first, or give another --study-name"
        )
    overrides = overrides_from_kwargs(kwargs)
    if dry_run:
        template = template or "smoke"
        overrides = {**DRY_RUN_OVERRIDES, **overrides}
        if n_trials == 20:
            n_trials = 3
    try:
        base_config, baseline_id = _base_config(store, template, from_ref, overrides)
        imported = baseline_id is not None and is_import_folder(store.experiment_dir(baseline_id))
        model_file = baseline_model(store.experiment_dir(baseline_id)) if imported else None
        space = _space(param_config, base_config, model_file)
        _check_space_builds(space, base_config, imported=imported)
        if method == "grid_search":
            space.grid()  # every range needs a step
    except ConfigError as error:
        raise UsageError(str(error)) from None
    from pipeline.study.search import StudySettings

    settings = StudySettings(
        name=name, method=method, target=target, min_accuracy_threshold=min_accuracy, n_trials=n_trials,
        pruner=pruner, space=space.to_dict(), base_overrides={k: v for k, v in overrides.items() if k not in _FROZEN},
        baseline_experiment=baseline_id, seed=seed,
    )  # fmt: skip
    if method == "grid_search" and n_trials > space.grid_size():
        settings.n_trials = space.grid_size()
    if baseline_id is not None:
        _record_given_baseline(store, settings)  # before the study exists: a bad baseline leaves nothing
    doc = store.create_study(
        name=name, directions=settings.objective.directions,
        config={"objectives": settings.objective.names, **settings.to_dict()}, storage_url=storage_url,
    )  # fmt: skip
    settings.store_study_id = doc["id"]
    store.update_study(
        doc["id"],
        output_dir=str(studies_dir(store) / name),
        pid=os.getpid(),
        pid_started=process_started(os.getpid()),
        host=this_host(),
    )
    if not json_:
        info(
            f"study [bold]{name}[/] ({method}, {target}, {settings.n_trials} trials) · storage {storage_url}"
        )
    if baseline_id is None:
        baseline_id = _train_baseline(store, base_config, name, doc["id"], quiet=json_)
        if baseline_id is None:
            store.set_study_status(doc["id"], "failed")
            raise CliError("the study's baseline did not finish training; no trials were run")
        settings.baseline_experiment = baseline_id
        record_baseline(store, settings)  # its sha256 and config go into the storage, for workers elsewhere
    store.update_study(doc["id"], baseline_experiment=baseline_id)
    quiet_optuna()
    from pipeline.study.search import create_or_load

    study, created = create_or_load(settings, storage_url)
    if created and method != "grid_search" and param_config is None:
        from pipeline.config.variant_specs import parse_variant
        from pipeline.study.search import enqueue_template_variants

        entries = [parse_variant(text) for text in base_config.deploy.variants]
        own = {key: value for entry in entries for key, value in dict(entry.settings).items()}
        queued = enqueue_template_variants(
            study, settings.search_space, [entry.kind for entry in entries],
            lambda name: own.get(name, base_config.get(name)), limit=settings.n_trials,
        )  # fmt: skip
        if queued and not json_:
            source = "the import's" if imported else f"{base_config.template}'s"
            info(
                f"the first {len(queued)} trial(s) are {source} own variants: {', '.join(q['strategy'] for q in queued)}"
            )
    _run_workers(store, study, settings, storage_url, timeout, jobs, json_)


def _record_given_baseline(store: Store, settings) -> None:
    """Record the `--from` experiment as the baseline; UsageError when its folder lacks what trials need."""
    try:
        record_baseline(store, settings)
    except (OSError, ValueError) as error:
        raise UsageError(
            f"experiment {settings.baseline_experiment} cannot be a study's baseline: {one_line(str(error))}"
        ) from None


def _resume(store: Store, settings, storage_url: str, n_trials: int, timeout, jobs: int, json_: bool) -> None:
    from pipeline.study.search import SETTINGS_ATTR, load_study

    study, stored = load_study(settings.name, storage_url)
    if n_trials != 20 and n_trials != stored.n_trials:
        stored.n_trials = n_trials
        study.set_user_attr(SETTINGS_ATTR, stored.to_dict())
    if not json_:
        info(
            f"resuming study [bold]{stored.name}[/] with its stored settings ({stored.method}, {stored.target}): "
            f"{len(study.trials)} trial(s) so far, {stored.n_trials} in all"
        )
    if stored.store_study_id:
        try:
            store.update_study(
                stored.store_study_id,
                pid=os.getpid(),
                pid_started=process_started(os.getpid()),
                host=this_host(),
            )
        except StudyNotFound:
            stored.store_study_id = None
    _run_workers(store, study, stored, storage_url, timeout, jobs, json_)


def _base_config(store: Store, template: str | None, from_ref: str | None, overrides: dict[str, str]):
    """(config the baseline is trained with, or the --from experiment's config; --from experiment id)."""
    from pipeline.config import config_from_dict, derive_config, resolve_config

    if from_ref is None:
        return resolve_config(template, overrides={**overrides, "mode": "train"}), None
    if template:
        raise UsageError("--from reuses that experiment's baseline and config; drop the template")
    try:
        source_id = store.resolve_id(from_ref)
    except (ExperimentNotFound, AmbiguousId) as error:
        raise UsageError(str(error)) from None
    source = store.get(source_id)
    folder = store.experiment_dir(source_id)
    if not baseline_model(folder).is_file():
        raise UsageError(
            f"experiment {source_id} has no trained or imported model ({baseline_model(folder).name}); pick a "
            "finished baseline or import"
        )
    frozen = sorted(set(overrides) & {"model", "charset", "image_height"})
    if frozen:
        raise UsageError(f"{', '.join(frozen)} cannot change when compressing an existing baseline")
    return derive_config(config_from_dict(source["config"]), overrides), source_id


def _space(param_config: Path | None, config, imported_model: Path | None):
    """The `--param-config` space, or the default one of the template (of an import: ONNX Runtime's kinds)."""
    from pipeline.study.space import default_import_space, default_space, read_space_file

    if param_config is not None:
        return read_space_file(param_config)
    if imported_model is not None:
        from pipeline.deploy.onnx_graph import has_matmul

        return default_import_space(has_matmul=has_matmul(imported_model))
    return default_space(config.template, config.model.model)


def _check_space_builds(space, config, *, imported: bool) -> None:
    """Every kind with its parameters' first and last values makes a config ocrq accepts (and, over an
    imported model, a variant ONNX Runtime can build from it)."""
    from pipeline.config import ConfigError, derive_config
    from pipeline.study.space import variant_for

    if imported:
        from pipeline.variants.catalog import import_kinds

        foreign = [kind for kind in space.kinds if kind not in import_kinds()]
        if foreign:
            raise ConfigError(
                f"search space: strategy {foreign[0]} cannot be built from an imported ONNX model; allowed "
                f"{', '.join(import_kinds())}"
            )
    for kind in space.kinds:
        params = space.applicable(kind)
        for pick in (0, -1):
            values = {}
            for param in params:
                values[param.name] = (
                    param.choices[pick]
                    if param.choices is not None
                    else (param.low if pick == 0 else param.high)
                )
            try:
                variant = variant_for(kind, values).text()
                derive_config(config, {"mode": "compress", "variants": variant})
            except ConfigError as error:
                raise ConfigError(
                    f"search space: strategy {kind} with {values} is refused: {error}"
                ) from None


def _train_baseline(store: Store, config, study_name: str, study_id: str, *, quiet: bool) -> str | None:
    from pipeline.runner import prepare_experiment, run_experiment

    try:
        prepared = prepare_experiment(config)
    except (ValueError, FileNotFoundError) as error:
        raise UsageError(str(error)) from None
    summary = store.create_experiment(
        name=f"{study_name}-baseline", template=config.template, config=config.to_dict(), model=config.model.model,
        command=["ocrq", *sys.argv[1:]], study_id=study_id,
    )  # fmt: skip
    store.tag(summary["id"], add=["study-baseline"])
    if not quiet:
        info(f"baseline experiment [bold]{summary['id']}[/] (trained once; every trial compresses it)")
    outcome = _run_recorded(store, summary["id"], prepared, run_experiment, show_progress=not quiet)
    return summary["id"] if outcome.status == "finished" else None


def _raise_keyboard_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _run_recorded(
    store, exp_id, prepared, run_experiment, *, show_progress, baseline_dir=None, callbacks=None
):
    from cli.progress import ProgressDisplay, fan_out
    from store.recorder import StoreRecorder

    recorder = StoreRecorder(store, exp_id)
    display = ProgressDisplay(enabled=show_progress and err.is_terminal)
    recorder.start_heartbeat()
    try:
        with display:
            return run_experiment(
                prepared, fan_out(recorder, display), store.experiment_dir(exp_id),
                baseline_dir=baseline_dir, callbacks=callbacks,
            )  # fmt: skip
    finally:
        recorder.stop()


def make_run_trial(store: Store, settings, baseline_dir: Path, *, quiet: bool, threads: int | None = None):
    """The function a worker calls per trial: record an experiment, compress the baseline (the FP32 model in
    ``baseline_dir``), return its rows. `threads`: this worker's share of the box's cores, used unless the
    study's config sets `threads` itself."""
    from pipeline.config import ConfigError, config_from_dict, derive_config
    from pipeline.config.variant_specs import parse_variant
    from pipeline.runner import prepare_experiment, run_experiment
    from pipeline.study.search import TrialOutcome

    base = config_from_dict(json.loads((baseline_dir / "config.json").read_text()))
    extra = {k: v for k, v in settings.base_overrides.items() if k not in _FROZEN}
    if is_import_folder(baseline_dir):
        return _import_trial_runner(store, settings, baseline_dir, base, extra, quiet=quiet)
    if threads is not None and "threads" not in extra and base.train.threads == 0:
        extra["threads"] = str(threads)

    def run_trial(number: int, variant: str, params: dict, callbacks: list) -> TrialOutcome:
        try:
            config = derive_config(base, {**extra, "mode": "compress", "variants": variant})
            prepared = prepare_experiment(config)
        except (ConfigError, ValueError, FileNotFoundError) as error:
            return TrialOutcome("failed", error=f"{type(error).__name__}: {error}")
        exp = store.create_experiment(
            name=f"{settings.name}#{number}", template=config.template, config=config.to_dict(),
            model=config.model.model, study_id=settings.store_study_id, trial_number=number,
            command=["ocrq", "run", "--from", str(settings.baseline_experiment), "--mode", "compress", "--variants", variant],
        )  # fmt: skip
        if not quiet:
            info(f"trial {number}: {variant} -> experiment {exp['id'][:8]}")
        outcome = _run_recorded(
            store, exp["id"], prepared, run_experiment, show_progress=False, baseline_dir=baseline_dir,
            callbacks=callbacks,
        )  # fmt: skip
        result = TrialOutcome(outcome.status, experiment_id=exp["id"], error=outcome.error)
        report = store.experiment_dir(exp["id"]) / "report.json"
        if outcome.status == "finished" and report.is_file():
            rows = json.loads(report.read_text())["variants"]
            result.row = rows.get(parse_variant(variant).name)
            result.fp32_row = rows.get("fp32")
        if outcome.status == "pruned":
            result.error = outcome.summary.get("stop_message")
        return result

    return run_trial


def _import_trial_runner(store: Store, settings, baseline_dir: Path, base, extra: dict, *, quiet: bool):
    """Trials over an imported model: each a new imported experiment built from the baseline folder's copy
    of the model, on the import's recorded line sets (no epochs, so nothing for the pruner)."""
    from cli.import_cmd import create_import_experiment, run_recorded_import
    from pipeline.config import ConfigError, derive_config
    from pipeline.config.variant_specs import parse_variant
    from pipeline.deploy.foreign_model import ImportRefused
    from pipeline.study.search import TrialOutcome
    from pipeline.variants.import_reopen import check_import_variants, reopen_import
    from pipeline.variants.manifest import ManifestError

    def run_trial(number: int, variant: str, params: dict, callbacks: list) -> TrialOutcome:
        del callbacks  # an import trial has no epochs to report
        try:
            variants = ",".join(check_import_variants([variant]))
            config = derive_config(base, {**extra, "mode": "compress", "variants": variants})
            prepared = reopen_import(baseline_dir, config)
        except (ConfigError, ValueError, ManifestError, ImportRefused, FileNotFoundError) as error:
            return TrialOutcome("failed", error=f"{type(error).__name__}: {error}")
        prepared.source_experiment = settings.baseline_experiment
        exp_id = create_import_experiment(
            store, prepared, config, study_id=settings.store_study_id, trial_number=number,
            command=["ocrq", "run", "--from", str(settings.baseline_experiment), "--mode", "compress", "--variants", variant],
        )  # fmt: skip
        if not quiet:
            info(f"trial {number}: {variant} -> experiment {exp_id[:8]}")
        outcome = run_recorded_import(store, exp_id, prepared, config.to_dict(), False)
        rows = outcome["rows"]
        return TrialOutcome(
            outcome["status"], experiment_id=exp_id, error=outcome["error"],
            row=rows.get(parse_variant(variant).name), fp32_row=rows.get("fp32"),
        )  # fmt: skip

    return run_trial


def _run_workers(store: Store, study, settings, storage_url: str, timeout, jobs: int, json_: bool) -> None:
    from pipeline.study.search import fail_dead_trials

    baseline_dir = find_baseline(store, settings, None)
    failed = fail_dead_trials(study)
    if failed and not json_:
        info(f"trial(s) {', '.join(map(str, failed))} had lost their worker: marked failed")
    if settings.store_study_id:
        store.set_study_status(settings.store_study_id, "running")
    # Workers on one box split its cores: each picking "the idle cores" when its trial starts would take
    # both cores of an idle 2-core box, and the second worker's trial then oversubscribes them (a ptq
    # trial took 347 s instead of 14 s). A config that sets `threads` keeps its own count.
    from pipeline.core.device import physical_cores

    threads_each = max(1, physical_cores() // jobs) if jobs > 1 else None
    children = []
    for index in range(1, jobs):
        command = [
            sys.executable,
            "-m",
            "cli.main",
            "study",
            "worker",
            settings.name,
            "--storage",
            storage_url,
            "--quiet",
            "--worker-index",
            str(index),
        ]
        if threads_each is not None:
            command += ["--threads-each", str(threads_each)]
        if timeout is not None:
            command += ["--timeout", str(timeout)]
        children.append(subprocess.Popen(command, stdin=subprocess.DEVNULL))
    status = "finished"
    try:
        _work(store, study, settings, storage_url, timeout, baseline_dir, quiet=json_, threads=threads_each)
    except KeyboardInterrupt:
        status = "interrupted"
        for child in children:
            child.send_signal(signal.SIGTERM)
    finally:
        for child in children:
            child.wait()
    _finish(store, study, settings, storage_url, status, json_)
    if status == "interrupted":
        raise typer.Exit(130)


def _work(
    store: Store,
    study,
    settings,
    storage_url: str,
    timeout,
    baseline_dir: Path,
    *,
    quiet: bool,
    threads: int | None = None,
) -> int:
    from pipeline.study.search import run_worker
    from pipeline.study.storage import is_rdb_url

    lock = None if is_rdb_url(storage_url) else Path(storage_url).with_suffix(".lock")
    run_trial = make_run_trial(store, settings, baseline_dir, quiet=quiet, threads=threads)
    previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        return run_worker(study, settings, run_trial, timeout=timeout, lock_path=lock)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _finish(store: Store, study, settings, storage_url: str, status: str, json_: bool) -> None:
    from pipeline.study.outputs import study_summary, write_outputs

    folder = studies_dir(store) / settings.name
    paths = write_outputs(study, settings, storage_url, folder)
    if settings.store_study_id:
        store.set_study_status(settings.store_study_id, status)
        store.update_study(
            settings.store_study_id, output_dir=str(folder),
            artifacts=[{"path": str(p), "bytes": p.stat().st_size} for p in paths],
        )  # fmt: skip
    summary = study_summary(study, settings, storage_url)
    if json_:
        print_json({**summary, "status": status, "output_dir": str(folder), "files": [str(p) for p in paths]})
    else:
        print_study(summary)
        info(f"outputs in {folder}")


def worker(
    name: Annotated[str, typer.Argument(help="The study to join.")],
    storage: Annotated[
        str | None,
        typer.Option(
            "--storage",
            help="Its Optuna storage URL (default: its journal in the ocrq home).",
            show_default=False,
        ),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", help="Stop starting trials after this many seconds.", show_default=False),
    ] = None,
    baseline: Annotated[
        Path | None,
        typer.Option(
            "--baseline",
            help="A copy of the study's model_fp32.pt, for a box whose home lacks the baseline (checked by sha256).",
            show_default=False,
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No per-trial lines.")] = False,
    worker_index: Annotated[
        int | None,
        typer.Option("--worker-index", help="Offsets the sampler seed (default: from the pid).", hidden=True),
    ] = None,
    threads_each: Annotated[
        int | None,
        typer.Option("--threads-each", help="This worker's share of the box's cores.", hidden=True, min=1),
    ] = None,
) -> None:
    """Join a study as one more worker (on this box or another that reaches its storage)."""
    store = Store()
    storage_url = storage or str(journal_path(store, name))
    settings = existing_settings(name, storage_url)
    if settings is None:
        raise UsageError(
            f"no study '{terminal_safe(name)}' in {storage_url}; start it with `ocrq study run --study-name {name}`"
        )
    quiet_optuna()
    from pipeline.study.search import fail_dead_trials, load_study

    # Workers with one seed would draw the same parameters: each gets its own offset.
    study, settings = load_study(name, storage_url, worker=worker_index or 1 + os.getpid())
    baseline_dir = find_baseline(store, settings, baseline)  # refused before any trial starts
    fail_dead_trials(study)
    try:
        ran = _work(
            store, study, settings, storage_url, timeout, baseline_dir, quiet=quiet, threads=threads_each
        )
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    if not quiet:
        info(f"worker ran {ran} trial(s) of study {name}")


study_app.command("run")(run)
study_app.command("worker")(worker)
study_app.command("ls")(study_view.ls)
study_app.command("show")(study_view.show)
study_app.command("rm")(study_view.rm)


def register(app: typer.Typer) -> None:
    app.add_typer(study_app, name="study", rich_help_panel="Run")
