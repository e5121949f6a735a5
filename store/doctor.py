"""``ocrq doctor``: find the damage a killed process, a full disk or a hand edit can leave, and repair it.

Checks, in order:

``corrupt-index``
    ``index.json`` or an index shard that cannot be parsed (or was truncated to nothing). Repair
    rebuilds it from the experiment folders' own copies of their summaries (``summary.json``), or
    from their experiment files when a folder has no copy (the status is then lost: ``failed``).
``orphan-folder``
    an experiment folder that no index entry names. Repair puts it back into the index when the
    folder holds a readable experiment file; a folder without one is deleted only with ``yes``.
``missing-folder``
    an index entry whose folder is gone. Its summary is all that is left, so removing it is a
    deletion: only with ``yes``.
``stale-temp``
    a ``*.tmp`` or ``*.part`` file older than a minute, or whose writer (named in the temp's name)
    is dead. Deleted only with ``yes``.
``dead-run``
    an experiment stuck ``running`` or ``created`` whose process is gone. Repair stores it as
    ``crashed`` (was running) or ``failed`` (never started) with the reason.
``artifact-mismatch``
    a deployable artifact (a model or ONNX file) whose size or sha256 is no longer the one recorded
    when it was written: truncated by a full disk, or changed by hand. Nothing can repair it here (the
    fix is to rebuild it); ``ocrq export``/``evaluate``/``--from`` refuse the file meanwhile.

Repairs hold the same locks as the store's own writes. Nothing is deleted without ``yes``.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import records
from .artifact_paths import resolve_artifact_path
from .errors import SchemaTooNew, StoreError
from .files import TEMP_SUFFIX, file_sha256, read_json, temp_writer_pid
from .index import INDEX_FILE, INDEX_TABLE, LAYOUT_TABLE, shard_key
from .liveness import derive_status, read_heartbeat, this_host
from .processes import process_alive
from .storage import read_tables, schema_from_head
from .store import DEPLOYABLE_KINDS, EXPERIMENTS_DIR, SUMMARY_FIELDS, Store
from .values import is_full_id, now_iso, parse_iso

KINDS = ("corrupt-index", "orphan-folder", "missing-folder", "stale-temp", "dead-run", "artifact-mismatch")

TEMP_STALE_AFTER_S = 60.0
# A folder this young may be an experiment being created right now (folder first, index entry next).
ORPHAN_MIN_AGE_S = 60.0
# A `created` experiment without a recorded creator (stores before creators were recorded) is stuck
# after this long: `ocrq run` starts its run within minutes of creating it.
CREATED_STUCK_AFTER_S = 24 * 3600.0
PART_SUFFIX = ".part"

# What happened to a problem.
FOUND, REPAIRED, NEEDS_YES, LEFT = "found", "repaired", "needs --yes", "left"


@dataclass
class Problem:
    """One thing wrong with the store.

    Attributes:
        kind: one of ``KINDS``.
        subject: the experiment id or the path (relative to the home) it is about.
        detail: what is wrong, in words.
        fix: what ``--repair`` does (or would do) about it.
        deletes: the fix deletes something, so it needs ``--yes`` as well.
        outcome: ``found``, ``repaired``, ``needs --yes`` or ``left`` (cannot be repaired here).
    """

    kind: str
    subject: str
    detail: str
    fix: str
    deletes: bool = False
    outcome: str = FOUND

    def to_dict(self) -> dict[str, Any]:
        """The problem as plain JSON values."""
        return asdict(self)


@dataclass
class DoctorReport:
    """What ``examine`` found (and, after a repair, what became of it)."""

    home: str
    problems: list[Problem]
    repaired: bool = False

    @property
    def remaining(self) -> list[Problem]:
        """Problems still there: everything when not repairing, else what was not repaired."""
        return [problem for problem in self.problems if problem.outcome != REPAIRED]

    @property
    def healthy(self) -> bool:
        """No problem, or every one repaired."""
        return not self.remaining

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON values."""
        return {
            "home": self.home,
            "healthy": self.healthy,
            "repaired": self.repaired,
            "problems": [problem.to_dict() for problem in self.problems],
        }


def _age_s(path: Path, now: float) -> float:
    try:
        return now - path.stat().st_mtime
    except OSError:
        return 0.0


