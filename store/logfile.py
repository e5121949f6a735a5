"""The plain-text run log of an experiment: one line per message, appended, tailed from the end."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

LOG_FILE = "run.log"
LEVELS = ("debug", "info", "warning", "error")


def append_lines(folder: Path, level: str, message: str) -> None:
    """Append ``message`` to the run log as ``2026-11-23T16:40:01 info message`` lines (UTC).

    A multi-line message becomes several lines with the same time and level, so every line of the
    file parses the same way. One ``write`` call on an ``O_APPEND`` file keeps lines from several
    processes whole.
    """
    if level not in LEVELS:
        raise ValueError(f"level={level!r} is not a log level; allowed: {', '.join(LEVELS)}")
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    text = "".join(f"{stamp} {level} {line}\n" for line in (str(message).splitlines() or [""]))
    # 0666 filtered by the umask, like every other store file (a shared home needs group access).
    fd = os.open(folder / LOG_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)


def tail_lines(folder: Path, lines: int) -> list[str]:
    """The last ``lines`` lines of the run log (fewer when the log is shorter, none when absent).

    Reads backwards in blocks, so tailing a long log costs only the lines returned.
    """
    if lines <= 0:
        return []
    try:
        handle = open(folder / LOG_FILE, "rb")
    except FileNotFoundError:
        return []
    with handle:
        end = handle.seek(0, os.SEEK_END)
        block = 8192
        data = b""
        position = end
        while position > 0 and data.count(b"\n") <= lines:
            step = min(block, position)
            position -= step
            handle.seek(position)
            data = handle.read(step) + data
    text = data.decode("utf-8", errors="replace")
    return text.splitlines()[-lines:]
