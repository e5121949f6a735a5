"""What the `ocrq study` commands share: where a study lives, opening its Optuna storage (the one record
of its trials) and printing a study."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cli.console import CliError, UsageError, fmt_fixed, info, write_table
from store import AmbiguousId, Store, StudyNotFound


def quiet_optuna() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)


def studies_dir(store: Store) -> Path:
    return store.home / "studies"


def journal_path(store: Store, name: str) -> Path:
    return studies_dir(store) / name / "optuna.journal"


def storage_url_of(store: Store, study: dict[str, Any]) -> str:
    """Where a stored study's trials live: its storage URL, or the journal in this home."""
    return study.get("storage_url") or str(journal_path(store, study["name"]))


def existing_settings(name: str, storage_url: str):
    from pipeline.study.search import load_settings
    from pipeline.study.storage import is_rdb_url, open_storage

    if not is_rdb_url(storage_url) and not Path(storage_url).exists():
        return None
    import optuna

    quiet_optuna()
    try:
        storage = open_storage(storage_url)
        if name not in {s.study_name for s in optuna.get_all_study_summaries(storage)}:
            return None
        return load_settings(optuna.load_study(study_name=name, storage=storage))
    except ValueError as error:
        raise UsageError(str(error)) from None
    except Exception as error:  # an unreachable database, a damaged journal
        raise CliError(
            f"cannot open the study storage {storage_url}: {type(error).__name__}: {error}"
        ) from None


def is_remote(storage_url: str) -> bool:
    from pipeline.study.storage import is_rdb_url

    return is_rdb_url(storage_url)


def print_study(summary: dict[str, Any]) -> None:
    """The trials table, the best trial (or Pareto front) and the `ocrq run` that reproduces it."""
    objectives = summary["objective"]["objectives"]
    headers = ["#", "state", "variant", *objectives, "cer", "ratio", "speedup", "sec", "experiment"]
    rows = []
    for trial in summary["trials"]:
        metrics = trial.get("metrics") or {}
        values = trial["values"] or [None] * len(objectives)
        rows.append([
            str(trial["number"]), trial["state"] + ("" if trial.get("feasible") in (None, True) else "*"),
            trial["variant"] or "-", *[fmt_fixed(v, 4) for v in values], fmt_fixed(metrics.get("cer"), 4),
            fmt_fixed(metrics.get("compression_ratio"), 2), fmt_fixed(metrics.get("speedup"), 2),
            fmt_fixed(trial["duration_s"], 1), (trial["experiment_id"] or "-")[:8],
        ])  # fmt: skip
    write_table(
        headers, rows, right={"#", *objectives, "cer", "ratio", "speedup", "sec"}, max_width={"variant": 60}
    )
    counts = ", ".join(f"{n} {state}" for state, n in sorted(summary["counts"].items()))
    info(f"study {summary['name']}: {counts or 'no trials'} (* = under min_accuracy_threshold)")
    best = summary["best"]
    if not best:
        info("no completed trial yet")
        return
    if summary["pareto_front"]:
        info(f"Pareto front: trials {', '.join(str(t['number']) for t in best)}")
    else:
        info(
            f"best trial {best[0]['number']}: {best[0]['variant']} ({objectives[0]} {fmt_fixed(best[0]['values'][0], 4)})"
        )
    info(f"reproduce: {summary['reproduce']}")


def find_study(store: Store, ref: str) -> dict[str, Any]:
    try:
        return store.get_study(ref)
    except (StudyNotFound, AmbiguousId) as error:
        raise UsageError(str(error)) from None