class _Examiner:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.home = store.home
        self.index = store._index
        self.now = time.time()
        self.problems: list[Problem] = []
        self.bad_shards: set[str] = set()
        self.marker_bad = False
        self.legacy = False
        self.docs: list[dict[str, Any]] = []

    def relative(self, path: Path) -> str:
        return str(path.relative_to(self.home))

    def add(self, kind: str, subject: str, detail: str, fix: str, *, deletes: bool = False) -> None:
        self.problems.append(Problem(kind, subject, detail, fix, deletes))

    # -- the index -------------------------------------------------------------------------------

    def check_index(self) -> None:
        path = self.index.path
        try:
            data = read_json(path)
            if path.exists() and data is None:
                raise StoreError(f"{path} is empty")
            if data is not None and not isinstance(data, dict):
                raise StoreError(f"{path} is not a TinyDB file")
        except StoreError as error:
            self.marker_bad = True
            layout = "sharded" if self.index.shards_dir.is_dir() else "single-file"
            fix = (
                "rewrite the marker"
                if layout == "sharded"
                else "rebuild the index from the experiment folders"
            )
            self.add("corrupt-index", self.relative(path), f"cannot be read: {error}", fix)
            self.legacy = layout != "sharded"
            return
        self.legacy = data is not None and LAYOUT_TABLE not in data
        if data is None and self.index.shards_dir.is_dir():
            self.marker_bad = True
            self.add("corrupt-index", INDEX_FILE, "is missing beside the index shards", "rewrite the marker")
        if self.legacy:
            self.docs = list((data.get(INDEX_TABLE) or {}).values())
            return
        for key in self.index.shard_keys():
            shard = self.index.shard_path(key)
            try:
                if shard.stat().st_size == 0:
                    raise StoreError(f"{shard} is empty (truncated)")
                tables = read_tables(shard, self.store._label, (INDEX_TABLE,))
                self.docs += tables[INDEX_TABLE] if tables else []
            except StoreError as error:
                self.bad_shards.add(key)
                self.add(
                    "corrupt-index",
                    self.relative(shard),
                    f"cannot be read: {error}",
                    "rebuild this shard from the experiment folders",
                )

    def covered_by_rebuild(self, exp_id: str) -> bool:
        """Whether the experiment's index entry is in a damaged file that a repair rebuilds."""
        return (self.marker_bad and self.legacy) or shard_key(exp_id) in self.bad_shards

    # -- folders ---------------------------------------------------------------------------------

    def check_folders(self) -> None:
        indexed = {doc.get("id") for doc in self.docs}
        experiments = self.home / EXPERIMENTS_DIR
        try:
            names = sorted(entry.name for entry in os.scandir(experiments) if entry.is_dir())
        except FileNotFoundError:
            names = []
        folders = {name for name in names if is_full_id(name)}
        for exp_id in sorted(folders - indexed):
            if self.covered_by_rebuild(exp_id):
                continue
            folder = experiments / exp_id
            if _age_s(folder, self.now) < ORPHAN_MIN_AGE_S:
                continue  # probably being created right now
            if _readable_info(folder) is not None:
                self.add(
                    "orphan-folder",
                    f"{EXPERIMENTS_DIR}/{exp_id}",
                    "no index entry names it",
                    "put it back into the index",
                )
            else:
                self.add(
                    "orphan-folder",
                    f"{EXPERIMENTS_DIR}/{exp_id}",
                    "no index entry names it and it holds no readable experiment file",
                    "delete the folder",
                    deletes=True,
                )
        for doc in self.docs:
            exp_id = doc.get("id")
            if is_full_id(exp_id) and exp_id not in folders:
                self.add(
                    "missing-folder",
                    exp_id,
                    f"index entry '{doc.get('name')}' ({doc.get('status')}) has no folder",
                    "remove the index entry",
                    deletes=True,
                )

    # -- temp files ------------------------------------------------------------------------------

    def check_temps(self) -> None:
        live_folders = {
            doc["id"]
            for doc in self.docs
            if doc.get("status") in ("created", "running") and is_full_id(doc.get("id"))
        }
        for folder, _dirs, files in os.walk(self.home):
            for name in files:
                if not (name.endswith(TEMP_SUFFIX) or name.endswith(PART_SUFFIX)):
                    continue
                path = Path(folder) / name
                age = _age_s(path, self.now)
                writer = temp_writer_pid(name)
                if writer is not None and not process_alive(writer):
                    reason = f"its writer (pid {writer}) is gone"
                elif age <= TEMP_STALE_AFTER_S:
                    continue
                elif writer is None and self._in_live_run(path, live_folders):
                    continue  # a running experiment may still be writing a large artifact
                else:
                    reason = f"{age:.0f} s old"  # no store write takes a minute
                self.add(
                    "stale-temp",
                    self.relative(path),
                    f"temp file left by a write: {reason}",
                    "delete it",
                    deletes=True,
                )

    def _in_live_run(self, path: Path, live: set[str]) -> bool:
        parts = path.relative_to(self.home).parts
        return len(parts) > 2 and parts[0] == EXPERIMENTS_DIR and parts[1] in live

    # -- runs ------------------------------------------------------------------------------------

    def check_runs(self) -> None:
        now = datetime.fromtimestamp(self.now, UTC)
        for doc in self.docs:
            exp_id = doc.get("id")
            if not is_full_id(exp_id) or doc.get("status") not in ("running", "created"):
                continue
            folder = self.home / EXPERIMENTS_DIR / exp_id
            if not folder.is_dir():
                continue  # reported as missing-folder
            reason = _dead_reason(doc, folder, now)
            if reason is None:
                continue
            if doc["status"] == "running":
                fix = "store it as crashed"
            else:
                fix = "store it as failed"
            self.add("dead-run", exp_id, f"'{doc.get('name')}' is stuck {doc['status']}: {reason}", fix)

    # -- artifacts -------------------------------------------------------------------------------

    def check_artifacts(self) -> None:
        for doc in self.docs:
            exp_id = doc.get("id")
            folder = self.home / EXPERIMENTS_DIR / str(exp_id)
            if not is_full_id(exp_id) or not folder.is_dir() or doc.get("status") in ("created", "running"):
                continue
            try:
                artifacts = (records.read_file(folder) or {}).get("artifacts", [])
            except StoreError:
                continue  # an unreadable experiment file: not an artifact's fault
            for artifact in artifacts:
                if artifact.get("kind") in DEPLOYABLE_KINDS:
                    self._check_artifact(exp_id, folder, artifact)

    def _check_artifact(self, exp_id: str, folder: Path, artifact: dict[str, Any]) -> None:
        path = resolve_artifact_path(str(artifact.get("path", "")), folder)
        if not path.is_file() or not path.resolve().is_relative_to(folder.resolve()):
            return
        recorded, actual = artifact.get("bytes"), path.stat().st_size
        if isinstance(recorded, int) and recorded != actual:
            detail = f"has {actual:,} bytes; {recorded:,} were recorded (truncated or replaced)"
        elif isinstance(artifact.get("sha256"), str) and file_sha256(path) != artifact["sha256"]:
            detail = "does not match the sha256 recorded when it was written (altered)"
        else:
            return
        self.add(
            "artifact-mismatch",
            self.relative(path),
            f"{artifact.get('kind')} of experiment {exp_id} {detail}",
            "none here: restore it from a backup (it is the trained model every variant starts from)"
            if artifact.get("variant") == "fp32" and artifact.get("kind") == "model"
            else f"none here: restore it, or rebuild the variants (`ocrq run --from {exp_id[:8]} --mode compress`)",
        )


