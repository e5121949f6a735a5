"""Optuna glue: storages, samplers, pruners, the trial loop of one worker and dead-worker recovery.

Optuna's storage is the one record of trial states. A study's settings (space, objective, baseline) live
in the storage as the study's user attribute `ocrq`, so `ocrq study worker NAME` on any box rebuilds
everything from the storage alone. Each trial records the host and pid running it; on journal storage
(no heartbeat) a RUNNING trial whose process is gone on this host is failed when a worker starts. RDB
storages get Optuna's heartbeat and one retry of a stale trial instead.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import optuna
from filelock import FileLock
from optuna.trial import TrialState

from pipeline.config.sections import PruningConfig
from pipeline.config.study_options import PRUNERS
from pipeline.study.objective import Objective, TrialMetrics
from pipeline.study.space import STRATEGY, SearchSpace, parse_space, variant_for
from pipeline.study.storage import SETTINGS_ATTR, open_storage

NATIVE_CONSTRAINTS = hasattr(optuna.trial.Trial, "set_constraint")


@dataclass
class StudySettings:
    """Everything a worker needs to run trials of a study; stored in the study itself.

    Attributes:
        name: The study name (Optuna's and the store's).
        method: bayesian, grid_search, random_search or nsga2.
        target, min_accuracy_threshold: The objective (see `Objective`).
        n_trials: Trials the study runs in all (every worker together).
        pruner: median, hyperband or none.
        space: The search space as a dict (`parse_space` input).
        base_overrides: Config flags every trial applies over the baseline's config.
        baseline_experiment: Store id of the experiment whose FP32 model every trial compresses.
        baseline_dir: That experiment's folder on the box that ran the baseline.
        baseline_sha256: The sha256 of its model_fp32.pt: a worker on another box checks its copy.
        baseline_config: Its config (`ExperimentConfig.to_dict()`), for workers without the folder.
        baseline_import: Its import record (`import.json`) when the baseline is an imported ONNX model.
        seed: Sampler seed.
        store_study_id: The study's id in the ocrq store.
    """

    name: str
    method: str = "bayesian"
    target: str = "balanced"
    min_accuracy_threshold: float = 0.0
    n_trials: int = 20
    pruner: str = "median"
    space: dict[str, Any] = field(default_factory=dict)
    base_overrides: dict[str, Any] = field(default_factory=dict)
    baseline_experiment: str | None = None
    baseline_dir: str | None = None
    baseline_sha256: str | None = None
    baseline_config: dict[str, Any] | None = None
    baseline_import: dict[str, Any] | None = None
    seed: int = 0
    store_study_id: str | None = None

    @property
    def objective(self) -> Objective:
        return Objective(self.target, self.min_accuracy_threshold, multi=self.method == "nsga2")

    @property
    def search_space(self) -> SearchSpace:
        return parse_space(self.space)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def make_sampler(settings: StudySettings, worker: int = 0) -> optuna.samplers.BaseSampler:
    """The method's sampler; `worker` offsets the seed so parallel workers never draw the same sequence."""
    seed = settings.seed + 7919 * worker
    objective = settings.objective
    # Optuna 5 records constraints on the trial (`Trial.set_constraint`); older ones take a constraints_func.
    constraints = _constraints if settings.min_accuracy_threshold > 0 and not NATIVE_CONSTRAINTS else None
    if settings.method == "grid_search":
        # Every worker must shuffle the grid alike: a trial stores only its grid index, which another
        # worker's order would read as another point (run twice, and one never).
        return optuna.samplers.GridSampler(settings.search_space.grid(), seed=settings.seed)
    if settings.method == "random_search":
        return optuna.samplers.RandomSampler(seed=seed)
    if settings.method == "nsga2":
        population = max(4, min(50, settings.n_trials // 3 or 4))
        return optuna.samplers.NSGAIISampler(
            population_size=population, seed=seed, constraints_func=constraints
        )
    del objective
    return optuna.samplers.TPESampler(
        seed=seed,
        n_startup_trials=min(10, max(2, settings.n_trials // 4)),
        constraints_func=constraints,
    )


def _constraints(trial: optuna.trial.FrozenTrial) -> list[float]:
    return [trial.user_attrs.get("constraint", 0.0)]


def make_pruner(name: str) -> optuna.pruners.BasePruner:
    """The study's pruner; median and hyperband read intermediate CER (lower is better) and compare a trial
    only with trials of its own strategy, cut and bit width (`SameStrategyPruner`)."""
    if name == "none":
        return optuna.pruners.NopPruner()
    if name == "hyperband":
        return SameStrategyPruner(optuna.pruners.HyperbandPruner(min_resource=1, reduction_factor=3))
    if name == "median":
        return SameStrategyPruner(optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=0))
    raise ValueError(f"pruner={name!r} is not known; allowed {', '.join(PRUNERS)}")


# The parameters that decide what a variant deploys as (how much of each part is cut, to how many bits),
# as opposed to how it is trained or calibrated: two trials are compared by the pruner only when these
# match. The cuts are every `*pruning_ratio` field of the pruning section, so a new part's ratio counts too.
CUT_PARAMS = tuple(f.name for f in dataclasses.fields(PruningConfig) if f.name.endswith("pruning_ratio"))
SHAPE_PARAMS = (*CUT_PARAMS, "quantization_strategy", "group_size")


def pruning_peers(params: dict[str, Any]) -> tuple:
    """What a trial's intermediate CER may be compared with: its strategy and the shape of its deployment."""
    return (params.get(STRATEGY), *(params.get(name) for name in SHAPE_PARAMS))


class SameStrategyPruner(optuna.pruners.BasePruner):
    """Prunes with `inner` as if the study held only the trials that deploy like the pruned one, minimizing.

    A QAT epoch's validation CER and a prune-and-finetune epoch's are different curves (QAT starts from
    the FP32 weights, finetuning from a model just cut): a median over both would stop good trials of the
    slower-starting strategy. Within a strategy, a harder cut reads worse after every finetune epoch and
    pays it back in size and speed, which the weighted score counts and the CER curve does not: a median
    over all cuts stopped the heavy ones before they could show it, so trials are compared only with
    peers of the same cut and bit width (`pruning_peers`), which differ in how they are finetuned or
    calibrated. And the intermediate values are CER, lower is better, while a weighted target is
    maximized: the pruner must read them as minimized whatever the study's direction. The view does all
    this at the storage, so pruners that build their own study over it (Hyperband's brackets) see the
    same thing.
    """

    def __init__(self, inner: optuna.pruners.BasePruner) -> None:
        self.inner = inner

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        view = optuna.Study(
            study_name=study.study_name,
            storage=_IntermediateCerView(study._storage, pruning_peers(trial.params)),  # type: ignore[arg-type]
            sampler=study.sampler,
            pruner=self.inner,
        )
        return self.inner.prune(view, trial)


class _IntermediateCerView:
    """A storage seen by a pruner: only one trial's peers, and one objective to minimize."""

    def __init__(self, storage: optuna.storages.BaseStorage, peers: tuple) -> None:
        self._storage = storage
        self._peers = peers

    def get_all_trials(self, study_id: int, deepcopy: bool = True, states=None) -> list:
        trials = self._storage.get_all_trials(study_id, deepcopy=deepcopy, states=states)
        if self._peers[0] is None:  # a study without strategies (never sampled one): every trial
            return trials
        return [trial for trial in trials if pruning_peers(trial.params) == self._peers]

    def get_study_directions(self, study_id: int) -> list[optuna.study.StudyDirection]:
        return [optuna.study.StudyDirection.MINIMIZE]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._storage, name)


def create_or_load(settings: StudySettings, storage_url: str) -> tuple[optuna.Study, bool]:
    """The study of that name (resumed, its stored settings win) or a new one; (study, created)."""
    storage = open_storage(storage_url)
    existing = {summary.study_name for summary in optuna.get_all_study_summaries(storage)}
    created = settings.name not in existing
    study = optuna.create_study(
        storage=storage,
        study_name=settings.name,
        directions=settings.objective.directions,
        sampler=make_sampler(settings),
        pruner=make_pruner(settings.pruner),
        load_if_exists=True,
    )
    if created:
        study.set_user_attr(SETTINGS_ATTR, settings.to_dict())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(settings.objective.names)
    return study, created


def load_settings(study: optuna.Study) -> StudySettings:
    raw = study.user_attrs.get(SETTINGS_ATTR)
    if not isinstance(raw, dict):
        raise ValueError(f"study {study.study_name!r} was not made by `ocrq study run` (no ocrq settings)")
    return StudySettings(**raw)


def load_study(name: str, storage_url: str, *, worker: int = 0) -> tuple[optuna.Study, StudySettings]:
    """An existing study with its sampler and pruner rebuilt from the stored settings."""
    storage = open_storage(storage_url)
    plain = optuna.load_study(study_name=name, storage=storage)
    settings = load_settings(plain)
    study = optuna.load_study(
        study_name=name,
        storage=storage,
        sampler=make_sampler(settings, worker),
        pruner=make_pruner(settings.pruner),
    )
    return study, settings


def suggest_variant(
    trial: optuna.trial.BaseTrial, space: SearchSpace, *, every_param: bool
) -> tuple[str, dict]:
    """Sample a trial's parameters; returns (canonical variant text, parameters the variant uses).

    `every_param` (grid search) samples every parameter so each grid point is one trial; otherwise only
    the parameters the chosen kind takes are sampled (a conditional space for TPE).
    """
    kind = trial.suggest_categorical(STRATEGY, list(space.kinds))
    params = space.params[1:] if every_param else space.applicable(kind)
    values = {param.name: _suggest(trial, param) for param in params}
    entry = variant_for(kind, values)
    used = {key: value for key, value in values.items() if key in dict(entry.settings)}
    return entry.text(), {STRATEGY: kind, **used}


def _suggest(trial: optuna.trial.BaseTrial, param) -> Any:
    if param.choices is not None:
        return trial.suggest_categorical(param.name, list(param.choices))
    if param.kind == "int":
        return trial.suggest_int(
            param.name, int(param.low), int(param.high), step=int(param.step or 1), log=param.log
        )
    return trial.suggest_float(
        param.name, float(param.low), float(param.high), step=param.step, log=param.log
    )


@dataclass
class PrunerCallback:
    """A training callback that reports validation CER to Optuna and ends the run `pruned` when told.

    The last epoch of a phase is reported but never judged: its training is spent, and pruning it then
    would save only the measurement (seconds) while throwing away the trial (on quickstart, ~2 minutes
    of finetuning for a cut a hair above its peers' median)."""

    trial: optuna.Trial
    step: int = 0
    reported: list[float] = field(default_factory=list)

    def on_epoch_end(self, report):
        from pipeline.training.callbacks import StopRequest

        self.step += 1
        cer = float(report.record["cer"])
        self.reported.append(cer)
        self.trial.report(cer, self.step)
        if report.epoch < report.epochs and self.trial.should_prune():
            return StopRequest(
                "pruned",
                f"Optuna pruned trial {self.trial.number} at step {self.step} (validation CER {100 * cer:.2f}%)",
                ends_run=True,
                status="pruned",
            )
        return None


@dataclass
class TrialOutcome:
    """What running one trial's experiment gave: the run's status, its rows and the store link."""

    status: str  # finished, pruned, failed, interrupted
    experiment_id: str | None = None
    row: dict[str, Any] | None = None
    fp32_row: dict[str, Any] | None = None
    error: str | None = None


# run_trial(trial_number, variant_text, params, callbacks) -> TrialOutcome
RunTrial = Callable[[int, str, dict[str, Any], list[Any]], TrialOutcome]


class TrialFailed(Exception):
    """The trial's experiment failed; Optuna records the trial FAIL and the study goes on."""


def this_process() -> dict[str, Any]:
    import psutil

    return {"host": socket.gethostname(), "pid": os.getpid(), "pid_started": psutil.Process().create_time()}


def fail_dead_trials(study: optuna.Study) -> list[int]:
    """Fail RUNNING trials whose worker process on this host is gone (journal storage has no heartbeat)."""
    import psutil

    host = socket.gethostname()
    failed = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        attrs = trial.user_attrs
        if attrs.get("host") != host or "pid" not in attrs:
            continue
        try:
            alive = (
                abs(psutil.Process(int(attrs["pid"])).create_time() - float(attrs.get("pid_started", 0))) < 1
            )
        except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
            alive = False
        if alive:
            continue
        message = f"worker died (pid {attrs['pid']} on {host}); failed when a worker started"
        study._storage.set_trial_user_attr(trial._trial_id, "error", message)
        try:
            study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        except RuntimeError:  # finished meanwhile
            continue
        failed.append(trial.number)
    return failed


def run_worker(
    study: optuna.Study,
    settings: StudySettings,
    run_trial: RunTrial,
    *,
    timeout: float | None = None,
    lock_path: Path | None = None,
) -> int:
    """Run trials until the study holds `settings.n_trials` (all workers together) or `timeout` passes.

    A trial is started under `lock_path` (a file lock beside a journal) after counting the trials already
    there, so parallel workers on one box never start more than `n_trials`. Returns trials run here.
    """
    space = settings.search_space
    objective = settings.objective
    every_param = settings.method == "grid_search"
    started = time.monotonic()
    lock = FileLock(str(lock_path)) if lock_path is not None else None
    ran = 0

    def objective_fn(trial: optuna.Trial) -> Any:
        if lock is not None and lock.is_locked:
            lock.release()
        for key, value in this_process().items():
            trial.set_user_attr(key, value)
        variant, params = suggest_variant(trial, space, every_param=every_param)
        trial.set_user_attr("variant", variant)
        callbacks = [] if objective.multi else [PrunerCallback(trial)]  # Optuna prunes single objectives only
        t0 = time.monotonic()
        outcome = run_trial(trial.number, variant, params, callbacks)
        trial.set_user_attr("duration_s", round(time.monotonic() - t0, 3))
        if outcome.experiment_id:
            trial.set_user_attr("experiment_id", outcome.experiment_id)
        if outcome.status == "pruned":
            raise optuna.TrialPruned(outcome.error or "pruned")
        if outcome.status == "interrupted":
            raise KeyboardInterrupt
        if outcome.status != "finished" or outcome.row is None or outcome.fp32_row is None:
            trial.set_user_attr(
                "error", outcome.error or f"trial ended {outcome.status} without a result row"
            )
            raise TrialFailed(outcome.error or outcome.status)
        metrics = TrialMetrics.from_rows(outcome.row, outcome.fp32_row)
        trial.set_user_attr("metrics", {
            "cer": metrics.cer, "fp32_cer": metrics.fp32_cer, "compression_ratio": metrics.compression_ratio,
            "speedup": metrics.speedup, "size_bytes": metrics.size_bytes, "latency_ms": metrics.latency_ms,
            "accuracy_retention": metrics.accuracy_retention, "score": objective.score(metrics),
        })  # fmt: skip
        trial.set_user_attr("constraint", objective.constraint(metrics))
        if NATIVE_CONSTRAINTS and objective.min_accuracy_threshold > 0:
            trial.set_constraint("min_accuracy_threshold", objective.constraint(metrics))
        values = objective.values(metrics)
        return values[0] if len(values) == 1 else values

    while True:
        if timeout is not None and time.monotonic() - started >= timeout:
            break
        if lock is not None:
            lock.acquire()
        try:
            started_states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.RUNNING)
            if len(study.get_trials(deepcopy=False, states=started_states)) >= settings.n_trials:
                break
            if settings.method == "grid_search" and _grid_exhausted(study, space):
                break
            study.optimize(objective_fn, n_trials=1, catch=(Exception,), gc_after_trial=False)
            ran += 1
        finally:
            if lock is not None and lock.is_locked:
                lock.release()
    return ran


def _grid_exhausted(study: optuna.Study, space: SearchSpace) -> bool:
    return len(study.get_trials(deepcopy=False)) >= space.grid_size()


def enqueue_template_variants(
    study: optuna.Study,
    space: SearchSpace,
    kinds: list[str],
    settings_of: Callable[[str], Any],
    *,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Queue the template's own variants as the first trials, so the search starts from (and is measured
    against) what a plain `ocrq run` would produce. A setting outside the space is left to the sampler.

    Args:
        kinds: The template's variant kinds, in its order; those outside the space are skipped.
        settings_of: The experiment's value of a config field.
        limit: Queue at most this many (the study's trial count): a queued trial that never runs would
            stay `waiting` in the study for good.
    Returns:
        The queued parameter sets.
    """
    queued: list[dict[str, Any]] = []
    for kind in dict.fromkeys(kinds):
        if kind not in space.kinds:
            continue
        if limit is not None and len(queued) >= limit:
            break
        params: dict[str, Any] = {STRATEGY: kind}
        for param in space.applicable(kind):
            value = settings_of(param.name)
            if value is None or isinstance(value, list):
                continue
            if param.choices is not None:
                inside = value in param.choices  # booleans too: skip_first_last=false is a choice
            else:
                inside = not isinstance(value, bool) and param.low <= value <= param.high
            if inside:
                params[param.name] = value
        study.enqueue_trial(params, skip_if_exists=True)
        queued.append(params)
    return queued
