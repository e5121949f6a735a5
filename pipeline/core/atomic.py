"""Files that land whole: written to a temp file beside the target, flushed to disk, then renamed over it.

A reader (the TUI, `ocrq show`, another process) sees the old file or the new one, never half of one, and
a run killed mid-write leaves no torn report behind.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_bytes_atomic(path: Path, data: bytes) -> int:
    """Write `data` to `path` atomically (mode as a plain `open` would give it); returns the bytes written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The writer's pid in the name (`.<target>.<pid>.<random>.tmp`, the store's own spelling) lets
    # `ocrq doctor` delete a temp whose writer was killed at once, not a minute later.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a shared home needs the usual mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(data)


def write_text_atomic(path: Path, text: str) -> int:
    """Write UTF-8 `text` to `path` atomically; returns the bytes written."""
    return write_bytes_atomic(path, text.encode("utf-8"))
