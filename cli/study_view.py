"""`ocrq study ls / show / rm`: read studies back (trial states from Optuna's storage)."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.console import CliError, info, print_json, write_table
from cli.study_common import (
    existing_settings,
    find_study,
    is_remote,
    journal_path,
    print_study,
    studies_dir,
    sync_mirror,
)
from store import Store


def ls(json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List the studies in the store."""
    studies = Store().list_studies()
    if json_:
        print_json(studies)
        return
    rows = [
        [s["id"][:8], s.get("name") or "-", s.get("status") or "-", (s.get("config") or {}).get("method", "-"),
         (s.get("config") or {}).get("target", "-"), str(s.get("n_trials", 0)), (s.get("created") or "")[:19]]
        for s in studies
    ]  # fmt: skip
    write_table(["id", "name", "status", "method", "target", "trials", "created"], rows, right={"trials"})


def show(
    ref: Annotated[str, typer.Argument(help="Study name or id.")],
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """A study's trials (from Optuna's storage), its best trial or Pareto front, and how to reproduce it."""
    store = Store()
    doc = find_study(store, ref)
    storage_url = doc.get("storage_url") or str(journal_path(store, doc["name"]))
    settings = existing_settings(doc["name"], storage_url)
    if settings is None:
        raise CliError(
            f"study {doc['name']} has no trials in its storage {storage_url} (never started or removed)"
        )
    from pipeline.study.outputs import study_summary
    from pipeline.study.search import load_study

    study, settings = load_study(doc["name"], storage_url)
    summary = study_summary(study, settings, storage_url)
    sync_mirror(store, study, settings)
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
