"""One-line messages and exit codes for errors that escape a command.

Commands raise `CliError`/`UsageError` for what they know; this is the net under them for errors with
a known meaning (a damaged store, a full disk, a file that cannot be read). Anything else is a bug:
its type and message in one line, the traceback with OCRQ_DEBUG=1.
"""

from __future__ import annotations

import errno

from cli.console import one_line
from store import AmbiguousId, ExperimentNotFound, SchemaTooNew, StoreError, StudyNotFound

DOCTOR_HINT = "run `ocrq doctor` to check the store (`ocrq doctor --repair` fixes it)"


def describe_error(error: BaseException) -> tuple[str, int]:
    """(one-line message, exit code) for an exception no command handled."""
    if isinstance(error, ExperimentNotFound | AmbiguousId | StudyNotFound):
        return one_line(error), 2
    if isinstance(error, SchemaTooNew):
        return one_line(error), 1
    if isinstance(error, StoreError):
        return f"{one_line(error)}; {DOCTOR_HINT}", 1
    if isinstance(error, RecursionError):
        return "the input is nested too deeply to read (RecursionError); check the file it came from", 1
    if isinstance(error, MemoryError):
        return "out of memory; use a smaller batch, fewer lines or a smaller model", 1
    if isinstance(error, OSError) and error.strerror:
        where = f": {one_line(error.filename)}" if error.filename else ""
        if error.errno == errno.ENOSPC:
            return f"no space left on device{where}; free some space and retry", 1
        return f"{error.strerror.lower()}{where}", 1
    return f"{type(error).__name__}: {one_line(error)} (set OCRQ_DEBUG=1 for the traceback)", 1
