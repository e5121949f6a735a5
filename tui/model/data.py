"""Reading the store for the screens: listings and a live tail of one experiment (studies: `studies.py`).

No Textual here (a test checks it): screens call these functions from thread workers and turn the
results into messages. Each reader skips work when the store files it depends on did not change, so
an idle TUI costs almost nothing even with a large store.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from store import STATUSES, ExperimentNotFound, Store, is_full_id

# A running experiment turns `crashed` when its heartbeat goes stale, which changes no file: re-read
# listings that show a running experiment at least this often.
RUNNING_REFRESH_S = 10.0
EXPERIMENT_RUNNING_REFRESH_S = 5.0
# Variants and artifacts live in the experiment's file but are shown from the full document: re-read it
# this long after the file changed (epochs show at once, from the file alone).
DETAILS_REFRESH_S = 2.0
LOG_LINES = 200

# Experiments-list column key -> summary field it sorts by.
SORT_FIELDS = {
    "id": "id", "name": "name", "template": "template", "model": "model", "status": "status",
    "best_cer": "best_cer", "best_em": "best_em", "size_ratio": "size_ratio", "speedup": "speedup",
    "created": "created", "tags": "tags",
}  # fmt: skip


# -- the experiments list ------------------------------------------------------------------------


@dataclass(frozen=True)
class ListQuery:
    """What the experiments list shows: filters from the `/` bar, sort, and whether deleted rows show."""

    text: str | None = None
    status: str | None = None
    template: str | None = None
    tag: str | None = None
    sort: str = "created"
    descending: bool = True
    include_deleted: bool = False


# Statuses that are also ordinary words of experiment names (a pruned variant, a stopped sweep): typed bare
# they search names; `status:pruned` filters by status.
_WORDS_IN_NAMES = ("pruned", "stopped")


def parse_filter(text: str) -> dict[str, str | None]:
    """Parse the filter bar: ``status:running tag:qat resnet`` -> status, tag, template and free text.

    Keys and statuses are read in any case (``Status:Finished``); an unknown ``key:`` is an error rather
    than a filter that silently matches nothing.

    Raises:
        ValueError: an unknown key or status or an empty ``key:``, with a one-line message.
    """
    found: dict[str, str | None] = {"status": None, "tag": None, "template": None, "text": None}
    words = []
    for word in text.split():
        key, sep, value = word.partition(":")
        key = key.lower()
        if sep and key in ("status", "tag", "template"):
            if not value:
                raise ValueError(f"filter '{word}' needs a value, like {key}:{_example(key)}")
            if key == "status":
                value = value.lower()
                if value not in STATUSES:
                    raise ValueError(f"status '{value}' is not a status; allowed {', '.join(STATUSES)}")
            found[key] = value
        elif sep and key.isalpha() and value:
            raise ValueError(f"unknown filter '{key}:'; allowed status:, tag:, template: or plain words")
        elif (
            word.lower() in STATUSES and word.lower() not in _WORDS_IN_NAMES
        ):  # a bare status word is the obvious intent
            found["status"] = word.lower()
        else:
            words.append(word)
    found["text"] = " ".join(words) or None
    return found


def _example(key: str) -> str:
    return {"status": "running", "tag": "qat", "template": "smoke"}[key]


@dataclass
class ExperimentsSnapshot:
    """One read of the experiments list."""

    query: ListQuery
    rows: list[dict[str, Any]]
    total: int


class ExperimentsReader:
    """Reads the list for a query, skipping the read when nothing it shows can have changed."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._signature: tuple | None = None
        self._query: ListQuery | None = None
        self._read_at = 0.0
        self._any_running = False

    def read(self, query: ListQuery, *, force: bool = False) -> ExperimentsSnapshot | None:
        """The listing for ``query``, or ``None`` when the last one is still current."""
        signature = self.store.index_signature()
        stale = self._any_running and time.monotonic() - self._read_at >= RUNNING_REFRESH_S
        if not force and query == self._query and signature == self._signature and not stale:
            return None
        rows = self.store.list_experiments(
            status=query.status, template=query.template, tag=query.tag, text=query.text,
            sort=SORT_FIELDS.get(query.sort, query.sort), descending=query.descending,
            include_deleted=query.include_deleted,
        )  # fmt: skip
        self._signature, self._query, self._read_at = signature, query, time.monotonic()
        self._any_running = any(row.get("status") == "running" for row in rows)
        # A running row shows its progress: its heartbeat and config (a handful of small reads).
        rows = [self._with_progress(row) if row.get("status") == "running" else row for row in rows]
        return ExperimentsSnapshot(query=query, rows=rows, total=len(rows))

    def _with_progress(self, row: dict[str, Any]) -> dict[str, Any]:
        try:
            document = self.store.get(row["id"])
        except ExperimentNotFound:
            return row
        heartbeat = self.store.read_heartbeat(row["id"])
        return {**row, "heartbeat": heartbeat, "config": document.get("config"),
                "epochs": document.get("epochs"), "variants": document.get("variants")}  # fmt: skip


