"""How the TUI writes numbers, statuses and tables: the same figures and spellings as `ocrq show`.

Pure functions over store documents (no Textual), so tests and the bench can use them directly.
"""

from __future__ import annotations

import json
import time
from typing import Any

from rich.text import Text

from store.comparison import config_differences, metric_summary  # noqa: F401  (re-exported)
from store.display import (  # noqa: F401  (re-exported: the TUI's one place for spellings)
    ANATOMY_COLUMNS,
    EPOCH_COLUMNS,
    VARIANT_COLUMNS,
    anatomy_rows,
    epoch_cells,
    fmt_bytes,
    fmt_fixed,
    fmt_lr,
    fmt_num,
    fmt_pct,
    fmt_ratio,
    fmt_seconds,
    fmt_time,
    is_finite_number,
    ordered_variants,
)
from store.display import variant_cells as plain_variant_cells
from tui.model.progress import list_progress

STATUS_STYLES = {
    "created": "dim",
    "running": "bold cyan",
    "finished": "green",
    "failed": "bold red",
    "crashed": "bold red",
    "interrupted": "yellow",
    "pruned": "magenta",  # a search's pruner stopped the trial early: a result, not a fault
    "stopped": "yellow",
    "missing": "bold red",  # the folder was deleted outside ocrq
}
STATUS_ICONS = {
    "created": "·",
    "running": "▶",
    "finished": "✓",
    "failed": "✗",
    "crashed": "✗",
    "interrupted": "■",
    "pruned": "✂",
    "stopped": "■",
    "missing": "!",
}


def status_text(status: str | None, *, deleted: bool = False) -> Text:
    """A coloured status word with its icon (``✓ finished``), marked when soft-deleted."""
    status = status or "?"
    text = Text(f"{STATUS_ICONS.get(status, '?')} {status}", style=STATUS_STYLES.get(status, ""))
    if deleted:
        text.append(" (deleted)", style="dim")
    return text


def value_text(value: Any) -> str:
    """A config value as JSON text (``"crnn_tiny"``, ``0.001``, ``["a", "b"]``)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


# -- experiments ---------------------------------------------------------------------------------


def summary_cells(summary: dict[str, Any]) -> dict[str, Text]:
    """The experiments-list cells of one summary, keyed by column key (Text: names are never markup)."""
    return {
        "id": Text(summary["id"][:8]),
        "name": Text(summary.get("name") or "-"),
        "template": Text(summary.get("template") or "-"),
        "model": Text(summary.get("model") or "-"),
        "status": status_text(summary.get("status"), deleted=bool(summary.get("deleted"))),
        "best_cer": Text(fmt_pct(summary.get("best_cer"))),
        "best_em": Text(fmt_pct(summary.get("best_em"), 1)),
        "size_ratio": Text(fmt_ratio(summary.get("size_ratio"))),
        "speedup": Text(fmt_ratio(summary.get("speedup"))),
        "created": Text(fmt_time(summary.get("created"))),
        "tags": Text(",".join(summary.get("tags") or [])),
        "progress": Text(list_progress(summary, time.time()), style="cyan"),
    }


def wrap_items(items: list[str], width: int, separator: str = " · ") -> list[str]:
    """Join ``items`` into lines of at most ``width`` cells, breaking only between items."""
    lines: list[str] = []
    for item in items:
        if lines and len(lines[-1]) + len(separator) + len(item) <= width:
            lines[-1] += separator + item
        else:
            lines.append(item)
    return lines


def variant_cells(variant: dict[str, Any]) -> tuple[Any, ...]:
    """One row of the variants comparison table (columns ``VARIANT_COLUMNS``), as `ocrq show` prints it."""
    *cells, guard = plain_variant_cells(variant)
    return (*cells, Text(guard, style="bold red") if guard == "exceeded" else guard)


def epoch_row(epoch: dict[str, Any]) -> tuple[str, ...]:
    """One row of the epoch table, as `ocrq show` prints it (losses to 4 decimals, like ``3.2000``)."""
    return epoch_cells(epoch)


# -- comparison ----------------------------------------------------------------------------------


def metric_rows(experiments: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    """Best and last validation figures of each baseline, then FP32 test figures and best ratios."""
    return [(row["metric"], row["texts"]) for row in metric_summary(experiments)]
