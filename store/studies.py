"""Optuna studies and their trials, kept in ``home/studies.json`` (a TinyDB file of its own)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from tinydb import Query

from .errors import StudyNotFound
from .liveness import this_host
from .processes import process_alive
from .resolve import resolve_ref
from .storage import read_tables, write_transaction
from .values import check_id, is_full_id, new_id, now_iso, to_json_native

STUDIES_FILE = "studies.json"
STUDY_TABLE = "studies"
TRIAL_TABLE = "trials"
STUDY_STATUSES = ("created", "running", "finished", "failed", "interrupted")
# Shown, never stored: a `running` study whose process on this host is gone.
DERIVED_STUDY_STATUS = "crashed"
DIRECTIONS = ("minimize", "maximize")
TRIAL_STATES = ("running", "waiting", "complete", "pruned", "fail")


class StudyMethods:
    """The study half of :class:`store.Store` (mixed in; needs ``self.home``)."""

    home: Path

    @property
    def _studies_path(self) -> Path:
        return self.home / STUDIES_FILE

    @property
    def _studies_label(self) -> str:
        return f"store at {self.home}"

    def _study_tables(self) -> dict[str, list[dict[str, Any]]]:
        tables = read_tables(self._studies_path, self._studies_label, (STUDY_TABLE, TRIAL_TABLE))
        return tables or {STUDY_TABLE: [], TRIAL_TABLE: []}

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
            "best_trials": [], "n_trials": 0,
        }  # fmt: skip
        with write_transaction(self._studies_path, self._studies_label) as db:
            table = db.table(STUDY_TABLE)
            if table.contains(Query()["id"] == study_id):
                raise ValueError(f"study_id={study_id!r} is already used; give a new id or None")
            table.insert(study)
        return dict(study)

    def _existing_study_id(self, study_id: str) -> str:
        if is_full_id(study_id):
            return study_id
        return self._resolve_study(study_id, self._study_tables()[STUDY_TABLE])["id"]

    def record_trial(
        self,
        study_id: str,
        *,
        number: int,
        state: str,
        params: dict,
        values: list[float] | None,
        experiment_id: str | None = None,
        details: dict | None = None,
    ) -> None:
        """Store one trial of a study, replacing an earlier record with the same ``number``.

        Args:
            study_id: the study's id (or a prefix / name).
            number: Optuna's trial number.
            state: running, waiting, complete, pruned or fail (Optuna's names, any case).
            params: the sampled parameters.
            values: the objective values (``None`` while running or when failed/pruned).
            experiment_id: the experiment that ran the trial.
            details: what a viewer shows beside it (``variant``, ``intermediate`` CER per epoch,
                ``error``, ``duration_s``, ``host``, ``pid``); JSON values.
        """
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            raise ValueError(f"number={number!r} is not allowed; give a trial number >= 0")
        state_name = str(state).lower()
        if state_name not in TRIAL_STATES:
            raise ValueError(f"state={state!r} is not a trial state; allowed: {', '.join(TRIAL_STATES)}")
        if values is not None:
            values = [None if v is None or not math.isfinite(float(v)) else float(v) for v in values]
        if experiment_id is not None:
            check_id(experiment_id, "experiment_id")
        study_id = self._existing_study_id(study_id)
        trial = {
            "study_id": study_id, "number": number, "state": state_name,
            "params": to_json_native(params, "params"), "values": values,
            "experiment_id": experiment_id, "updated": now_iso(),
            "details": to_json_native(details or {}, "details"),
        }  # fmt: skip
        with write_transaction(self._studies_path, self._studies_label) as db:
            studies = db.table(STUDY_TABLE)
            if not studies.contains(Query()["id"] == study_id):
                raise StudyNotFound(f"no study matches '{study_id}'")
            trials = db.table(TRIAL_TABLE)
            trials.upsert(trial, (Query()["study_id"] == study_id) & (Query()["number"] == number))
            count = trials.count(Query()["study_id"] == study_id)
            studies.update({"n_trials": count, "updated": now_iso()}, Query()["id"] == study_id)

    def set_study_status(self, study_id: str, status: str, *, best_trials: list[int] | None = None) -> None:
        """Store a study's status and, when given, the numbers of its best trials."""
        if status not in STUDY_STATUSES:
            raise ValueError(f"status={status!r} is not a study status; allowed: {', '.join(STUDY_STATUSES)}")
        changes: dict[str, Any] = {"status": status, "updated": now_iso()}
        if best_trials is not None:
            changes["best_trials"] = [int(number) for number in best_trials]
        study_id = self._existing_study_id(study_id)
        with write_transaction(self._studies_path, self._studies_label) as db:
            if not db.table(STUDY_TABLE).update(changes, Query()["id"] == study_id):
                raise StudyNotFound(f"no study matches '{study_id}'")

    def list_studies(self) -> list[dict[str, Any]]:
        """Every study, newest first (without trials; ``n_trials`` counts them)."""
        studies = [_with_liveness(study) for study in self._study_tables()[STUDY_TABLE]]
        return sorted(studies, key=lambda study: study.get("created") or "", reverse=True)

    def get_study(self, ref: str) -> dict[str, Any]:
        """One study with its ``trials`` (sorted by number); ``ref`` is an id, unique prefix or name.

        Raises:
            StudyNotFound / AmbiguousId: nothing or several studies match.
        """
        tables = self._study_tables()
        study = self._resolve_study(ref, tables[STUDY_TABLE])
        trials = [trial for trial in tables[TRIAL_TABLE] if trial.get("study_id") == study["id"]]
        return {**_with_liveness(study), "trials": sorted(trials, key=lambda trial: trial["number"])}

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
        with write_transaction(self._studies_path, self._studies_label) as db:
            if not db.table(STUDY_TABLE).update(changes, Query()["id"] == study_id):
                raise StudyNotFound(f"no study matches '{study_id}'")

    def delete_study(self, ref: str) -> dict[str, Any]:
        """Remove a study and its trial records (the trials' experiments stay); returns the removed document."""
        tables = self._study_tables()
        study = self._resolve_study(ref, tables[STUDY_TABLE])
        with write_transaction(self._studies_path, self._studies_label) as db:
            db.table(STUDY_TABLE).remove(Query()["id"] == study["id"])
            db.table(TRIAL_TABLE).remove(Query()["study_id"] == study["id"])
        return study


def _with_liveness(study: dict[str, Any]) -> dict[str, Any]:
    """``crashed`` for a running study whose recorded process on this host is gone (never ``running`` forever)."""
    if study.get("status") != "running" or study.get("host") != this_host() or "pid" not in study:
        return study
    if process_alive(study["pid"], study.get("pid_started")):
        return study
    return {**study, "status": DERIVED_STUDY_STATUS}
