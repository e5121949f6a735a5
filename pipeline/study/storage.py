"""A study's Optuna storage: opening it, and reading its trials back as plain records.

Optuna's storage is the one record of trial states, parameters, objective values and intermediate CER;
everything that shows a study (`ocrq study show / ls`, `ocrq ls --study`, the TUI's Studies screen) reads
it through this module. It imports only optuna and the standard library (an import-linter contract checks
it), so the TUI may use it without torch or the rest of the pipeline.
"""

from __future__ import annotations

import inspect
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

RDB_SCHEMES = ("postgresql", "postgres", "mysql", "sqlite")
HEARTBEAT_SECONDS = 30
SETTINGS_ATTR = "ocrq"


def is_rdb_url(url: str) -> bool:
    return url.split(":", 1)[0].split("+", 1)[0] in RDB_SCHEMES


def journal_file(url: str) -> Path:
    """The file of a journal storage (a path, optionally written ``journal://PATH``)."""
    return Path(url.removeprefix("journal://")).expanduser()


def open_storage(url: str) -> optuna.storages.BaseStorage:
    """An RDB URL (`postgresql://...`, with heartbeat and one retry of stale trials) or a journal file path."""
    if is_rdb_url(url):
        # Optuna 4.9 renamed failed_trial_callback to heartbeat_stale_trial_callback.
        names = inspect.signature(optuna.storages.RDBStorage).parameters
        key = (
            "heartbeat_stale_trial_callback"
            if "heartbeat_stale_trial_callback" in names
            else "failed_trial_callback"
        )
        retry = getattr(
            optuna.storages, "RetryHeartbeatStaleTrialCallback", optuna.storages.RetryFailedTrialCallback
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
                url,
                heartbeat_interval=HEARTBEAT_SECONDS,
                grace_period=4 * HEARTBEAT_SECONDS,
                **{key: retry(max_retry=1)},
            )
    from optuna.storages.journal import JournalFileBackend

    path = journal_file(url)
    path.parent.mkdir(parents=True, exist_ok=True)
    return optuna.storages.JournalStorage(JournalFileBackend(str(path)))


def storage_signature(url: str) -> tuple[int, int] | None:
    """Changes whenever a journal storage is written; ``None`` for an RDB (no cheap way to tell)."""
    if is_rdb_url(url):
        return None
    try:
        stat = journal_file(url).stat()
    except OSError:
        return (0, 0)
    return (stat.st_mtime_ns, stat.st_size)


def trial_record(trial: FrozenTrial) -> dict[str, Any]:
    """One trial as plain JSON: number, state, parameters, objective values, variant, link, timing, error."""
    attrs = trial.user_attrs
    duration = attrs.get("duration_s")
    if duration is None and trial.datetime_start and trial.datetime_complete:
        duration = (trial.datetime_complete - trial.datetime_start).total_seconds()
    return {
        "number": trial.number,
        "state": trial.state.name.lower(),
        "params": dict(trial.params),
        # A pruned trial's value in Optuna is its last intermediate CER, not an objective: not shown as one.
        "values": [_finite(v) for v in trial.values]
        if trial.values and trial.state == TrialState.COMPLETE
        else None,
        "variant": attrs.get("variant"),
        "experiment_id": attrs.get("experiment_id"),
        "metrics": attrs.get("metrics"),
        "feasible": attrs.get("constraint", 0.0) <= 0 if trial.state == TrialState.COMPLETE else None,
        "intermediate_cer": [trial.intermediate_values[k] for k in sorted(trial.intermediate_values)],
        "duration_s": duration,
        "error": attrs.get("error"),
        "host": attrs.get("host"),
        "pid": attrs.get("pid"),
        "started": trial.datetime_start.isoformat() if trial.datetime_start else None,
    }


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def best_trials(trials: list[FrozenTrial], directions: list[str]) -> list[FrozenTrial]:
    """The best feasible complete trial, or the Pareto front (sorted by the first objective) of several."""
    complete = [t for t in trials if t.state == TrialState.COMPLETE and t.values]
    complete = [t for t in complete if all(_finite(v) is not None for v in t.values)]
    feasible = [t for t in complete if t.user_attrs.get("constraint", 0.0) <= 0] or complete
    if not feasible:
        return []
    signs = [1.0 if direction == "minimize" else -1.0 for direction in directions]
    if len(signs) == 1:
        return [min(feasible, key=lambda t: signs[0] * t.values[0])]
    return sorted(pareto_front(feasible, signs), key=lambda t: signs[0] * t.values[0])


