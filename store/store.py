"""The experiment store: one summary per experiment in the index, one folder per experiment.

Layout under the home folder::

    index.json                       the index's layout marker; its mtime changes with every summary
    index/<xx>.json                  TinyDB: the summaries of experiments whose id starts with xx
    studies.json                     TinyDB: Optuna studies and their trials
    experiments/<id>/experiment.json TinyDB: config, epochs, variants, artifacts, evaluations
    experiments/<id>/summary.json    a copy of the experiment's summary (rebuilds a damaged index)
    experiments/<id>/run.log         append-only log lines
    experiments/<id>/heartbeat.json  last sign of life of a running experiment

Writes take the file's lock and land atomically; reads take no lock. Creating a ``Store`` writes
nothing: the home appears with the first write.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import records
from .artifact_paths import resolve_artifact_path, stored_artifact_path
from .bulk import bulk_summaries
from .errors import ExperimentNotFound, StoreError
from .files import file_sha256
from .index import INDEX_FILE, INDEX_TABLE, Index  # noqa: F401  (INDEX_FILE: the TUI's change signal)
from .liveness import derive_status, read_heartbeat, this_host, this_process_started, write_heartbeat
from .logfile import LOG_FILE, append_lines, tail_lines
from .queries import matches, sort_summaries
from .resolve import resolve_ref
from .storage import read_tables, schema_from_head
from .studies import STUDIES_FILE, StudyMethods
from .values import check_id, is_full_id, new_id, now_iso, to_json_native

# pruned / stopped: a training callback ended the run (a search's pruner cut a poor trial)
STORED_STATUSES = ("created", "running", "finished", "failed", "interrupted", "pruned", "stopped")
# `crashed` is derived for a `running` experiment whose process is gone; only `ocrq doctor --repair`
# stores it (a run never declares itself crashed, so set_status refuses it). `missing` is derived for
# an experiment whose folder was deleted behind the store's back (`ocrq doctor` reports it).
STATUSES = (*STORED_STATUSES, "crashed", "missing")
SUMMARY_FIELDS = (
    "id", "name", "template", "model", "status", "created", "updated", "tags", "note", "deleted",
    "pid", "host", "command", "study_id", "trial_number", "best_cer", "best_em", "size_ratio",
    "speedup", "stage", "error",
)  # fmt: skip
EXPERIMENTS_DIR = "experiments"
# Artifact kinds a user deploys (trained models, variant files): recorded with their sha256, which
# `ocrq doctor` checks. Checkpoints and reports are rewritten as a run goes on and are not hashed.
DEPLOYABLE_KINDS = ("model", "onnx")
# Fields update_summary must not touch, with the method that owns each.
_OWNED_FIELDS = {
    "id": "ids are fixed at creation",
    "created": "the creation time is fixed",
    "status": "use set_status",
    "deleted": "use soft_delete / restore",
    "tags": "use tag",
}


def _clean_tags(tags: Iterable[str] | str, field: str) -> list[str]:
    items = [tags] if isinstance(tags, str) else list(tags)
    cleaned = []
    for tag in items:
        if not isinstance(tag, str) or not tag.strip() or any(char.isspace() for char in tag.strip()):
            raise ValueError(f"{field}: tag {tag!r} is not allowed; a tag is a non-empty word without spaces")
        cleaned.append(tag.strip())
    return cleaned


class Store(StudyMethods):
    """Process-safe experiment store rooted at a home folder.

    Args:
        home: the store's folder; ``None`` means ``$OCRQ_HOME`` or ``~/.ocrq``.
        verify: check the index's schema now (off only for ``ocrq doctor``, which must open a store
            whose ``index.json`` is damaged; every read and write still checks the files it touches).

    Raises:
        SchemaTooNew: the store was written by a newer ocrq.
        StoreError: ``home`` exists and is not a folder (or, with ``verify``, its index is damaged).
    """

    def __init__(self, home: str | Path | None = None, *, verify: bool = True) -> None:
        if home is None or str(home) == "":
            home = os.environ.get("OCRQ_HOME") or "~/.ocrq"
        self._home = Path(home).expanduser().absolute()
        if self._home.exists() and not self._home.is_dir():
            raise StoreError(f"ocrq home {self._home} exists and is not a folder")
        self._index = Index(self._home, self._label)
        if verify:
            schema_from_head(self._index_path, self._label)

    # -- paths -----------------------------------------------------------------------------------

    @property
    def home(self) -> Path:
        """The store's home folder."""
        return self._home

    @property
    def _index_path(self) -> Path:
        return self._home / INDEX_FILE

    @property
    def _label(self) -> str:
        return f"store at {self._home}"

    def _folder(self, exp_id: str) -> Path:
        return self._home / EXPERIMENTS_DIR / check_id(exp_id, "experiment_id")

    def _existing_folder(self, ref: str) -> tuple[str, Path]:
        """Full id and folder of an experiment; a full id with a folder skips reading the index."""
        if is_full_id(ref) and self._folder(ref).is_dir():
            return ref, self._folder(ref)
        exp_id = self.resolve_id(ref)
        return exp_id, self._folder(exp_id)

    def experiment_dir(self, exp_id: str) -> Path:
        """The experiment's folder (``home/experiments/<id>``), where its artifacts belong."""
        return self._existing_folder(exp_id)[1]

    # -- index -----------------------------------------------------------------------------------

    def _index_docs(self) -> list[dict[str, Any]]:
        return self._index.docs()

    def _change_summary(self, exp_id: str, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """Apply ``change`` to one summary under its shard's lock; return the new summary.

        The copy in the experiment's folder is written under the same lock, so copies land in the
        order of the summaries they copy.
        """

        def apply(doc: dict[str, Any]) -> None:
            change(doc)
            doc["updated"] = now_iso()

        return self._index.change(exp_id, apply, after=lambda doc: self._copy_summary(doc))

    def _copy_summary(self, summary: dict[str, Any]) -> None:
        folder = self._folder(summary["id"])
        if folder.is_dir():  # a folder deleted by hand is the doctor's to report, not ours to re-create
            records.write_summary_copy(folder, summary)

    def resolve_id(self, ref: str) -> str:
        """The full id of the experiment ``ref`` names: full id, unique id prefix (>= 4) or exact name.

        Raises:
            ExperimentNotFound: nothing matches.
            AmbiguousId: several experiments match (the message lists them).
        """
        if is_full_id(ref) and self._index.find(ref) is not None:
            return ref  # a full id needs one shard, not the whole index
        return resolve_ref(ref, self._index_docs(), what="experiment", not_found=ExperimentNotFound)

    # -- change signals for pollers (the TUI): compare between polls, re-read only when they differ --

    def index_signature(self) -> tuple[int, int]:
        """(mtime_ns, size) of ``index.json``: it changes whenever any experiment's summary changes.

        A poller compares it between polls and re-reads the listing only when it differs.
        """
        return _signature(self._index_path)

    def experiment_signature(self, exp_id: str) -> tuple[int, int]:
        """Changes whenever the experiment's own document (epochs, variants, artifacts) is rewritten."""
        return _signature(self._folder(exp_id) / records.EXPERIMENT_FILE)

    def log_signature(self, exp_id: str) -> tuple[int, int]:
        """Changes whenever the experiment's run log grows."""
        return _signature(self._folder(exp_id) / LOG_FILE)

    def studies_signature(self) -> tuple[int, int]:
        """Changes whenever a study is created, changed or removed."""
        return _signature(self._home / STUDIES_FILE)

    def has_folder(self, exp_id: str) -> bool:
        """Whether a full experiment id already has its folder (without reading the index)."""
        return is_full_id(exp_id) and self._folder(exp_id).is_dir()

    def read_heartbeat(self, exp_id: str) -> dict[str, Any] | None:
        """The last heartbeat a running experiment wrote (pid, host, stage, progress, time), if any."""
        return read_heartbeat(self._folder(exp_id))

    # -- creating and recording ------------------------------------------------------------------

    def create_experiment(
        self,
        *,
        name: str,
        template: str,
        config: dict,
        model: str,
        command: list[str] | None = None,
        study_id: str | None = None,
        trial_number: int | None = None,
        experiment_id: str | None = None,
    ) -> dict[str, Any]:
        """Create an experiment (folder, own file, index summary) with status ``created``.

        Returns:
            The summary document.
        """
        for field, value in (("name", name), ("template", template), ("model", model)):
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{field}={value!r} is not allowed; give a non-empty string")
        if not isinstance(config, dict):
            raise ValueError(f"config={type(config).__name__} is not allowed; give a dict")
        if command is not None and not (
            isinstance(command, list | tuple) and all(isinstance(a, str) for a in command)
        ):
            raise ValueError(f"command={command!r} is not allowed; give a list of strings or None")
        if study_id is not None:
            check_id(study_id, "study_id")
        if trial_number is not None and (not isinstance(trial_number, int) or isinstance(trial_number, bool)):
            raise ValueError(f"trial_number={trial_number!r} is not allowed; give an int or None")
        exp_id = check_id(experiment_id, "experiment_id") if experiment_id is not None else new_id()
        # A damaged index is refused before anything is written: no folder that no index entry names.
        self._index.find(exp_id)
        folder = self._folder(exp_id)
        try:
            folder.mkdir(parents=True)
        except FileExistsError:
            if experiment_id is not None:
                raise StoreError(f"experiment {exp_id} already exists in {self._home}") from None
            return self.create_experiment(  # a random id collided: draw another
                name=name, template=template, config=config, model=model, command=command,
                study_id=study_id, trial_number=trial_number,
            )  # fmt: skip
        try:
            return self._fill_new_experiment(
                folder, exp_id, name, template, config, model, command, study_id, trial_number
            )
        except BaseException:
            # A full disk or a damaged index half-way: the folder goes, so no orphan is left behind.
            shutil.rmtree(folder, ignore_errors=True)
            raise

    def _fill_new_experiment(
        self,
        folder: Path,
        exp_id: str,
        name: str,
        template: str,
        config: dict,
        model: str,
        command: list[str] | None,
        study_id: str | None,
        trial_number: int | None,
    ) -> dict[str, Any]:
        now = now_iso()
        command = list(command) if command is not None else None
        records.create_file(
            folder,
            {"id": exp_id, "name": name, "template": template, "model": model, "created": now,
             "command": command, "config": to_json_native(config, "config")},
        )  # fmt: skip
        summary = {
            "id": exp_id, "name": name, "template": template, "model": model, "status": "created",
            "created": now, "updated": now, "tags": [], "note": "", "deleted": False,
            # The creating process (`ocrq run` creates, then runs): a `created` experiment whose creator
            # is gone never started, and `ocrq doctor` can tell.
            "pid": os.getpid(), "pid_started": this_process_started(), "host": this_host(), "command": command, "study_id": study_id, "trial_number": trial_number,
            "best_cer": None, "best_em": None, "size_ratio": None, "speedup": None, "stage": None,
            "error": None, "created_ns": time.time_ns(),
        }  # fmt: skip
        records.write_summary_copy(folder, summary)  # nobody else knows the experiment yet: no lock
        self._index.insert(summary)
        return dict(summary)

    def set_status(self, exp_id: str, status: str, *, error: str | None = None) -> None:
        """Store a new status; ``running`` also records this process's pid, its create time and host."""
        self._set_status(exp_id, status, error=error)

    def _set_status(
        self, exp_id: str, status: str, *, error: str | None = None, fields: dict[str, Any] | None = None
    ) -> None:
        if status not in STORED_STATUSES:
            raise ValueError(f"status={status!r} cannot be stored; allowed: {', '.join(STORED_STATUSES)}")
        changes = self._summary_fields(fields or {})
        changes["status"] = status
        now = now_iso()
        if status == "running":
            changes.update(
                pid=os.getpid(), pid_started=this_process_started(), host=this_host(), started=now, ended=None,
                error=None,
            )  # fmt: skip
        elif status != "created":
            changes["ended"] = now
        if error is not None:
            changes["error"] = str(error)
        self._change_summary(self._existing_folder(exp_id)[0], lambda doc: doc.update(changes))

    def heartbeat(
        self,
        exp_id: str,
        *,
        stage: str | None = None,
        progress: str | None = None,
        gpus: list[dict[str, Any]] | None = None,
    ) -> None:
        """Record a sign of life (time, pid, host, stage, progress, GPU usage if any) for a running experiment."""
        if gpus is not None and not (isinstance(gpus, list) and all(isinstance(gpu, dict) for gpu in gpus)):
            raise ValueError(f"gpus={gpus!r} is not allowed; give a list of dicts, one a device")
        gpus = to_json_native(gpus, "gpus") if gpus else None
        write_heartbeat(self._existing_folder(exp_id)[1], stage=stage, progress=progress, gpus=gpus)

    def _append(self, exp_id: str, table: str, record: dict[str, Any]) -> int:
        exp_id, folder = self._existing_folder(exp_id)
        try:
            return records.append_record(folder, table, record)
        except FileNotFoundError:
            raise ExperimentNotFound(f"no experiment matches '{exp_id}'") from None

    def _upsert(self, exp_id: str, table: str, record: dict[str, Any], key: str) -> None:
        exp_id, folder = self._existing_folder(exp_id)
        try:
            records.upsert_record(folder, table, record, key)
        except FileNotFoundError:
            raise ExperimentNotFound(f"no experiment matches '{exp_id}'") from None

    def record_epoch(self, exp_id: str, epoch: dict) -> int:
        """Append one epoch's figures; return the new cursor (how many epochs are stored).

        An epoch of a phase that is already recorded (a resumed run redoes the epochs after its last
        checkpoint) replaces it and every later one of that phase, so the table never reads 1,2,1,2,3.
        """
        if not isinstance(epoch, dict):
            raise ValueError(f"epoch={type(epoch).__name__} is not allowed; give a dict")
        exp_id, folder = self._existing_folder(exp_id)
        try:
            return records.record_epoch(folder, {"time": now_iso(), **to_json_native(epoch, "epoch")})
        except FileNotFoundError:
            raise ExperimentNotFound(f"no experiment matches '{exp_id}'") from None

    def record_variant(self, exp_id: str, variant: dict) -> None:
        """Store one evaluated variant, replacing an earlier one with the same ``name``."""
        if not isinstance(variant, dict) or not isinstance(variant.get("name"), str) or not variant["name"]:
            raise ValueError("variant must be a dict with a non-empty 'name'")
        self._upsert(exp_id, "variants", {"time": now_iso(), **to_json_native(variant, "variant")}, "name")

    def record_artifact(
        self,
        exp_id: str,
        *,
        kind: str,
        path: str,
        bytes: int,
        variant: str | None = None,
        sha256: str | None = None,
    ) -> None:
        """Store a produced file (kind, path, size, sha256), replacing an earlier record of the same file.

        A path inside the experiment folder is stored relative to it (a home copied to another machine
        still finds it; :meth:`resolve_artifact` reads both forms). For a deployable kind
        (``DEPLOYABLE_KINDS``) ``sha256`` defaults to the file's own when it exists and has the recorded
        size; ``ocrq doctor`` reports one whose size or checksum changed.
        """
        if not isinstance(kind, str) or not kind:
            raise ValueError(f"kind={kind!r} is not allowed; give a non-empty string")
        if isinstance(bytes, bool) or not isinstance(bytes, int) or bytes < 0:
            raise ValueError(f"bytes={bytes!r} is not allowed; give a size >= 0")
        exp_id, folder = self._existing_folder(exp_id)
        stored = stored_artifact_path(path, folder)
        record = {"kind": kind, "path": stored, "bytes": bytes, "variant": variant, "time": now_iso()}
        if sha256 is None and kind in DEPLOYABLE_KINDS:
            sha256 = file_sha256(resolve_artifact_path(stored, folder), expected_bytes=bytes)
        if sha256 is not None:
            record["sha256"] = sha256
        here = resolve_artifact_path(stored, folder)

        def same_file(existing: dict[str, Any]) -> bool:
            # an older record of this file may hold its absolute path (before paths were relative)
            return (
                isinstance(existing.get("path"), str)
                and resolve_artifact_path(existing["path"], folder) == here
            )

        try:
            records.upsert_record(folder, "artifacts", record, "path", same=same_file)
        except FileNotFoundError:
            raise ExperimentNotFound(f"no experiment matches '{exp_id}'") from None

    def resolve_artifact(self, exp_id: str, recorded: str) -> Path:
        """Where a file recorded for an experiment is in this home (relative or old absolute paths).

        :meth:`get` already returns every artifact's ``path`` resolved this way.
        """
        return resolve_artifact_path(recorded, self._existing_folder(exp_id)[1])

    def record_evaluation(self, exp_id: str, evaluation: dict) -> None:
        """Append the results of an ``ocrq evaluate`` run."""
        if not isinstance(evaluation, dict):
            raise ValueError(f"evaluation={type(evaluation).__name__} is not allowed; give a dict")
        self._append(exp_id, "evaluations", {"time": now_iso(), **to_json_native(evaluation, "evaluation")})

    def append_log(self, exp_id: str, level: str, message: str) -> None:
        """Append a line to the experiment's run log (levels: debug, info, warning, error)."""
        append_lines(self._existing_folder(exp_id)[1], level, message)

    def _summary_fields(self, fields: dict[str, Any]) -> dict[str, Any]:
        for field in fields:
            if field in _OWNED_FIELDS:
                raise ValueError(f"summary field {field!r} cannot be updated here: {_OWNED_FIELDS[field]}")
        return {field: to_json_native(value, field) for field, value in fields.items()}

    def update_summary(self, exp_id: str, **fields: Any) -> None:
        """Set index fields (best_cer, best_em, size_ratio, speedup, stage, ...) of an experiment."""
        changes = self._summary_fields(fields)
        self._change_summary(self._existing_folder(exp_id)[0], lambda doc: doc.update(changes))

    # -- reading ---------------------------------------------------------------------------------

    def _with_status(
        self, summary: dict[str, Any], now: datetime, folders: set[str] | None = None
    ) -> dict[str, Any]:
        folder = self._folder(summary["id"])
        if not (summary["id"] in folders if folders is not None else folder.is_dir()):
            return {**summary, "status": "missing", "stored_status": summary.get("status")}
        if summary.get("status") == "running":
            summary = {**summary, "status": derive_status(summary, folder, now)}
        return summary

    def _folder_names(self) -> set[str]:
        """The names in ``experiments/`` (one listing instead of a stat per experiment)."""
        try:
            return {entry.name for entry in os.scandir(self._home / EXPERIMENTS_DIR)}
        except FileNotFoundError:
            return set()

    def list_experiments(
        self,
        *,
        status: str | None = None,
        template: str | None = None,
        tag: str | None = None,
        text: str | None = None,
        sort: str = "created",
        descending: bool = True,
        include_deleted: bool = False,
        study_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """Experiment summaries, filtered and sorted (``None`` values sort last either way).

        Args:
            status: only this (derived) status, one of ``STATUSES``.
            template: only experiments made from this template.
            tag: only experiments carrying this tag.
            text: case-insensitive search in id, name, template, model, note and tags.
            sort: any summary field.
            descending: largest (newest) first.
            include_deleted: also list soft-deleted experiments.
            study_id: only the trials of this study.
        """
        if status is not None and status not in STATUSES:
            raise ValueError(f"status={status!r} is not a status; allowed: {', '.join(STATUSES)}")
        docs = self._index_docs()
        if sort not in SUMMARY_FIELDS and not any(sort in doc for doc in docs):
            raise ValueError(f"sort={sort!r} is not a summary field; allowed: {', '.join(SUMMARY_FIELDS)}")
        now = datetime.now(UTC)
        folders = self._folder_names()
        selected = [
            self._with_status(doc, now, folders)
            for doc in docs
            if matches(
                doc, template=template, tag=tag, text=text, include_deleted=include_deleted, study_id=study_id
            )
        ]
        if status is not None:
            selected = [doc for doc in selected if doc.get("status") == status]
        return sort_summaries(selected, sort, descending=descending)

    def _full_document(self, summary: dict[str, Any], now: datetime) -> dict[str, Any]:
        folder = self._folder(summary["id"])
        data = records.read_file(folder) or {"info": {}}
        document = self._with_status(summary, now)
        document["config"] = data["info"].get("config", {})
        for table in records.LIST_TABLES:
            document[table] = data.get(table, [])
        # where each file is in this home, whatever machine recorded it (see artifact_paths)
        document["artifacts"] = [
            {**artifact, "path": str(resolve_artifact_path(artifact["path"], folder))}
            if isinstance(artifact.get("path"), str)
            else artifact
            for artifact in document["artifacts"]
        ]
        document["heartbeat"] = read_heartbeat(folder)
        document["dir"] = str(folder)
        return document

    def get(self, ref: str) -> dict[str, Any]:
        """One experiment in full: summary plus config, epochs, variants, artifacts, evaluations.

        Raises:
            ExperimentNotFound / AmbiguousId: as :meth:`resolve_id`.
        """
        return self.compare([ref])[0]

    def compare(self, refs: list[str]) -> list[dict[str, Any]]:
        """Full documents of several experiments, in the given order (the index is read at most once).

        Full ids are looked up in their own shard; prefixes and names need the whole index.
        """
        now = datetime.now(UTC)
        found: dict[str, dict[str, Any]] = {}
        docs: list[dict[str, Any]] | None = None
        summaries = []
        for ref in refs:
            summary = self._index.find(ref) if is_full_id(ref) else None
            if summary is None:
                if docs is None:
                    docs = self._index_docs()
                    found.update((doc["id"], doc) for doc in docs)
                summary = found[resolve_ref(ref, docs, what="experiment", not_found=ExperimentNotFound)]
            summaries.append(summary)
        return [self._full_document(summary, now) for summary in summaries]

    def epochs(self, exp_id: str, since: int = 0) -> tuple[list[dict[str, Any]], int]:
        """Epochs recorded after cursor ``since`` and the new cursor, for live tailing.

        Example: ``new, cursor = store.epochs(exp_id, cursor)`` in a polling loop.
        """
        if isinstance(since, bool) or not isinstance(since, int) or since < 0:
            raise ValueError(f"since={since!r} is not allowed; give a cursor >= 0")
        exp_id, folder = self._existing_folder(exp_id)
        data = read_tables(folder / records.EXPERIMENT_FILE, f"experiment at {folder}", ("epochs",))
        if data is None:
            raise ExperimentNotFound(f"no experiment matches '{exp_id}'")
        stored = data["epochs"]
        return stored[since:], len(stored)

    def log_tail(self, exp_id: str, lines: int = 50) -> list[str]:
        """The last ``lines`` lines of the experiment's run log."""
        return tail_lines(self._existing_folder(exp_id)[1], lines)

    # -- curating --------------------------------------------------------------------------------

    def tag(self, exp_id: str, add: Iterable[str] = (), remove: Iterable[str] = ()) -> list[str]:
        """Add and remove tags; return the experiment's tags afterwards (in the order added)."""
        adding, removing = _clean_tags(add, "add"), set(_clean_tags(remove, "remove"))

        def change(doc: dict[str, Any]) -> None:
            tags = [tag for tag in doc.get("tags", []) if tag not in removing]
            tags += [tag for tag in dict.fromkeys(adding) if tag not in tags]
            doc["tags"] = tags

        return list(self._change_summary(self.resolve_id(exp_id), change)["tags"])

    def set_note(self, exp_id: str, text: str) -> None:
        """Replace the experiment's free-text note."""
        if not isinstance(text, str):
            raise ValueError(f"note={text!r} is not allowed; give a string")
        self._change_summary(self.resolve_id(exp_id), lambda doc: doc.update(note=text))

    def soft_delete(self, exp_id: str) -> None:
        """Hide the experiment from listings (``restore`` undoes it); files stay."""
        self._change_summary(
            self.resolve_id(exp_id), lambda doc: doc.update(deleted=True, deleted_at=now_iso())
        )

    def restore(self, exp_id: str) -> None:
        """Undo :meth:`soft_delete`."""
        self._change_summary(self.resolve_id(exp_id), lambda doc: doc.update(deleted=False, deleted_at=None))

    def delete_permanently(self, exp_id: str) -> None:
        """Remove the experiment from the index and delete its folder with every artifact in it."""
        exp_id = self.resolve_id(exp_id)
        if not self._index.remove(exp_id):
            raise ExperimentNotFound(f"no experiment matches '{exp_id}'")
        shutil.rmtree(self._folder(exp_id), ignore_errors=True)

    # -- benchmarks ------------------------------------------------------------------------------

    def _bulk_create_for_bench(self, count: int) -> list[str]:
        """Create ``count`` experiments fast (one index write, no fsync per file) for benchmarks."""
        summaries = bulk_summaries(self._home / EXPERIMENTS_DIR, count, SUMMARY_FIELDS)
        self._index.insert_many(summaries, durable=False)
        return [summary["id"] for summary in summaries]


def _signature(path: Path) -> tuple[int, int]:
    """(mtime_ns, size) of a file, (0, 0) when missing: it changes whenever the file is replaced."""
    try:
        stat = os.stat(path)
    except OSError:
        return (0, 0)
    return (stat.st_mtime_ns, stat.st_size)
