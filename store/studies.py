"""Optuna studies, kept in ``home/studies.json`` (a TinyDB file of its own) as links to their storages.

A study's document links to its Optuna storage (``name`` and ``storage_url``) and says how its process
runs (status, pid, output folder); its trials' states, parameters and values live only in that storage,
and each trial's experiment carries ``study_id`` and ``trial_number``. Stores written by older ocrq keep
a copy of the trial states in a ``trials`` table: it is never read, and dropped on the next write.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tinydb import Query
from tinydb.table import Table

from .errors import StudyNotFound
from .liveness import this_host
from .processes import process_alive
from .resolve import resolve_ref
from .storage import read_tables, write_transaction
from .values import check_id, is_full_id, new_id, now_iso, to_json_native

STUDIES_FILE = "studies.json"
STUDY_TABLE = "studies"
LEGACY_TRIAL_TABLE = "trials"  # the copy of trial states older ocrq kept; dropped on the next write
# Fields older ocrq copied from Optuna into the study document; not shown, dropped on the next write.
LEGACY_FIELDS = ("n_trials", "best_trials")
STUDY_STATUSES = ("created", "running", "finished", "failed", "interrupted")
# Shown, never stored: a `running` study whose process on this host is gone.
DERIVED_STUDY_STATUS = "crashed"
DIRECTIONS = ("minimize", "maximize")


class StudyMethods:
    """The study half of :class:`store.Store` (mixed in; needs ``self.home``)."""

    home: Path

    @property
    def _studies_path(self) -> Path:
        return self.home / STUDIES_FILE

    @property
    def _studies_label(self) -> str:
        return f"store at {self.home}"

    def _study_docs(self) -> list[dict[str, Any]]:
        tables = read_tables(self._studies_path, self._studies_label, (STUDY_TABLE,))
        docs = tables[STUDY_TABLE] if tables else []
        return [{k: v for k, v in doc.items() if k not in LEGACY_FIELDS} for doc in docs]

    @contextmanager
    def _write_studies(self) -> Iterator[Table]:
        """The studies table under the file's lock; what older ocrq copied from Optuna goes."""
        with write_transaction(self._studies_path, self._studies_label) as db:
            if LEGACY_TRIAL_TABLE in db.tables():
                db.drop_table(LEGACY_TRIAL_TABLE)
            table = db.table(STUDY_TABLE)
            for doc in table.all():
                if any(key in doc for key in LEGACY_FIELDS):
                    table.update(_drop_fields(LEGACY_FIELDS), doc_ids=[doc.doc_id])
            yield table

    def _resolve_study(self, ref: str, studies: list[dict[str, Any]]) -> dict[str, Any]:
        study_id = resolve_ref(ref, studies, what="study", not_found=StudyNotFound)
        return next(study for study in studies if study["id"] == study_id)

    def create_study(
        self,
        *,
        name: str,
        directions: list[str],
        config: dict,
        storage_url: str | None = None,
        study_id: str | None = None,
    ) -> dict[str, Any]:
        """Record a new Optuna study (status ``created``) and return its document."""
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"name={name!r} is not allowed; give a non-empty string")
        directions = [directions] if isinstance(directions, str) else list(directions)
        if not directions or any(direction not in DIRECTIONS for direction in directions):
            raise ValueError(f"directions={directions!r} is not allowed; each one of {', '.join(DIRECTIONS)}")
        if not isinstance(config, dict):
            raise ValueError(f"config={type(config).__name__} is not allowed; give a dict")
        study_id = check_id(study_id, "study_id") if study_id is not None else new_id()
        now = now_iso()
        study = {
            "id": study_id, "name": name, "directions": directions, "config": to_json_native(config, "config"),
            "storage_url": storage_url, "status": "created", "created": now, "updated": now,
        }  # fmt: skip
        with self._write_studies() as table:
            if table.contains(Query()["id"] == study_id):
                raise ValueError(f"study_id={study_id!r} is already used; give a new id or None")
            table.insert(study)
        return dict(study)

    def _existing_study_id(self, study_id: str) -> str:
        if is_full_id(study_id):
            return study_id
        return self._resolve_study(study_id, self._study_docs())["id"]

    def set_study_status(self, study_id: str, status: str) -> None:
        """Store a study's status (how its process ended; its trials' states are Optuna's)."""
        if status not in STUDY_STATUSES:
            raise ValueError(f"status={status!r} is not a study status; allowed: {', '.join(STUDY_STATUSES)}")
        study_id = self._existing_study_id(study_id)
        with self._write_studies() as table:
            if not table.update({"status": status, "updated": now_iso()}, Query()["id"] == study_id):
                raise StudyNotFound(f"no study matches '{study_id}'")

    def list_studies(self) -> list[dict[str, Any]]:
        """Every study, newest first (links only: read trials from the study's Optuna storage)."""
        studies = [_with_liveness(study) for study in self._study_docs()]
        return sorted(studies, key=lambda study: study.get("created") or "", reverse=True)

    def get_study(self, ref: str) -> dict[str, Any]:
        """One study's document; ``ref`` is an id, unique prefix or name.

        Raises:
            StudyNotFound / AmbiguousId: nothing or several studies match.
        """
        return _with_liveness(self._resolve_study(ref, self._study_docs()))

    def trial_experiments(self, study_id: str) -> dict[int, str]:
        """``{trial number: experiment id}`` of a study's trials run from this home (the store's half of
        the link; a trial's experiment exists here from the moment it starts)."""
        rows = self.list_experiments(study_id=study_id, include_deleted=True)  # type: ignore[attr-defined]
        return {row["trial_number"]: row["id"] for row in rows if row.get("trial_number") is not None}

    def update_study(self, study_id: str, **fields: Any) -> None:
        """Store study fields a run learns later (``output_dir``, ``artifacts``, ``baseline_experiment``, ``pid``)."""
        allowed = {
            "output_dir",
            "artifacts",
            "baseline_experiment",
            "pid",
            "pid_started",
            "host",
            "storage_url",
        }
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(
                f"cannot set {', '.join(sorted(unknown))} on a study; allowed: {', '.join(sorted(allowed))}"
            )
        changes = {**to_json_native(fields, "fields"), "updated": now_iso()}
        study_id = self._existing_study_id(study_id)
        with self._write_studies() as table:
            if not table.update(changes, Query()["id"] == study_id):
                raise StudyNotFound(f"no study matches '{study_id}'")

    def delete_study(self, ref: str) -> dict[str, Any]:
        """Remove a study's document (its Optuna storage and the trials' experiments stay); returns it."""
        study = self._resolve_study(ref, self._study_docs())
        with self._write_studies() as table:
            table.remove(Query()["id"] == study["id"])
        return study


def _with_liveness(study: dict[str, Any]) -> dict[str, Any]:
    """``crashed`` for a running study whose recorded process on this host is gone (never ``running`` forever)."""
    if study.get("status") != "running" or study.get("host") != this_host() or "pid" not in study:
        return study
    if process_alive(study["pid"], study.get("pid_started")):
        return study
    return {**study, "status": DERIVED_STUDY_STATUS}


def _drop_fields(fields: tuple[str, ...]):
    def transform(doc: dict[str, Any]) -> None:
        for key in fields:
            doc.pop(key, None)

    return transform
