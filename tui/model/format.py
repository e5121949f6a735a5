"""How the TUI writes numbers, statuses and tables: the same figures and spellings as `ocrq show`.

Pure functions over store documents (no Textual), so tests and the bench can use them directly.
"""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text

from store.display import (  # noqa: F401  (re-exported: the TUI's one place for spellings)
    ANATOMY_COLUMNS,
    EPOCH_COLUMNS,
    VARIANT_COLUMNS,
    anatomy_rows,
    epoch_cells,
    fmt_bytes,
    fmt_lr,
    fmt_num,
    fmt_pct,
    fmt_ratio,
    fmt_seconds,
    fmt_time,
    ordered_variants,
)
from store.display import is_finite_number as _finite
from store.display import variant_cells as plain_variant_cells

STATUS_STYLES = {
    "created": "dim",
    "running": "bold cyan",
    "finished": "green",
    "failed": "bold red",
    "crashed": "bold red",
    "interrupted": "yellow",
}
STATUS_ICONS = {
    "created": "·",
    "running": "▶",
    "finished": "✓",
    "failed": "✗",
    "crashed": "✗",
    "interrupted": "■",
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
    }


def variant_cells(variant: dict[str, Any]) -> tuple[Any, ...]:
    """One row of the variants comparison table (columns ``VARIANT_COLUMNS``), as `ocrq show` prints it."""
    *cells, guard = plain_variant_cells(variant)
    return (*cells, Text(guard, style="bold red") if guard == "exceeded" else guard)


# -- comparison ----------------------------------------------------------------------------------


def flatten_config(config: dict[str, Any]) -> dict[str, Any]:
    """``{"train": {"epochs": 3}}`` -> ``{"train.epochs": 3}`` (top-level fields keep their name)."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict):
            for sub_key, sub_value in value.items():
                flat[f"{key}.{sub_key}"] = sub_value
        else:
            flat[key] = value
    return flat


def config_differences(experiments: list[dict[str, Any]], *, only_changed: bool) -> list[dict[str, Any]]:
    """One row per config field: ``{"field", "values", "changed"}``, as `ocrq compare` lists them."""
    flats = [flatten_config(e.get("config") or {}) for e in experiments]
    rows = []
    for key in sorted({key for flat in flats for key in flat}):
        values = [flat.get(key) for flat in flats]
        changed = any(value_text(value) != value_text(values[0]) for value in values)
        if changed or not only_changed:
            rows.append({"field": key, "values": values, "changed": changed})
    return rows


def _baseline(experiment: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in experiment.get("epochs", []) if (e.get("phase") or "baseline") == "baseline"]


def _best(experiment: dict[str, Any], key: str, lowest: bool) -> Any:
    values = [e[key] for e in _baseline(experiment) if _finite(e.get(key))]
    if not values:
        return None
    return min(values) if lowest else max(values)


def _last(experiment: dict[str, Any], key: str) -> Any:
    epochs = _baseline(experiment)
    return epochs[-1].get(key) if epochs else None


def _fp32(experiment: dict[str, Any], key: str) -> Any:
    for variant in experiment.get("variants", []):
        if variant.get("name") == "fp32":
            return variant.get(key)
    return None


METRICS = (
    ("status", lambda e: e.get("status"), str),
    ("epochs", lambda e: len(_baseline(e)), str),
    ("best val CER", lambda e: _best(e, "cer", True), fmt_pct),
    ("last val CER", lambda e: _last(e, "cer"), fmt_pct),
    ("best val EM", lambda e: _best(e, "em", False), fmt_pct),
    ("last val EM", lambda e: _last(e, "em"), fmt_pct),
    ("best val loss", lambda e: _best(e, "val_loss", True), lambda v: fmt_num(v, 4)),
    ("last val loss", lambda e: _last(e, "val_loss"), lambda v: fmt_num(v, 4)),
    ("last train loss", lambda e: _last(e, "train_loss"), lambda v: fmt_num(v, 4)),
    ("test CER (fp32)", lambda e: _fp32(e, "cer"), fmt_pct),
    ("test EM (fp32)", lambda e: _fp32(e, "em"), fmt_pct),
    ("best size×", lambda e: e.get("size_ratio"), fmt_ratio),
    ("best speed×", lambda e: e.get("speedup"), fmt_ratio),
)


def metric_rows(experiments: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    """Best and last validation figures of each baseline, then FP32 test figures and best ratios."""
    return [(label, [fmt(get(e)) for e in experiments]) for label, get, fmt in METRICS]
