"""Artifact paths as shown and text artifacts as read. No Textual here.

The store hands every artifact's path already resolved in this home (``Store.get``: relative records,
and old absolute ones from another machine, re-based onto the experiment's folder).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

TEXT_SUFFIXES = (".md", ".json", ".tsv", ".csv", ".txt", ".log", ".yaml", ".yml")
MAX_TEXT_BYTES = 2_000_000


def shown_path(path: Path, experiment_dir: str | Path | None) -> str:
    """``path`` relative to the experiment folder when inside it, else as it is."""
    if experiment_dir is not None:
        try:
            return str(path.relative_to(Path(experiment_dir)))
        except ValueError:
            pass
    return str(path)


def is_text(path: str | Path) -> bool:
    return Path(path).suffix.lower() in TEXT_SUFFIXES


@dataclass
class TextArtifact:
    """A text artifact ready to show: plain text, or (for predictions) a table with wrong lines first.

    Attributes:
        kind: ``markdown``, ``json``, ``table`` or ``text``.
        text: the text to show (kind markdown, json, text).
        columns: the table's header (kind table).
        rows: the table's rows, wrong predictions first (kind table).
        wrong: how many rows are wrong predictions (kind table).
        note: a line about what is shown (truncated, how many wrong).
    """

    kind: str
    text: str = ""
    columns: list[str] | None = None
    rows: list[list[str]] | None = None
    wrong: int = 0
    note: str = ""


def _wrong(row: dict[str, str]) -> bool:
    label = row.get("label", row.get("text", row.get("target")))
    prediction = row.get("prediction", row.get("pred"))
    if label is not None and prediction is not None:
        return label != prediction
    for key in ("cer", "edit_distance", "errors"):
        try:
            return float(row.get(key, "0") or 0) > 0
        except ValueError:
            continue
    return False


def read_text_artifact(path: str | Path) -> TextArtifact:
    """Read a text artifact for the viewer.

    Raises:
        OSError: the file cannot be read.
    """
    path = Path(path)
    with open(path, "rb") as handle:
        data = handle.read(MAX_TEXT_BYTES + 1)
    note = f"first {MAX_TEXT_BYTES // 1_000_000} MB shown" if len(data) > MAX_TEXT_BYTES else ""
    text = data[:MAX_TEXT_BYTES].decode("utf-8", errors="replace")
    suffix = path.suffix.lower()
    if suffix == ".json":
        try:
            text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        except ValueError:
            pass
        return TextArtifact("json", text=text, note=note)
    if suffix == ".md":
        return TextArtifact("markdown", text=text, note=note)
    if suffix in (".tsv", ".csv"):
        reader = csv.DictReader(io.StringIO(text), delimiter="\t" if suffix == ".tsv" else ",")
        columns = list(reader.fieldnames or [])
        rows = list(reader)
        wrong = [row for row in rows if _wrong(row)]
        right = [row for row in rows if not _wrong(row)]
        table = [[row.get(column) or "" for column in columns] for row in wrong + right]
        summary = f"{len(wrong)} wrong of {len(rows)} lines, wrong first"
        return TextArtifact(
            "table",
            columns=columns,
            rows=table,
            wrong=len(wrong),
            note="; ".join(filter(None, [summary, note])),
        )
    return TextArtifact("text", text=text, note=note)
