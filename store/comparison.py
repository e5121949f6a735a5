"""Comparing stored experiments: which config fields differ and their figures side by side.

`ocrq compare` and the TUI's compare screen both show these rows, so they are computed once, here,
from the stored documents (plain dicts; no UI library).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .display import fmt_fixed, fmt_pct, fmt_ratio, is_finite_number


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
    """One row per flat config field: ``{"field", "values", "changed"}``, one value per experiment."""
    flats = [flatten_config(e.get("config") or {}) for e in experiments]
    rows = []
    for key in sorted({key for flat in flats for key in flat}):
        values = [flat.get(key) for flat in flats]
        first = json.dumps(values[0], sort_keys=True)
        changed = any(json.dumps(value, sort_keys=True) != first for value in values)
        if changed or not only_changed:
            rows.append({"field": key, "values": values, "changed": changed})
    return rows


def _baseline(experiment: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in experiment.get("epochs", []) if (e.get("phase") or "baseline") == "baseline"]


def _best(experiment: dict[str, Any], key: str, lowest: bool) -> Any:
    values = [e[key] for e in _baseline(experiment) if is_finite_number(e.get(key))]
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


def _loss(value: Any) -> str:
    return fmt_fixed(value, 4)


# (label, value of one experiment, its spelling)
METRICS: tuple[tuple[str, Callable[[dict[str, Any]], Any], Callable[[Any], str]], ...] = (
    ("status", lambda e: e.get("status"), str),
    ("epochs", lambda e: len(_baseline(e)), str),
    ("best val CER", lambda e: _best(e, "cer", True), fmt_pct),
    ("last val CER", lambda e: _last(e, "cer"), fmt_pct),
    ("best val EM", lambda e: _best(e, "em", False), fmt_pct),
    ("last val EM", lambda e: _last(e, "em"), fmt_pct),
    ("best val loss", lambda e: _best(e, "val_loss", True), _loss),
    ("last val loss", lambda e: _last(e, "val_loss"), _loss),
    ("last train loss", lambda e: _last(e, "train_loss"), _loss),
    ("test CER (fp32)", lambda e: _fp32(e, "cer"), fmt_pct),
    ("test EM (fp32)", lambda e: _fp32(e, "em"), fmt_pct),
    ("best size×", lambda e: e.get("size_ratio"), fmt_ratio),
    ("best speed×", lambda e: e.get("speedup"), fmt_ratio),
)


def metric_summary(experiments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Best and last validation figures of each baseline, then FP32 test figures and best ratios:
    ``{"metric", "values", "texts"}`` per row (values raw, texts as tables spell them)."""
    rows = []
    for label, get, spell in METRICS:
        values = [get(e) for e in experiments]
        rows.append({"metric": label, "values": values, "texts": [spell(v) for v in values]})
    return rows
