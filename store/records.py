"""One experiment's own TinyDB file: its config, epochs, variants, artifacts and evaluations.

Recording an epoch touches only this file, so its cost does not grow with the number of
experiments in the store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tinydb import Query

from .storage import read_tables, write_transaction

EXPERIMENT_FILE = "experiment.json"
INFO_TABLE = "info"
LIST_TABLES = ("epochs", "variants", "artifacts", "evaluations")


def _label(folder: Path) -> str:
    return f"experiment at {folder}"


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


def upsert_record(folder: Path, table: str, record: dict[str, Any], key: str) -> None:
    """Replace the record whose ``key`` equals ``record[key]``, or append it.

    Raises:
        FileNotFoundError: the experiment file does not exist.
    """
    with write_transaction(folder / EXPERIMENT_FILE, _label(folder), create=False) as db:
        records = db.table(table)
        matching = records.search(Query()[key] == record[key])
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
