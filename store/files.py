"""Crash-safe file primitives: atomic replacement, tolerant reads, stale temp clean-up.

A file is never written in place: the new content goes to a temp file in the same folder, is
fsynced, then ``os.replace``d over the old one, and the folder is fsynced so the rename itself
survives a power cut. A reader therefore always opens a whole old or a whole new file, and a writer
killed at any instant leaves at worst a temp file that nobody reads.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import os
import secrets
import stat
import time
from pathlib import Path
from typing import Any

from .errors import StoreError

TEMP_SUFFIX = ".tmp"


def temp_prefix(path: Path) -> str:
    """Prefix of the temp files written next to ``path`` (hidden, named after the target)."""
    return f".{path.name}."


def temp_writer_pid(name: str) -> int | None:
    """The pid of the process that wrote a temp file named ``.<target>.<pid>.<random>.tmp``, if any."""
    if not (name.startswith(".") and name.endswith(TEMP_SUFFIX)):
        return None
    parts = name[: -len(TEMP_SUFFIX)].split(".")
    if len(parts) < 4 or not parts[-2].isdigit():
        return None
    return int(parts[-2])


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (a just-renamed file) to disk; a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _create_temp(path: Path) -> tuple[int, str]:
    """Create a new temp file next to ``path``, permissions as a plain ``open(path, "w")`` leaves them.

    ``tempfile.mkstemp`` creates 0600 files whatever the umask; those would replace group-readable
    store files in a shared home. A new file gets 0666 filtered by the umask (or the folder's default
    ACL), like every other file of the home; a replaced file keeps its permission bits.
    """
    prefix = temp_prefix(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    while True:
        # The writer's pid in the name lets `ocrq doctor` tell a dead writer's temp from a live one's.
        name = os.path.join(path.parent, f"{prefix}{os.getpid()}.{secrets.token_hex(4)}{TEMP_SUFFIX}")
        try:
            fd = os.open(name, flags, 0o666)
            break
        except FileExistsError:
            continue  # another writer drew the same name
    try:
        os.fchmod(fd, stat.S_IMODE(os.stat(path).st_mode))
    except FileNotFoundError:
        pass
    except OSError:  # not ours to change (another user's file in a shared home): the umask's mode stays
        pass
    return fd, name


def atomic_write_bytes(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` so that readers see the old or the new content, never a mix.

    The new file's permissions follow the umask, like a file created by ``open``.

    Args:
        path: the target file; its folder must exist.
        data: the whole new content.
        durable: fsync the file and its folder (off only for throw-away files such as heartbeats).
    """
    fd, temp_name = _create_temp(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise
    if durable:
        fsync_dir(path.parent)


def encode_json(data: Any) -> bytes:
    """Compact UTF-8 JSON; refuses NaN/inf so that a stored file is always valid JSON."""
    return json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")


def read_json(path: Path) -> Any | None:
    """Load a JSON file written by this module; ``None`` when it does not exist (or is empty).

    Raises:
        StoreError: the file exists but is not JSON (edited or damaged by something else).
    """
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except (FileNotFoundError, NotADirectoryError):
        return None
    if not raw.strip():
        return None
    # The parse allocates one container per document; pausing the cyclic GC (nothing to collect
    # here) makes a 10,000-experiment index load markedly faster.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise StoreError(f"{path} is not valid JSON ({error}); it was changed outside ocrq") from error
    finally:
        if gc_was_enabled:
            gc.enable()


def read_head(path: Path, size: int = 512) -> bytes:
    """The first ``size`` bytes of a file, or ``b""`` when it does not exist."""
    try:
        with open(path, "rb") as handle:
            return handle.read(size)
    except (FileNotFoundError, NotADirectoryError):
        return b""


def remove_stale_temps(path: Path, *, older_than_s: float = 0.0) -> int:
    """Delete temp files a killed writer left next to ``path``.

    Call it only while holding the lock of ``path`` (then no live writer of that file owns a temp),
    or with ``older_than_s`` for files written without a lock.

    Returns:
        How many files were removed.
    """
    prefix = temp_prefix(path)
    removed = 0
    cutoff = time.time() - older_than_s
    try:
        entries = list(os.scandir(path.parent))
    except FileNotFoundError:
        return 0
    for entry in entries:
        if not (entry.name.startswith(prefix) and entry.name.endswith(TEMP_SUFFIX)):
            continue
        try:
            if older_than_s and entry.stat().st_mtime > cutoff:
                continue
            os.unlink(entry.path)
            removed += 1
        except FileNotFoundError:
            continue
    return removed


def file_sha256(path: Path, *, expected_bytes: int | None = None) -> str | None:
    """The sha256 (hex) of a file; ``None`` when it cannot be read or its size is not ``expected_bytes``."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            if expected_bytes is not None and os.fstat(handle.fileno()).st_size != expected_bytes:
                return None
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()
