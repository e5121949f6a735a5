"""Reading studies for the Studies screen: the store's links, and the trials from each study's Optuna storage.

Optuna's storage is the one record of a study's trials; the store only says which studies exist, where
their storages are and which experiment ran each trial. The trials are read with `pipeline.study.storage`
(optuna and the standard library only, no torch), imported on the first read so the TUI starts without
optuna, and always from the screen's polling thread: a slow database never blocks the UI. No Textual here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from store import Store

# A study's trial count in the list is re-read this often when its storage is a database (a journal file
# is re-read when it changes); the selected study's trials are read on every poll.
RDB_COUNT_REFRESH_S = 10.0


@dataclass
class StudyView:
    """One study as the screen shows it.

    Attributes:
        doc: the store's document (name, status, storage, config, pid...).
        trials: Optuna's trials as `pipeline.study.storage.trial_record` dicts, by number; each has its
            ``experiment_id`` (Optuna's, or the store's link while the trial runs).
        best: numbers of the best trial or of the Pareto front.
        directions, objectives: per objective, its direction and name.
        planned: the trials the study runs in all (its settings in the storage; a resume can raise it).
        error: why the storage could not be read, else None.
    """

    doc: dict[str, Any]
    trials: list[dict[str, Any]] = field(default_factory=list)
    best: list[int] = field(default_factory=list)
    directions: list[str] = field(default_factory=list)
    objectives: list[str] = field(default_factory=list)
    planned: int | None = None
    error: str | None = None

    @property
    def id(self) -> str:
        return self.doc["id"]


@dataclass
class StudiesSnapshot:
    """Every study (newest first) with (trials in its storage, trials it runs in all) from Optuna (None:
    storage unreadable), and the selected one."""

    studies: list[dict[str, Any]]
    trial_counts: dict[str, tuple[int | None, int | None]]
    selected: StudyView | None


def storage_url(store: Store, doc: dict[str, Any]) -> str:
    """Where a study's trials live: its storage URL, or its journal in the home."""
    return doc.get("storage_url") or str(Path(store.home) / "studies" / doc["name"] / "optuna.journal")


class StudiesReader:
    """Reads the studies and the selected study's trials; ``read`` returns None when nothing changed."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._reader = None  # pipeline.study.storage.StudyReader, made on the first read
        self._counts: dict[str, tuple[float, tuple[int | None, int | None]]] = {}
        self._links: tuple[tuple[int, int] | None, str | None, dict[int, str]] = (None, None, {})
        self._last: StudiesSnapshot | None = None

    def read(self, selected_id: str | None, *, force: bool = False) -> StudiesSnapshot | None:
        studies = self.store.list_studies()
        if selected_id is None and studies:
            selected_id = studies[0]["id"]
        selected = next((study for study in studies if study["id"] == selected_id), None)
        view = self._view(selected) if selected is not None else None
        counts = {study["id"]: self._count(study, view) for study in studies}
        snapshot = StudiesSnapshot(studies=studies, trial_counts=counts, selected=view)
        if not force and snapshot == self._last:
            return None
        self._last = snapshot
        return snapshot

    def _trials_reader(self):
        if self._reader is None:
            from pipeline.study.storage import StudyReader

            self._reader = StudyReader()
        return self._reader

    def _view(self, doc: dict[str, Any]) -> StudyView:
        trials = self._trials_reader().read(doc["name"], storage_url(self.store, doc))
        links = self._trial_links(doc["id"])
        records = [
            {**record, "experiment_id": record["experiment_id"] or links.get(record["number"])}
            for record in trials.trials
        ]
        objectives = trials.objectives or list((doc.get("config") or {}).get("objectives") or [])
        return StudyView(
            doc=doc, trials=records, best=trials.best, directions=trials.directions or doc.get("directions", []),
            objectives=objectives, planned=_planned(trials.settings), error=trials.error,
        )  # fmt: skip

    def _trial_links(self, study_id: str) -> dict[int, str]:
        """The store's trial -> experiment links, re-read only when the index changed."""
        signature = self.store.index_signature()
        if self._links[:2] != (signature, study_id):
            self._links = (signature, study_id, self.store.trial_experiments(study_id))
        return self._links[2]

    def _count(self, doc: dict[str, Any], view: StudyView | None) -> tuple[int | None, int | None]:
        if view is not None and view.id == doc["id"]:
            count = (None if view.error else len(view.trials), view.planned)
            self._counts[doc["id"]] = (time.monotonic(), count)
            return count
        from pipeline.study.storage import is_rdb_url

        url = storage_url(self.store, doc)
        read_at, count = self._counts.get(doc["id"], (0.0, (None, None)))
        if doc["id"] in self._counts and is_rdb_url(url) and time.monotonic() - read_at < RDB_COUNT_REFRESH_S:
            return count
        trials = self._trials_reader().read(doc["name"], url)  # a journal is re-read only when it changed
        count = (None if trials.error else len(trials.trials), _planned(trials.settings))
        self._counts[doc["id"]] = (time.monotonic(), count)
        return count


def _planned(settings: dict[str, Any]) -> int | None:
    planned = settings.get("n_trials")
    return planned if isinstance(planned, int) else None
