"""Finding the label file a user points at: the file itself, or the one label file inside a folder."""

from __future__ import annotations

from pathlib import Path

LABEL_FILE_NAMES = ("labels.txt", "rec_gt.txt", "gt.txt", "label.txt")


def find_label_file(data: str, *, other_choices: str = "'synthetic'") -> Path:
    """A label file given directly, or the one label file inside a folder.

    Args:
        data: What the user gave (`--data`).
        other_choices: The other values the caller's option takes, for the error message.

    Raises:
        ValueError: when there is no such file, or the folder holds none or several.
    """
    path = Path(data)
    if path.is_file():
        return path
    if path.is_dir():
        for name in LABEL_FILE_NAMES:
            if (path / name).is_file():
                return path / name
        candidates = sorted(path.glob("*.txt"))
        if len(candidates) == 1:
            return candidates[0]
        raise ValueError(
            f"--data '{data}' holds no single label file; name it one of {', '.join(LABEL_FILE_NAMES)}"
        )
    raise ValueError(
        f"--data '{data}' does not exist; allowed {other_choices}, a label file or a folder with one"
    )
