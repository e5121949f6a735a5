"""A study's output folder: the seed's six files, written from Optuna's storage (the record of trials)."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from pipeline.core.atomic import write_text_atomic
from pipeline.study.search import StudySettings

OUTPUT_FILES = (
    "study_config.json",
    "best_quantization_config.json",
    "optimization_history.json",
    "best_metrics.json",
    "optimization_report.json",
    "optimization_visualization.png",
)


def trial_record(trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
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


def best_trials(study: optuna.Study, settings: StudySettings) -> list[optuna.trial.FrozenTrial]:
    """The best feasible trial, or the Pareto front (feasible trials first) of a multi-objective study."""
    complete = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    feasible = [t for t in complete if t.user_attrs.get("constraint", 0.0) <= 0] or complete
    if not feasible:
        return []
    if settings.objective.multi:
        return sorted(pareto_front(feasible), key=lambda t: t.values[0])
    return [max(feasible, key=lambda t: t.values[0])]


def pareto_front(trials: list[optuna.trial.FrozenTrial]) -> list[optuna.trial.FrozenTrial]:
    """Trials no other trial dominates (every objective minimized)."""

    def dominates(a, b) -> bool:
        return all(x <= y for x, y in zip(a.values, b.values, strict=True)) and a.values != b.values

    return [t for t in trials if not any(dominates(other, t) for other in trials)]


def reproduce_command(settings: StudySettings, trial: optuna.trial.FrozenTrial) -> str:
    """The plain `ocrq run` that rebuilds the trial's variant from the study's baseline."""
    flags = " ".join(f"--{key.replace('_', '-')} {_shell(value)}" for key, value in settings.base_overrides.items()
                     if key not in ("variants", "mode"))  # fmt: skip
    variant = trial.user_attrs.get("variant", "?")
    baseline = (settings.baseline_experiment or "BASELINE")[:12]
    return f"ocrq run --from {baseline} --mode compress --variants '{variant}'" + (
        f" {flags}" if flags else ""
    )


def _shell(value: Any) -> str:
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return text if text.replace("_", "").replace(".", "").replace("-", "").isalnum() else f"'{text}'"


def study_summary(study: optuna.Study, settings: StudySettings, storage_url: str) -> dict[str, Any]:
    """Everything `ocrq study show --json` prints."""
    trials = [trial_record(t) for t in study.get_trials(deepcopy=False)]
    best = best_trials(study, settings)
    counts: dict[str, int] = {}
    for trial in trials:
        counts[trial["state"]] = counts.get(trial["state"], 0) + 1
    return {
        "name": settings.name,
        "storage": storage_url,
        "settings": settings.to_dict(),
        "objective": settings.objective.to_dict(),
        "counts": counts,
        "trials": trials,
        "best": [trial_record(t) for t in best],
        "pareto_front": settings.objective.multi,
        "reproduce": reproduce_command(settings, best[0]) if best else None,
    }


def write_outputs(study: optuna.Study, settings: StudySettings, storage_url: str, folder: Path) -> list[Path]:
    """Write the seed's six files into `folder`; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    summary = study_summary(study, settings, storage_url)
    best = summary["best"]
    first = best[0] if best else None
    payloads = {
        "study_config.json": {
            "study_name": settings.name, "method": settings.method, "storage": storage_url,
            "optimization_target": settings.target, "objective": summary["objective"],
            "n_trials": settings.n_trials, "pruner": settings.pruner, "search_space": settings.space,
            "base_overrides": settings.base_overrides, "baseline_experiment": settings.baseline_experiment,
            "seed": settings.seed, "optuna_version": optuna.__version__,
            "dashboard": f"optuna-dashboard {storage_url}",
        },
        "best_quantization_config.json": {
            "variants": [trial["variant"] for trial in best],
            "params": [trial["params"] for trial in best],
            "trial_numbers": [trial["number"] for trial in best],
            "reproduce": summary["reproduce"],
        },
        "optimization_history.json": {"trials": summary["trials"]},
        "best_metrics.json": {
            "trials": [{"number": t["number"], "values": t["values"], "metrics": t["metrics"]} for t in best],
            "objectives": settings.objective.names,
        },
        "optimization_report.json": {
            "counts": summary["counts"],
            "best": best,
            "pareto_front": summary["pareto_front"],
            "importances": _importances(study, settings),
            "pruned_seconds": sum(t["duration_s"] or 0 for t in summary["trials"] if t["state"] == "pruned"),
            "complete_seconds": sum(t["duration_s"] or 0 for t in summary["trials"] if t["state"] == "complete"),
            "best_trial": first,
        },
    }  # fmt: skip
    paths = []
    for name, payload in payloads.items():
        path = folder / name
        write_text_atomic(path, json.dumps(payload, indent=2, default=str))
        paths.append(path)
    figure = folder / "optimization_visualization.png"
    _figure(study, settings, summary, payloads["optimization_report.json"]["importances"], figure)
    paths.append(figure)
    return paths


def _importances(study: optuna.Study, settings: StudySettings) -> dict[str, float]:
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(complete) < 3:
        return {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            target = (lambda t: t.values[0]) if settings.objective.multi else None
            return {
                k: float(v)
                for k, v in optuna.importance.get_param_importances(
                    study, target=target, evaluator=optuna.importance.PedAnovaImportanceEvaluator()
                ).items()
            }
    except Exception:  # importances need varied parameters; a tiny study may have none
        return {}


def _figure(study, settings: StudySettings, summary: dict, importances: dict[str, float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    complete = [t for t in summary["trials"] if t["state"] == "complete" and t["values"]]
    panels = 3 if settings.objective.multi else 2
    fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 4))
    ax = axes[0]
    xs = [t["number"] for t in complete]
    ys = [t["values"][0] for t in complete]
    ax.plot(xs, ys, "o", label=settings.objective.names[0])
    if ys and not settings.objective.multi:
        running, best = [], -math.inf
        for y in ys:
            best = max(best, y)
            running.append(best)
        ax.plot(xs, running, "-", label="best so far")
    for trial in summary["trials"]:
        if trial["state"] == "pruned":
            ax.axvline(trial["number"], color="0.85", lw=0.8)
    ax.set_title("optimization history (grey: pruned)")
    ax.set_xlabel("trial")
    ax.legend(fontsize=7)
    ax = axes[1]
    if importances:
        names = list(importances)[:10]
        ax.barh(names[::-1], [importances[n] for n in names][::-1])
    ax.set_title("parameter importances" + ("" if importances else " (too few trials)"))
    if settings.objective.multi:
        ax = axes[2]
        front = {t["number"] for t in summary["best"]}
        for trial in complete:
            on = trial["number"] in front
            ax.plot(
                trial["values"][1], 100 * trial["values"][0], "o" if on else ".", color="C3" if on else "0.6"
            )
        ax.set_xlabel("size (MB)")
        ax.set_ylabel("CER (%)")
        ax.set_title("Pareto front (red)")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