def _readable_info(folder: Path) -> dict[str, Any] | None:
    try:
        data = records.read_file(folder)
    except StoreError:
        return None
    if not data or data["info"].get("id") != folder.name:
        return None
    return data["info"]


def _dead_reason(doc: dict[str, Any], folder: Path, now: datetime) -> str | None:
    """Why a ``running`` or ``created`` experiment's process is known to be gone; ``None`` if it may live."""
    pid, host = doc.get("pid"), doc.get("host")
    if doc["status"] == "running":
        if derive_status(doc, folder, now) != "crashed":
            return None
        beat = read_heartbeat(folder) or {}
        pid, host = beat.get("pid", pid), beat.get("host", host)
        if host != this_host():
            return None  # cannot check a process on another machine: its own host must say
        return f"its process (pid {pid} on {host}) is gone"
    if pid is not None:
        if host != this_host() or process_alive(pid, doc.get("pid_started")):
            return None
        return f"the process that created it (pid {pid} on {host}) is gone; it never started"
    created = parse_iso(doc.get("updated")) or parse_iso(doc.get("created"))
    if created is not None and (now - created).total_seconds() > CREATED_STUCK_AFTER_S:
        return f"created {created:%Y-%m-%d %H:%M} UTC and never started"
    return None


def examine(store: Store) -> DoctorReport:
    """Look for every kind of damage; writes nothing."""
    examiner = _Examiner(store)
    examiner.check_index()
    examiner.check_folders()
    examiner.check_temps()
    examiner.check_runs()
    examiner.check_artifacts()
    return DoctorReport(home=str(store.home), problems=examiner.problems)


# -- repairs ---------------------------------------------------------------------------------------


