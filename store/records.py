"""One experiment's own TinyDB file: its config, epochs, variants, artifacts and evaluations.

Recording an epoch touches only this file, so its cost does not grow with the number of
experiments in the store.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tinydb import Query

from .files import atomic_write_bytes, encode_json, remove_stale_temps
from .storage import META_TABLE, SCHEMA_VERSION, read_tables, write_transaction

EXPERIMENT_FILE = "experiment.json"
SUMMARY_FILE = "summary.json"
INFO_TABLE = "info"
SUMMARY_TABLE = "summary"
LIST_TABLES = ("epochs", "variants", "artifacts", "evaluations")


def _label(folder: Path) -> str:
    return f"experiment at {folder}"


def summary_copy_bytes(summary: dict[str, Any]) -> bytes:
    """The content of ``summary.json``: a one-document TinyDB file."""
    return encode_json({META_TABLE: {"1": {"schema": SCHEMA_VERSION}}, SUMMARY_TABLE: {"1": summary}})


def write_summary_copy(folder: Path, summary: dict[str, Any], *, durable: bool = True) -> None:
    """Replace the copy of the experiment's index summary kept in its own folder.

    The index is the truth while it is whole; the copies let ``ocrq doctor`` rebuild a damaged
    index without losing statuses, tags or notes. The caller holds the summary's shard lock, so no
    live writer owns a temp file of this copy: one left by a killed writer is removed here.
    """
    remove_stale_temps(folder / SUMMARY_FILE)
    atomic_write_bytes(folder / SUMMARY_FILE, summary_copy_bytes(summary), durable=durable)


def read_summary_copy(folder: Path) -> dict[str, Any] | None:
    """The summary copy in an experiment's folder; ``None`` when there is none.

    Raises:
        StoreError: the file is damaged.
        SchemaTooNew: it was written by a newer ocrq.
    """
    tables = read_tables(folder / SUMMARY_FILE, _label(folder), (SUMMARY_TABLE,))
    if not tables or not tables[SUMMARY_TABLE]:
        return None
    return tables[SUMMARY_TABLE][0]


def create_file(folder: Path, info: dict[str, Any]) -> None:
    """Write a new experiment file holding ``info`` (id, config, ...) and empty record tables."""
    with write_transaction(folder / EXPERIMENT_FILE, _label(folder)) as db:
        db.table(INFO_TABLE).insert(info)


def append_record(folder: Path, table: str, record: dict[str, Any]) -> int:
    """Append ``record`` to a table of the experiment file; return the table's new length.

    Raises:
        FileNotFoundError: the experiment file does not exist.
    """
    with write_transaction(folder / EXPERIMENT_FILE, _label(folder), create=False) as db:
        records = db.table(table)
        records.insert(record)
        return len(records)


def record_epoch(folder: Path, record: dict[str, Any]) -> int:
    """Append an epoch, first dropping a recorded epoch of the same phase with this number or later.

    A run killed after recording epoch N but before checkpointing it redoes epoch N on resume; the
    stored table must read as the uninterrupted run's.

    Raises:
        FileNotFoundError: the experiment file does not exist.
    """
    phase, number = record.get("phase", "baseline"), record.get("epoch")
    with write_transaction(folder / EXPERIMENT_FILE, _label(folder), create=False) as db:
        epochs = db.table("epochs")
        if isinstance(number, int):
            redone = [
                doc.doc_id
                for doc in epochs.all()
                if doc.get("phase", "baseline") == phase
                and isinstance(doc.get("epoch"), int)
                and doc["epoch"] >= number
            ]
            if redone:
                epochs.remove(doc_ids=redone)
        epochs.insert(record)
        return len(epochs)


def upsert_record(
    folder: Path,
    table: str,
    record: dict[str, Any],
    key: str,
    same: Callable[[dict[str, Any]], bool] | None = None,
) -> None:
    """Replace the record whose ``key`` equals ``record[key]`` (or that ``same`` accepts), or append it.

    Raises:
        FileNotFoundError: the experiment file does not exist.
    """
    with write_transaction(folder / EXPERIMENT_FILE, _label(folder), create=False) as db:
        records = db.table(table)
        if same is None:
            matching = records.search(Query()[key] == record[key])
        else:
            matching = records.search(lambda doc: doc.get(key) == record[key] or same(doc))
        if matching:
            # Replace rather than merge so that a re-evaluated variant drops metrics it no longer has.
            records.remove(doc_ids=[doc.doc_id for doc in matching[1:]])
            records.update(_replace_with(record), doc_ids=[matching[0].doc_id])
        else:
            records.insert(record)


def _replace_with(record: dict[str, Any]):
    def replace(doc: dict[str, Any]) -> None:
        doc.clear()
        doc.update(record)

    return replace


def read_file(folder: Path) -> dict[str, Any] | None:
    """Everything in the experiment file, lock-free: ``info`` (a dict) and the record lists.

    Returns:
        ``None`` when the experiment file does not exist.
    """
    tables = read_tables(folder / EXPERIMENT_FILE, _label(folder), (INFO_TABLE, *LIST_TABLES))
    if tables is None:
        return None
    info = tables.pop(INFO_TABLE)
    return {"info": info[0] if info else {}, **tables}
