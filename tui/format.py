"""How the TUI writes numbers, statuses and tables: the same figures and spellings as `ocrq show`.

Pure functions over store documents (no Textual), so tests and the bench can use them directly.
"""

from __future__ import annotations

import json
import math
from typing import Any

from rich.text import Text

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

VARIANT_COLUMNS = (
    "variant", "backend", "CER", "ΔCER pp", "EM", "1-NED", "bytes", "size×",
    "p50 ms", "p95 ms", "lines/s b16", "speed×", "cosine", "guard",
)  # fmt: skip
EPOCH_COLUMNS = ("phase", "epoch", "train loss", "val loss", "CER", "EM", "lr", "seconds")


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def fmt_pct(value: Any, digits: int = 2) -> str:
    """A fraction as a percentage (``0.0123`` -> ``1.23%``), or ``-`` when not measured."""
    return f"{100 * value:.{digits}f}%" if _finite(value) else "-"


def fmt_num(value: Any, digits: int = 3) -> str:
    """A number with at most ``digits`` decimals (tiny values in ``g`` form), ``-`` when missing."""
    if not _finite(value):
        return "-"
    if isinstance(value, float):
        if value != 0 and abs(value) < 1e-3:
            return f"{value:.{digits}g}"
        return f"{value:.{digits}f}".rstrip("0").rstrip(".")
    return str(value)


def fmt_bytes(size: Any) -> str:
    """A size in B / KiB / MiB / GiB."""
    if not _finite(size):
        return "-"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def fmt_ratio(value: Any) -> str:
    """A ratio like ``3.91x``."""
    return f"{value:.2f}x" if _finite(value) else "-"


def fmt_time(iso: Any) -> str:
    """An ISO-8601 UTC time as ``YYYY-MM-DD HH:MM``."""
    return iso.replace("T", " ")[:16] if isinstance(iso, str) and iso else "-"


def fmt_lr(value: Any) -> str:
    return f"{value:.2e}" if _finite(value) else "-"


def fmt_seconds(value: Any) -> str:
    return f"{value:.1f}" if _finite(value) else "-"


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


def epoch_cells(epoch: dict[str, Any]) -> tuple[str, ...]:
    """One row of the live epoch table (columns ``EPOCH_COLUMNS``)."""
    return (
        str(epoch.get("phase") or "baseline"),
        str(epoch.get("epoch", "-")),
        fmt_num(epoch.get("train_loss"), 4),
        fmt_num(epoch.get("val_loss"), 4),
        fmt_pct(epoch.get("cer")),
        fmt_pct(epoch.get("em"), 1),
        fmt_lr(epoch.get("lr")),
        fmt_seconds(epoch.get("seconds")),
    )


def ordered_variants(variants: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Variants in the order of `ocrq show`: fp32 first, then ort-fp32, then as recorded."""
    return sorted(variants, key=lambda v: (v.get("name") != "fp32", v.get("name") != "ort-fp32"))


def variant_cells(variant: dict[str, Any]) -> tuple[Any, ...]:
    """One row of the variants comparison table (columns ``VARIANT_COLUMNS``), as `ocrq show` prints it."""
    fidelity = variant.get("fidelity") or {}
    delta = variant.get("cer_delta_pp")
    guard = variant.get("accuracy_guard") or "-"
    return (
        str(variant.get("name")),
        variant.get("backend") or "-",
        fmt_pct(variant.get("cer")),
        f"{delta:+.2f}" if _finite(delta) else "-",
        fmt_pct(variant.get("em"), 1),
        fmt_num(variant.get("ned"), 4),
        fmt_bytes(variant.get("size_bytes")),
        fmt_ratio(variant.get("compression_ratio")),
        fmt_num(variant.get("latency_ms_p50"), 2),
        fmt_num(variant.get("latency_ms_p95"), 2),
        fmt_num(variant.get("throughput_lines_per_s_b16"), 0),
        fmt_ratio(variant.get("speedup")),
        fmt_num(fidelity.get("cosine"), 4),
        Text(guard, style="bold red") if guard == "exceeded" else guard,
    )


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
