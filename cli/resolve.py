"""Turning the ids a user typed into experiments, with usage errors (exit 2) for bad ones."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.console import CliError, UsageError
from store import AmbiguousId, ExperimentNotFound, Store


def resolve(store: Store, ref: str) -> str:
    """Full id for an id, unique prefix (>= 4 chars) or exact name; a usage error otherwise.

    A damaged store is not the user's typo: its StoreError goes on to `main` (exit 1, `ocrq doctor`).
    """
    try:
        return store.resolve_id(ref)
    except (ExperimentNotFound, AmbiguousId, ValueError) as error:
        raise UsageError(str(error)) from None


def resolve_all(store: Store, refs: list[str]) -> list[str]:
    ids = [resolve(store, ref) for ref in refs]
    seen: set[str] = set()
    for ref, exp_id in zip(refs, ids, strict=True):
        if exp_id in seen:
            raise UsageError(f"'{ref}' names experiment {exp_id} twice; give each experiment once")
        seen.add(exp_id)
    return ids


def existing_folder(store: Store, exp_id: str) -> Path:
    """The experiment's folder; a runtime error (exit 1) when it was deleted outside ocrq.

    Without this, a command on such an experiment failed later with a misleading reason (no
    checkpoint, no variant file, a damaged store).
    """
    folder = store.experiment_dir(exp_id)
    if not folder.is_dir():
        raise CliError(
            f"the folder of experiment {exp_id} ({folder}) is gone: it was deleted outside ocrq; "
            "`ocrq doctor --repair --yes` removes its index entry"
        )
    return folder


# `--id`: the id a launcher (the TUI) allocated, so it can open the experiment before the process records it.
LauncherId = Annotated[
    str | None,
    typer.Option(
        "--id",
        help="Use this new 12-hex-digit id (launchers pre-allocate ids).",
        show_default=False,
        hidden=True,
    ),
]


def is_new_id(store: Store, exp_id: str) -> bool:
    """Whether `exp_id` is 12 hex digits that no experiment has (or starts with): a launcher's `--id`."""
    if len(exp_id) != 12 or any(c not in "0123456789abcdef" for c in exp_id):
        return False
    try:
        store.resolve_id(exp_id)
    except ExperimentNotFound:
        return True
    except AmbiguousId:
        return False
    return False
