"""Where an experiment's recorded files are: paths stored relative to the experiment folder.

A run records each file relative to its experiment folder, so a home copied or synced from another
machine (a GPU box) finds its files where they are now. Records written before that hold absolute paths
of the machine that ran them; one that names an experiment folder (``.../experiments/<id>/...``) is
re-based onto this experiment's folder, and any other path is read as it is.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath, PureWindowsPath


def stored_artifact_path(path: str | os.PathLike[str], folder: Path) -> str:
    """How ``path`` is recorded: POSIX-relative to ``folder`` when inside it, else absolute as given."""
    absolute = Path(path) if Path(path).is_absolute() else Path.cwd() / path
    for candidate, root in ((absolute, folder), (absolute.resolve(), folder.resolve())):
        try:
            return candidate.relative_to(root).as_posix()
        except ValueError:
            continue
    return os.fspath(path)


def resolve_artifact_path(recorded: str, folder: Path) -> Path:
    """Where the file recorded as ``recorded`` for the experiment in ``folder`` is in this home."""
    if not (PurePosixPath(recorded).is_absolute() or PureWindowsPath(recorded).drive):
        return folder / recorded
    parts = (
        PureWindowsPath(recorded).parts if PureWindowsPath(recorded).drive else PurePosixPath(recorded).parts
    )
    # the last `<id>` right after an `experiments` folder: everything after it lies inside the folder
    for index in range(len(parts) - 2, 0, -1):
        if parts[index] == folder.name and parts[index - 1] == folder.parent.name:
            rest = parts[index + 1 :]
            if ".." not in rest:
                return folder.joinpath(*rest)
    return Path(recorded)