def _summary_from_folder(folder: Path) -> dict[str, Any] | None:
    """The summary an experiment folder can give: its copy, else one built from its experiment file."""
    try:
        copy = records.read_summary_copy(folder)
    except StoreError:
        copy = None
    if copy is not None and copy.get("id") == folder.name:
        return copy
    info = _readable_info(folder)
    if info is None:
        return None
    summary: dict[str, Any] = dict.fromkeys(SUMMARY_FIELDS)
    summary.update(
        id=info["id"], name=info.get("name") or info["id"], template=info.get("template") or "?",
        model=info.get("model") or "?", command=info.get("command"), created=info.get("created") or now_iso(),
        updated=now_iso(), tags=[], note="", deleted=False, status="failed",
        error="status lost with a damaged index; rebuilt by ocrq doctor from the experiment's own file",
    )  # fmt: skip
    return summary


def _folder_summaries(store: Store, key: str | None = None) -> list[dict[str, Any]]:
    experiments = store.home / EXPERIMENTS_DIR
    try:
        names = sorted(entry.name for entry in os.scandir(experiments) if entry.is_dir())
    except FileNotFoundError:
        return []
    summaries = []
    for name in names:
        if is_full_id(name) and (key is None or shard_key(name) == key):
            summary = _summary_from_folder(experiments / name)
            if summary is not None:
                summaries.append(summary)
    return summaries


def _repair_one(store: Store, problem: Problem, delete: bool) -> str:
    home = store.home
    if problem.deletes and not delete:
        return NEEDS_YES
    if problem.kind == "corrupt-index":
        path = home / problem.subject
        if path == store._index.path:
            rebuild = None if store._index.shards_dir.is_dir() else _folder_summaries(store)
            store._index.rewrite_marker(rebuild)
        else:
            key = path.name[:2]
            store._index.rewrite_shard(key, _folder_summaries(store, key))
        return REPAIRED
    if problem.kind == "orphan-folder":
        folder = home / problem.subject
        if problem.deletes:
            shutil.rmtree(folder, ignore_errors=True)
            return REPAIRED if not folder.exists() else LEFT
        summary = _summary_from_folder(folder)
        if summary is None:
            return LEFT
        store._index.insert_if_absent(summary)
        return REPAIRED
    if problem.kind == "missing-folder":
        store._index.remove(problem.subject)
        return REPAIRED
    if problem.kind == "stale-temp":
        try:
            os.unlink(home / problem.subject)
        except FileNotFoundError:
            pass
        return REPAIRED
    if problem.kind == "dead-run":
        return _mark_dead(store, problem)
    return LEFT


def _mark_dead(store: Store, problem: Problem) -> str:
    exp_id = problem.subject
    folder = store.home / EXPERIMENTS_DIR / exp_id
    outcome = {"value": LEFT}

    def change(doc: dict[str, Any]) -> None:
        # Checked again under the shard's lock: the run may have finished since.
        if doc.get("status") not in ("running", "created"):
            return
        reason = _dead_reason(doc, folder, datetime.now(UTC))
        if reason is None:
            return
        doc.update(
            status="crashed" if doc["status"] == "running" else "failed",
            error=f"ocrq doctor: {reason}",
            ended=now_iso(),
        )
        outcome["value"] = REPAIRED

    try:
        store._change_summary(exp_id, change)
    except StoreError:
        return LEFT
    return outcome["value"]


def repair(store: Store, report: DoctorReport, *, delete: bool = False) -> DoctorReport:
    """Fix what ``report`` found: everything that deletes nothing, and with ``delete`` the rest.

    The index is repaired first, so later fixes see whole index files.
    """
    order = {kind: number for number, kind in enumerate(KINDS)}
    for problem in sorted(report.problems, key=lambda problem: order[problem.kind]):
        try:
            problem.outcome = _repair_one(store, problem, delete)
        except (OSError, StoreError) as error:
            problem.outcome = LEFT
            problem.detail += f" (repair failed: {error})"
    report.repaired = True
    return report


def run_doctor(home: str | Path | None = None, *, fix: bool = False, delete: bool = False) -> DoctorReport:
    """Examine the store at ``home`` and, with ``fix``, repair it (deleting only with ``delete``).

    Raises:
        StoreError: ``home`` is not a folder, or the store is of a newer schema.
    """
    store = Store(home, verify=False)  # a damaged index.json is what the doctor is for
    try:
        schema_from_head(store._index.path, f"store at {store.home}")
    except SchemaTooNew:
        raise  # a newer ocrq's store: not ours to judge or repair
    except StoreError:
        pass  # damaged: examine() reports it
    report = examine(store)
    if fix and report.problems:
        repair(store, report, delete=delete)
    return report
