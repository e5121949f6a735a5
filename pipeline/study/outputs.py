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
from pipeline.study import storage
from pipeline.study.search import StudySettings
from pipeline.study.storage import trial_record

OUTPUT_FILES = (
    "study_config.json",
    "best_quantization_config.json",
    "optimization_history.json",
    "best_metrics.json",
    "optimization_report.json",
    "optimization_visualization.png",
)


def best_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The best feasible trial, or the Pareto front (feasible trials first) of a multi-objective study."""
    return storage.best_trials(study.get_trials(deepcopy=False), storage.directions_of(study))


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
    best = best_trials(study)
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