# -- one experiment, live ------------------------------------------------------------------------


@dataclass
class ExperimentUpdate:
    """What changed in one experiment since the previous poll.

    Attributes:
        document: the full document (summary, config, variants, artifacts, ...) when re-read, else None.
        new_epochs: epochs recorded since the previous poll, in order.
        first_epoch: the index (in the experiment's epoch list) of ``new_epochs[0]``.
        heartbeat: the latest heartbeat (stage, progress, time), or None.
        log_lines: the log tail when the log changed, else None.
        missing: the experiment is not (yet) in the store.
    """

    exp_id: str
    document: dict[str, Any] | None = None
    new_epochs: list[dict[str, Any]] = field(default_factory=list)
    first_epoch: int = 0
    heartbeat: dict[str, Any] | None = None
    log_lines: list[str] | None = None
    missing: bool = False


class ExperimentTail:
    """Follows one experiment: :meth:`poll` returns what is new, cheaply; :meth:`read_document` the rest.

    A new epoch costs one read of the experiment's own small file. The full document (status, variants,
    artifacts) needs the index, which grows with the store: :meth:`document_due` says when to read it
    (the index changed, the experiment's file changed a while ago, or every few seconds while it runs,
    to notice a crash).
    """

    def __init__(self, store: Store, exp_id: str, log_lines: int = LOG_LINES) -> None:
        self.store = store
        self.exp_id = exp_id
        self.log_lines = log_lines
        self.cursor = 0
        self.status: str | None = None
        self._index_signature: tuple | None = None
        self._file_signature: tuple | None = None
        self._details_stale = True
        self._log_signature: tuple | None = None
        self._read_at = 0.0

    def _folder(self) -> Path | None:
        if is_full_id(self.exp_id) and not self.store.has_folder(self.exp_id):
            return None  # not created yet (a run just launched): no need to read the index to know
        try:
            return self.store.experiment_dir(self.exp_id)
        except ExperimentNotFound:
            return None

    def poll(self) -> ExperimentUpdate:
        """New epochs (from the experiment's file alone), the heartbeat, and the log tail if it grew."""
        update = ExperimentUpdate(self.exp_id)
        folder = self._folder()
        if folder is None:
            update.missing = True
            return update
        exp_id = folder.name
        signature = self.store.experiment_signature(exp_id)
        if signature != self._file_signature:
            self._file_signature, self._details_stale = signature, True
            try:
                update.new_epochs, cursor = self.store.epochs(self.exp_id, self.cursor)
            except ExperimentNotFound:
                update.missing = True
                return update
            update.first_epoch, self.cursor = self.cursor, cursor
        update.heartbeat = self.store.read_heartbeat(exp_id)
        log_signature = self.store.log_signature(exp_id)
        if log_signature != self._log_signature:
            self._log_signature = log_signature
            update.log_lines = self.store.log_tail(self.exp_id, self.log_lines)
        return update

    def document_due(self) -> bool:
        """Whether :meth:`read_document` would show something new."""
        since_read = time.monotonic() - self._read_at
        return (
            self.store.index_signature() != self._index_signature
            or (self._details_stale and since_read >= DETAILS_REFRESH_S)
            or (self.status == "running" and since_read >= EXPERIMENT_RUNNING_REFRESH_S)
        )

    def read_document(self) -> ExperimentUpdate:
        """The full document (and any epochs :meth:`poll` has not returned yet)."""
        update = ExperimentUpdate(self.exp_id)
        # The signature first: an index write landing during the read is seen by the next check.
        self._index_signature = self.store.index_signature()
        try:
            document = self.store.get(self.exp_id)
        except ExperimentNotFound:
            update.missing = True
            return update
        self._read_at, self._details_stale = time.monotonic(), False
        self.status = document.get("status")
        update.document = document
        epochs = document.get("epochs", [])
        update.new_epochs, update.first_epoch = epochs[self.cursor :], self.cursor
        self.cursor = max(self.cursor, len(epochs))
        return update


def new_log_lines(shown: list[str], tail: list[str]) -> tuple[list[str], bool]:
    """Lines of ``tail`` not yet shown, and whether the view must be rebuilt (no overlap found).

    ``shown`` ends with some prefix of ``tail`` when the log only grew: find the longest such overlap.
    """
    if not shown:
        return tail, False
    for overlap in range(min(len(shown), len(tail)), 0, -1):
        if shown[-overlap:] == tail[:overlap]:
            return tail[overlap:], False
    return tail, True