def pareto_front(trials: list[FrozenTrial], signs: list[float]) -> list[FrozenTrial]:
    """Trials no other trial dominates (``signs``: 1 for an objective minimized, -1 for one maximized)."""

    def point(trial: FrozenTrial) -> list[float]:
        return [sign * value for sign, value in zip(signs, trial.values, strict=True)]

    def dominates(a: list[float], b: list[float]) -> bool:
        return all(x <= y for x, y in zip(a, b, strict=True)) and a != b

    points = [(trial, point(trial)) for trial in trials]
    return [t for t, p in points if not any(dominates(other, p) for _, other in points)]


def directions_of(study: optuna.Study) -> list[str]:
    return [direction.name.lower() for direction in study.directions]


@dataclass
class StudyTrials:
    """What a viewer shows of one study, read from its Optuna storage.

    Attributes:
        trials: every trial as a `trial_record`, by number.
        best: numbers of the best trial (one objective) or of the Pareto front.
        counts: trials per state.
        directions: minimize / maximize per objective.
        objectives: the objectives' names (Optuna's metric names), when the study has them.
        settings: the study's ocrq settings as stored in the storage (the `ocrq` user attribute).
        error: why the storage could not be read (then everything else is empty).
    """

    trials: list[dict[str, Any]] = field(default_factory=list)
    best: list[int] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    directions: list[str] = field(default_factory=list)
    objectives: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def read_trials(study: optuna.Study) -> StudyTrials:
    """The records of a loaded study's trials, its best trials and counts per state."""
    frozen = study.get_trials(deepcopy=False)
    directions = directions_of(study)
    records = [trial_record(t) for t in frozen]
    counts: dict[str, int] = {}
    for record in records:
        counts[record["state"]] = counts.get(record["state"], 0) + 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        names = study.metric_names or []
    settings = study.user_attrs.get(SETTINGS_ATTR)
    return StudyTrials(
        trials=records,
        best=[t.number for t in best_trials(frozen, directions)],
        counts=counts,
        directions=directions,
        objectives=list(names),
        settings=settings if isinstance(settings, dict) else {},
    )


class StudyReader:
    """Reads studies' trials from their storages, keeping each storage open between reads.

    A journal storage re-reads only what was appended since the last read, and is not read at all while
    its file is unchanged; an RDB is asked each time. A storage that is missing or cannot be reached gives
    a `StudyTrials` with its `error`, never an exception. Thread-safe enough for one polling thread.
    """

    def __init__(self) -> None:
        self._storages: dict[str, optuna.storages.BaseStorage] = {}
        self._cache: dict[tuple[str, str], tuple[tuple[int, int] | None, StudyTrials]] = {}

    def read(self, name: str, url: str) -> StudyTrials:
        """The trials of study ``name`` in the storage at ``url``."""
        signature = storage_signature(url)
        cached = self._cache.get((name, url))
        if cached is not None and signature is not None and cached[0] == signature:
            return cached[1]
        if signature == (0, 0):
            result = StudyTrials(
                error=f"no Optuna storage at {url} (the study never started, or was removed)"
            )
        else:
            result = self._read(name, url)
        self._cache[(name, url)] = (signature, result)
        return result

    def _read(self, name: str, url: str) -> StudyTrials:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        try:
            storage = self._storages.get(url)
            if storage is None:
                storage = self._storages[url] = open_storage(url)
            study = optuna.load_study(study_name=name, storage=storage)
            return read_trials(study)
        except KeyError:
            return StudyTrials(error=f"no study '{name}' in its Optuna storage {url}")
        except Exception as error:  # an unreachable database, a missing driver, a damaged journal
            self._storages.pop(url, None)
            return StudyTrials(error=f"cannot read the Optuna storage {url}: {type(error).__name__}: {error}")
