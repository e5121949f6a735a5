"""Rank models across experiments in one table with a composite score whose weights the user sets."""

from __future__ import annotations

import math
from typing import Any

# metric -> True when higher is better
RANK_METRICS: dict[str, bool] = {
    "cer": False,
    "em": True,
    "size_bytes": False,
    "latency_ms_p50": False,
    "robustness_gap": False,
    "ece": False,
}
DEFAULT_WEIGHTS = {
    "cer": 1.0,
    "em": 0.0,
    "size_bytes": 0.5,
    "latency_ms_p50": 0.5,
    "robustness_gap": 0.5,
    "ece": 0.5,
}


def check_weights(weights: dict[str, float]) -> dict[str, float]:
    """Weights for the composite score, defaults filled in.

    Raises:
        ValueError: for an unknown metric, a negative or non-finite weight, or all weights 0.
    """
    merged = dict(DEFAULT_WEIGHTS)
    for name, value in weights.items():
        if name not in RANK_METRICS:
            raise ValueError(f"weight for {name!r} is unknown; allowed {', '.join(RANK_METRICS)}")
        if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
            raise ValueError(f"weight {name}={value!r} is not allowed; give a number >= 0")
        merged[name] = float(value)
    if not any(merged.values()):
        raise ValueError("every weight is 0; give at least one weight > 0")
    return merged


def _usable(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def rank_models(rows: list[dict[str, Any]], weights: dict[str, float] | None = None) -> list[dict[str, Any]]:
    """Rows sorted by composite score (1 = best on every weighted metric, 0 = worst on every one).

    Each metric is scaled to [0, 1] across the rows (min-max, flipped where lower is better); a row
    missing a metric scores 0 on it (it cannot win on what was not measured). Every metric equal across
    rows scores 1 for all.

    Args:
        rows: Dicts with any of the RANK_METRICS keys (and anything else, kept).
        weights: metric -> weight (see `check_weights`).
    """
    weights = check_weights(weights or {})
    total = sum(weights.values())
    scaled: dict[str, list[float]] = {}
    for metric, higher_better in RANK_METRICS.items():
        values = [r.get(metric) for r in rows]
        finite = [v for v in values if _usable(v)]
        low, high = (min(finite), max(finite)) if finite else (0.0, 0.0)
        column = []
        for v in values:
            if not _usable(v):
                column.append(0.0)
            elif high == low:
                column.append(1.0)
            else:
                share = (v - low) / (high - low)
                column.append(share if higher_better else 1.0 - share)
        scaled[metric] = column
    ranked = []
    for i, row in enumerate(rows):
        score = sum(weights[m] * scaled[m][i] for m in RANK_METRICS) / total
        ranked.append({**row, "score": score})
    ranked.sort(key=lambda r: -r["score"])
    for position, row in enumerate(ranked, start=1):
        row["rank"] = position
    return ranked
