"""The experiment index: one summary per experiment, split into 256 shard files by id prefix.

Layout under the home folder::

    index.json        {"meta": {"1": {"schema": 2}}, "layout": ...}: marks the sharded layout, and
                      its mtime changes after every summary write (a cheap "something changed" signal
                      for pollers such as the TUI)
    index/<xx>.json   TinyDB: the summaries of the experiments whose id starts with ``xx``

A status change rewrites one shard (about N/256 summaries) under that shard's lock, so writers of
different experiments rarely wait for each other and the cost of a write hardly grows with the
store. Readers take no lock: each shard is replaced atomically, so every summary read is whole.

Stores written before the shards (schema 1) keep every summary in ``index.json``. They are read as
they are, and the first write moves them to the shards under the old index's lock (the shards are
built in a hidden folder and renamed into place before ``index.json`` becomes the marker, so a
reader sees either layout whole). The marker's schema 2 makes an older ocrq refuse the store instead
of writing summaries nobody reads.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from tinydb import Query

from .errors import ExperimentNotFound, StoreError
from .files import atomic_write_bytes, encode_json, fsync_dir, read_json
from .storage import (
    META_TABLE,
    SCHEMA_VERSION,
    locked,
    read_tables,
    schema_error,
    write_transaction,
)

INDEX_FILE = "index.json"
SHARDS_DIR = "index"
INDEX_TABLE = "experiments"
LAYOUT_TABLE = "layout"
SHARD_PREFIX = 2  # hex characters of the id: 256 shards
_SHARD_NAME = re.compile(r"[0-9a-f]{2}\.json")
MARKER = {META_TABLE: {"1": {"schema": SCHEMA_VERSION}}, LAYOUT_TABLE: {"1": {"shards": SHARDS_DIR}}}


def shard_key(exp_id: str) -> str:
    """The shard an experiment's summary lives in: the first two hex characters of its id."""
    return exp_id[:SHARD_PREFIX]


def store_order(doc: dict[str, Any]) -> tuple[str, int]:
    """Creation order across shards: the creation time, then its nanoseconds for the same millisecond."""
    return (doc.get("created") or "", doc.get("created_ns") or 0)


