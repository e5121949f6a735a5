"""Whether a recognizer's confidence can be trusted: per-line confidence, the reliability diagram, expected
calibration error, and the rejection curve (CER of the lines kept when the least confident are dropped)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pipeline.evaluation.metrics import cer

DEFAULT_BINS = 10
KEEP_SHARES = tuple(round(0.05 * i, 2) for i in range(20, 0, -1))  # 1.0, 0.95, ..., 0.05


def line_confidence(log_probs: np.ndarray) -> float:
    """Probability of the greedy path: the product over frames of the top class's probability.

    A line read with a single unsure frame gets a low confidence, which is what decides exact match.
    """
    if len(log_probs) == 0:
        return 1.0
    return float(np.exp(log_probs.max(axis=1).sum()))


def reliability(
    confidences: Sequence[float], correct: Sequence[bool], bins: int = DEFAULT_BINS
) -> dict[str, Any]:
    """The reliability diagram and expected calibration error over equal-width confidence bins.

    Args:
        confidences: One per line, in [0, 1].
        correct: Whether each line was read exactly.
        bins: Number of bins over [0, 1].

    Returns:
        `ece` (sum over bins of share of lines x |accuracy - mean confidence|), `mce` (largest gap) and
        `bins`: rows `low`, `high`, `lines`, `confidence`, `accuracy` (None for empty bins).

    Raises:
        ValueError: if the lengths differ, nothing is given, or bins < 1.
    """
    conf = np.asarray(confidences, dtype=np.float64)
    right = np.asarray(correct, dtype=np.float64)
    if conf.shape != right.shape or conf.size == 0:
        raise ValueError(f"need one confidence per line; got {conf.size} confidences for {right.size} lines")
    if bins < 1:
        raise ValueError(f"bins={bins} is out of range; allowed >= 1")
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    rows, ece, mce = [], 0.0, 0.0
    for b in range(bins):
        members = which == b
        count = int(members.sum())
        if count:
            mean_conf, accuracy = float(conf[members].mean()), float(right[members].mean())
            gap = abs(accuracy - mean_conf)
            ece += count / conf.size * gap
            mce = max(mce, gap)
        else:
            mean_conf = accuracy = None
        rows.append(
            {
                "low": float(edges[b]),
                "high": float(edges[b + 1]),
                "lines": count,
                "confidence": mean_conf,
                "accuracy": accuracy,
            }
        )
    return {"ece": ece, "mce": mce, "bins": rows}


def rejection_curve(
    confidences: Sequence[float],
    preds: Sequence[str],
    labels: Sequence[str],
    shares: Sequence[float] = KEEP_SHARES,
) -> list[dict[str, float]]:
    """CER and exact match of the most confident lines, for each share of lines kept.

    Returns rows `kept` (share), `lines`, `cer`, `em`; a well-ranked confidence makes CER fall as fewer
    lines are kept.
    """
    order = np.argsort(-np.asarray(confidences, dtype=np.float64), kind="stable")
    rows = []
    for share in shares:
        count = max(1, int(round(share * len(order))))
        kept = order[:count]
        kept_preds = [preds[i] for i in kept]
        kept_labels = [labels[i] for i in kept]
        rows.append(
            {
                "kept": float(share),
                "lines": count,
                "cer": cer(kept_preds, kept_labels),
                "em": float(np.mean([p == q for p, q in zip(kept_preds, kept_labels, strict=True)])),
            }
        )
    return rows


def confidence_report(
    log_probs: Sequence[np.ndarray], preds: Sequence[str], labels: Sequence[str], bins: int = DEFAULT_BINS
) -> dict[str, Any]:
    """Confidence of one variant: per-line confidences, reliability (ECE) and the rejection curve."""
    confidences = [line_confidence(lp) for lp in log_probs]
    correct = [p == q for p, q in zip(preds, labels, strict=True)]
    calibration = reliability(confidences, correct, bins)
    return {
        "mean_confidence": float(np.mean(confidences)),
        "accuracy": float(np.mean(correct)),
        "ece": calibration["ece"],
        "mce": calibration["mce"],
        "reliability": calibration["bins"],
        "rejection": rejection_curve(confidences, preds, labels),
        "confidences": confidences,
    }
