"""TinyDB on top of the crash-safe files: a storage class, write transactions and schema checks.

Each TinyDB file has a ``meta`` table holding one ``{"schema": N}`` document, written first in the
file so the schema can be read from the file's head without parsing a large index.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from tinydb import TinyDB
from tinydb.storages import Storage

from .errors import SchemaTooNew, StoreError
from .files import atomic_write_bytes, encode_json, read_head, read_json, remove_stale_temps

# 2: the index is split into shard files under index/ (index.json only marks the layout);
#    experiment files are unchanged, and schema-1 files are read as they are.
SCHEMA_VERSION = 2
META_TABLE = "meta"
LOCK_TIMEOUT_S = 120.0
LOCK_POLL_S = 0.002  # filelock polls a held lock; its 50 ms default idles waiting writers
_HEAD_SCHEMA = re.compile(rb'^\{"meta":\{"\d+":\{"schema":(\d+)[,}]')


class AtomicJSONStorage(Storage):
    """A TinyDB storage that reads a file once per instance and replaces it atomically on write.

    An instance lives for one read or one locked transaction, so caching the parsed file inside it is
    safe: while the lock is held nobody else writes the file.
    """

    def __init__(self, path: str, writable: bool = False, durable: bool = True) -> None:
        self._path = Path(path)
        self._writable = writable
        self._durable = durable
        self._data: dict[str, dict[str, Any]] | None = None
        self._loaded = False

    def read(self) -> dict[str, dict[str, Any]] | None:
        if not self._loaded:
            self._data = read_json(self._path)
            self._loaded = True
        return self._data

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        if not self._writable:
            raise StoreError(f"{self._path} was opened for reading only")
        # The meta table goes first so schema_from_head() finds it in the first bytes.
        ordered = {META_TABLE: data[META_TABLE]} if META_TABLE in data else {}
        ordered.update((name, table) for name, table in data.items() if name != META_TABLE)
        atomic_write_bytes(self._path, encode_json(ordered), durable=self._durable)
        self._data = ordered
        self._loaded = True

    def close(self) -> None:
        self._data = None
        self._loaded = False


def schema_error(schema: object, label: str) -> SchemaTooNew:
    """The error for a file written with a newer schema than this code reads."""
    return SchemaTooNew(
        f"{label} has schema {schema}; this ocrq reads schema <= {SCHEMA_VERSION} — upgrade ocrq"
    )


def check_schema(db: TinyDB, label: str) -> int | None:
    """Return the file's schema version (``None`` for a new file); raise when it is too new."""
    docs = db.table(META_TABLE).all()
    if not docs:
        return None
    schema = docs[0].get("schema")
    if not isinstance(schema, int) or schema > SCHEMA_VERSION:
        raise schema_error(schema, label)
    return schema


def schema_from_head(path: Path, label: str) -> None:
    """Cheap schema check that reads only the head of a file (full parse as a fallback)."""
    head = read_head(path)
    if not head.strip():
        return
    match = _HEAD_SCHEMA.match(head)
    if match:
        schema = int(match.group(1))
        if schema > SCHEMA_VERSION:
            raise schema_error(schema, label)
        return
    check_schema(open_for_reading(path), label)


def open_for_reading(path: Path) -> TinyDB:
    """A TinyDB over ``path`` that parses the file once and refuses writes; never creates the file."""
    return TinyDB(str(path), storage=AtomicJSONStorage)


def read_tables(path: Path, label: str, names: tuple[str, ...]) -> dict[str, list[dict[str, Any]]] | None:
    """Read several tables of a TinyDB file in one parse, lock-free.

    Readers parse the TinyDB file format directly (``{table: {doc_id: document}}``, documents in
    insertion order, as TinyDB iterates them): a fresh parse needs none of the defensive copies
    TinyDB makes, which matters for a 10,000-experiment index.

    Returns:
        ``{table: [documents in insertion order]}``, or ``None`` when the file does not exist.
    """
    data = read_json(path)
    if data is None:
        return None
    if not isinstance(data, dict):
        raise StoreError(f"{path} is not a TinyDB file; it was changed outside ocrq")
    meta = list((data.get(META_TABLE) or {}).values())
    if meta:
        schema = meta[0].get("schema")
        if not isinstance(schema, int) or schema > SCHEMA_VERSION:
            raise schema_error(schema, label)
    return {name: list((data.get(name) or {}).values()) for name in names}


@contextmanager
def write_transaction(
    path: Path, label: str, *, create: bool = True, durable: bool = True
) -> Iterator[TinyDB]:
    """Hold the file's inter-process lock and yield a TinyDB whose every write lands atomically.

    Args:
        path: the TinyDB file.
        label: how messages name the file ("store at /home").
        create: create the file (and its folder) on first use with the current schema; when false a
            missing file raises ``FileNotFoundError`` and nothing is created.
        durable: fsync every write (off only for bulk loads that are rebuilt on failure).

    Raises:
        SchemaTooNew: the file has a newer schema; nothing is written.
    """
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    elif not path.exists():
        raise FileNotFoundError(path)
    with locked(path):
        remove_stale_temps(path)
        db = TinyDB(str(path), storage=AtomicJSONStorage, writable=True, durable=durable)
        if not create and db.storage.read() is None:
            raise FileNotFoundError(path)  # removed while we waited for the lock
        if check_schema(db, label) is None:
            db.table(META_TABLE).insert({"schema": SCHEMA_VERSION})
        yield db


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold the inter-process lock of ``path`` (the one every write transaction on it takes)."""
    lock = FileLock(f"{path}.lock", timeout=LOCK_TIMEOUT_S)
    try:
        lock.acquire(poll_interval=LOCK_POLL_S)
    except Timeout as error:
        raise StoreError(f"timed out after {LOCK_TIMEOUT_S:.0f} s waiting for the lock on {path}") from error
    try:
        yield
    finally:
        lock.release()