class Index:
    """The summaries of a store's experiments.

    Args:
        home: the store's home folder.
        label: how messages name the store ("store at /home").
    """

    def __init__(self, home: Path, label: str) -> None:
        self.home = home
        self.label = label
        self._sharded = False  # once seen, the layout never goes back

    @property
    def path(self) -> Path:
        """``index.json``: the layout marker (or, in an old store, every summary)."""
        return self.home / INDEX_FILE

    @property
    def shards_dir(self) -> Path:
        return self.home / SHARDS_DIR

    def shard_path(self, key: str) -> Path:
        """The file of shard ``key`` (two hex characters)."""
        return self.shards_dir / f"{key}.json"

    # -- reading -----------------------------------------------------------------------------------

    def _legacy_docs(self) -> list[dict[str, Any]] | None:
        """Every summary of an old single-file index; ``None`` when the store is sharded (or empty)."""
        if self._sharded:
            return None
        data = read_json(self.path)
        if data is None:
            if self.shard_keys():
                # The marker was truncated to nothing or deleted: read as a new store, the next write
                # would replace every shard with an empty index (each experiment an orphan).
                state = "empty" if self.path.exists() else "missing"
                raise StoreError(
                    f"{self.path} is {state} beside the index shards in {self.shards_dir}; "
                    "it was truncated or removed outside ocrq"
                )
            return []
        if not isinstance(data, dict):
            raise StoreError(f"{self.path} is not a TinyDB file; it was changed outside ocrq")
        meta = list((data.get(META_TABLE) or {}).values())
        schema = meta[0].get("schema") if meta else None
        if meta and (not isinstance(schema, int) or schema > SCHEMA_VERSION):
            raise schema_error(schema, self.label)
        if LAYOUT_TABLE in data:
            self._sharded = True
            return None
        return list((data.get(INDEX_TABLE) or {}).values())

    def _shard_docs(self, key: str) -> list[dict[str, Any]]:
        tables = read_tables(self.shard_path(key), self.label, (INDEX_TABLE,))
        return [] if tables is None else tables[INDEX_TABLE]

    def shard_keys(self) -> list[str]:
        """The shards that exist, in order."""
        try:
            names = [entry.name for entry in os.scandir(self.shards_dir)]
        except FileNotFoundError:
            return []
        return sorted(name[:SHARD_PREFIX] for name in names if _SHARD_NAME.fullmatch(name))

    def docs(self) -> list[dict[str, Any]]:
        """Every summary, in creation order; lock-free, each one whole."""
        legacy = self._legacy_docs()
        if legacy is not None:
            return legacy
        docs = [doc for key in self.shard_keys() for doc in self._shard_docs(key)]
        docs.sort(key=store_order)
        return docs

    def find(self, exp_id: str) -> dict[str, Any] | None:
        """The summary of the experiment with this full id (one shard read), ``None`` when unknown."""
        legacy = self._legacy_docs()
        docs = legacy if legacy is not None else self._shard_docs(shard_key(exp_id))
        return next((doc for doc in docs if doc.get("id") == exp_id), None)

    # -- writing -----------------------------------------------------------------------------------

    def _ensure_sharded(self) -> None:
        """Write the marker of a new store, or move an old store's summaries to the shards."""
        if self._sharded:
            return
        if self._legacy_docs() is None:
            return
        self.home.mkdir(parents=True, exist_ok=True)
        with locked(self.path):
            legacy = self._legacy_docs()  # again, under the lock: another process may have done it
            if legacy is None:
                return
            self._build_shards(legacy)
            atomic_write_bytes(self.path, encode_json(MARKER))
            self._sharded = True

    def _build_shards(self, docs: list[dict[str, Any]]) -> None:
        """Write every summary into shard files in a hidden folder, then rename it into place."""
        building = self.home / f".{SHARDS_DIR}.building-{secrets.token_hex(4)}"
        building.mkdir()
        by_shard: dict[str, list[dict[str, Any]]] = {}
        for doc in docs:
            by_shard.setdefault(shard_key(str(doc.get("id", ""))), []).append(doc)
        for key, shard in by_shard.items():
            tables = {
                META_TABLE: {"1": {"schema": SCHEMA_VERSION}},
                INDEX_TABLE: {str(number): doc for number, doc in enumerate(shard, start=1)},
            }
            atomic_write_bytes(building / f"{key}.json", encode_json(tables))
        if self.shards_dir.exists():
            # Left by a move killed before the marker was written: the old index is still the truth.
            stale = self.home / f".{SHARDS_DIR}.stale-{secrets.token_hex(4)}"
            os.rename(self.shards_dir, stale)
            shutil.rmtree(stale, ignore_errors=True)
        os.rename(building, self.shards_dir)
        fsync_dir(self.home)

    def touch(self) -> None:
        """Mark that a summary changed: a new mtime on ``index.json`` (pollers compare it)."""
        now = time.time_ns()
        with contextlib.suppress(OSError):
            os.utime(self.path, ns=(now, now))

    def insert(self, summary: dict[str, Any]) -> None:
        """Add a new experiment's summary."""
        self._ensure_sharded()
        with write_transaction(self.shard_path(shard_key(summary["id"])), self.label) as db:
            db.table(INDEX_TABLE).insert(summary)
        self.touch()

    def insert_if_absent(self, summary: dict[str, Any]) -> bool:
        """Add a summary unless its id is already indexed (``ocrq doctor`` re-indexing a folder)."""
        self._ensure_sharded()
        with write_transaction(self.shard_path(shard_key(summary["id"])), self.label) as db:
            table = db.table(INDEX_TABLE)
            if table.contains(Query()["id"] == summary["id"]):
                return False
            table.insert(summary)
        self.touch()
        return True

    def rewrite_shard(self, key: str, summaries: list[dict[str, Any]]) -> None:
        """Replace a shard that cannot be parsed with ``summaries``, under its lock, without reading it."""
        path = self.shard_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        with locked(path):
            tables = {
                META_TABLE: {"1": {"schema": SCHEMA_VERSION}},
                INDEX_TABLE: {str(number): doc for number, doc in enumerate(summaries, start=1)},
            }
            atomic_write_bytes(path, encode_json(tables))
        self.touch()

    def rewrite_marker(self, summaries: list[dict[str, Any]] | None = None) -> None:
        """Replace a damaged ``index.json``; with ``summaries``, first build every shard from them.

        Used by ``ocrq doctor``: for a sharded store the marker alone is rewritten; for an old
        single-file store whose index cannot be parsed, the shards are built from the summaries
        the experiment folders keep.
        """
        self.home.mkdir(parents=True, exist_ok=True)
        with locked(self.path):
            if summaries is not None:
                self._build_shards(summaries)
            atomic_write_bytes(self.path, encode_json(MARKER))
            self._sharded = True
        self.touch()

    def insert_many(self, summaries: Iterable[dict[str, Any]], *, durable: bool = True) -> None:
        """Add many summaries with one write per shard (bulk loads)."""
        self._ensure_sharded()
        by_shard: dict[str, list[dict[str, Any]]] = {}
        for summary in summaries:
            by_shard.setdefault(shard_key(summary["id"]), []).append(summary)
        for key, shard in sorted(by_shard.items()):
            with write_transaction(self.shard_path(key), self.label, durable=durable) as db:
                db.table(INDEX_TABLE).insert_multiple(shard)
        self.touch()

    def change(
        self,
        exp_id: str,
        change: Callable[[dict[str, Any]], None],
        after: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Apply ``change`` to one summary under its shard's lock and return the new summary.

        Args:
            exp_id: the experiment's full id.
            change: edits the summary in place.
            after: called with the new summary while the lock is still held (writes that must land
                in the same order as the summary's, such as its copy in the experiment's folder).

        Raises:
            ExperimentNotFound: no summary has this id.
        """
        self._ensure_sharded()
        result: dict[str, Any] = {}

        def apply(doc: dict[str, Any]) -> None:
            change(doc)
            result.update(doc)

        with write_transaction(self.shard_path(shard_key(exp_id)), self.label) as db:
            table = db.table(INDEX_TABLE)
            found = table.get(Query()["id"] == exp_id)
            if found is None:
                raise ExperimentNotFound(f"no experiment matches '{exp_id}'")
            table.update(apply, doc_ids=[found.doc_id])
            if after is not None:
                after(result)
        self.touch()
        return result

    def remove(self, exp_id: str) -> bool:
        """Remove an experiment's summary; whether there was one."""
        self._ensure_sharded()
        path = self.shard_path(shard_key(exp_id))
        if not path.exists():
            return False
        with write_transaction(path, self.label) as db:
            removed = bool(db.table(INDEX_TABLE).remove(Query()["id"] == exp_id))
        self.touch()
        return removed
