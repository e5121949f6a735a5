"""`ocrq study ls / show / rm`: read studies back (trial states from Optuna's storage)."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.console import CliError, info, print_json, write_table
from cli.study_common import (
    existing_settings,
    find_study,
    is_remote,
    print_study,
    quiet_optuna,
    storage_url_of,
    studies_dir,
)
from store import Store


def ls(json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List the studies in the store, with their trial counts from each study's Optuna storage."""
    from pipeline.study.storage import StudyReader

    store = Store()
    studies = store.list_studies()
    quiet_optuna()
    reader = StudyReader()
    for study in studies:
        trials = reader.read(study["name"], storage_url_of(store, study))
        study["trials"] = len(trials.trials) if trials.error is None else None
        study["counts"] = trials.counts
        study["planned_trials"] = trials.settings.get("n_trials")  # a resume can raise it: Optuna's, not ours
        if trials.error is not None:
            study["storage_error"] = trials.error
    if json_:
        print_json(studies)
        return
    rows = []
    for s in studies:
        config = s.get("config") or {}
        trials = "?" if s["trials"] is None else f"{s['trials']}/{s['planned_trials'] or '?'}"
        rows.append([s["id"][:8], s.get("name") or "-", s.get("status") or "-", config.get("method", "-"),
                     config.get("target", "-"), trials, (s.get("created") or "")[:19]])  # fmt: skip
    write_table(["id", "name", "status", "method", "target", "trials", "created"], rows, right={"trials"})
    for s in studies:
        if s.get("storage_error"):
            info(f"study {s['name']}: {s['storage_error']}")


def show(
    ref: Annotated[str, typer.Argument(help="Study name or id.")],
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """A study's trials (from Optuna's storage), its best trial or Pareto front, and how to reproduce it."""
    store = Store()
    doc = find_study(store, ref)
    storage_url = storage_url_of(store, doc)
    settings = existing_settings(doc["name"], storage_url)
    if settings is None:
        raise CliError(
            f"study {doc['name']} has no trials in its storage {storage_url} (never started or removed)"
        )
    from pipeline.study.outputs import study_summary
    from pipeline.study.search import load_study

    study, settings = load_study(doc["name"], storage_url)
    summary = study_summary(study, settings, storage_url)
    links = store.trial_experiments(doc["id"])
    for trial in summary["trials"]:  # a running trial's experiment is known to the store before Optuna
        trial["experiment_id"] = trial["experiment_id"] or links.get(trial["number"])
    if json_:
        print_json(
            {**summary, "id": doc["id"], "status": doc.get("status"), "output_dir": doc.get("output_dir")}
        )
        return
    info(
        f"study {doc['name']} ({doc['id'][:8]}) · {settings.method} · {settings.target} · {doc.get('status')}"
    )
    print_study(summary)


def rm(
    ref: Annotated[str, typer.Argument(help="Study name or id.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
) -> None:
    """Remove a study, its Optuna journal and its output folder (the trials' experiments stay)."""
    import shutil

    store = Store()
    doc = find_study(store, ref)
    if not yes and not typer.confirm(f"remove study {doc['name']} ({doc['id'][:8]})?"):
        raise typer.Exit(1)
    store.delete_study(doc["id"])
    folder = studies_dir(store) / doc["name"]
    if folder.is_dir():
        shutil.rmtree(folder)
    storage_url = doc.get("storage_url") or ""
    if storage_url and is_remote(storage_url):
        import optuna

        try:
            optuna.delete_study(study_name=doc["name"], storage=storage_url)
        except KeyError:
            pass
    info(f"removed study {doc['name']}")
