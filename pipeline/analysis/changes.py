"""What compression changed, line by line: flips against FP32, confusion pairs that grew, per-character
accuracy deltas, and how often the per-frame outputs still agree."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.analysis.errors import confusion_counts, top_pairs


@dataclass(frozen=True)
class Flips:
    """Lines whose correctness (exact match) changed from the reference to the variant, by line index."""

    broke: list[int]  # right with the reference, wrong with the variant
    fixed: list[int]  # wrong with the reference, right with the variant

    def to_dict(self) -> dict[str, Any]:
        return {"broke": self.broke, "fixed": self.fixed, "net": len(self.broke) - len(self.fixed)}


def flips(reference_correct: Sequence[bool], variant_correct: Sequence[bool]) -> Flips:
    """Indices of the lines the variant broke and fixed.

    Raises:
        ValueError: if the two readings cover different numbers of lines.
    """
    if len(reference_correct) != len(variant_correct):
        raise ValueError(
            f"reference has {len(reference_correct)} lines but the variant {len(variant_correct)}; they must match"
        )
    pairs = list(zip(reference_correct, variant_correct, strict=True))
    return Flips(
        broke=[i for i, (r, v) in enumerate(pairs) if r and not v],
        fixed=[i for i, (r, v) in enumerate(pairs) if v and not r],
    )


def grown_confusions(
    reference_preds: Sequence[str], variant_preds: Sequence[str], labels: Sequence[str], k: int = 10
) -> list[dict[str, Any]]:
    """Substitution pairs the variant makes more often than the reference, most growth first.

    Rows: `label`, `pred`, `count` (growth), `reference`, `variant`.
    """
    reference = confusion_counts(reference_preds, labels)
    variant = confusion_counts(variant_preds, labels)
    growth = variant.copy()
    growth.subtract(reference)
    rows = top_pairs(growth, k)
    for row in rows:
        key = (row["label"], row["pred"])
        row["reference"], row["variant"] = reference.get(key, 0), variant.get(key, 0)
    return rows


def char_accuracy_deltas(
    reference: dict[str, dict[str, float]], variant: dict[str, dict[str, float]], k: int = 10
) -> list[dict[str, Any]]:
    """Characters whose accuracy changed most (largest drop first), from two `char_accuracy` results."""
    rows = []
    for char, ref in reference.items():
        var = variant.get(char)
        if var is None:
            continue
        delta = var["accuracy"] - ref["accuracy"]
        if delta != 0.0:
            rows.append(
                {
                    "char": char,
                    "count": ref["count"],
                    "reference": ref["accuracy"],
                    "variant": var["accuracy"],
                    "delta": delta,
                }
            )
    return sorted(rows, key=lambda r: (r["delta"], r["char"]))[:k]


def frame_agreement(reference_logits: Sequence[np.ndarray], variant_logits: Sequence[np.ndarray]) -> dict:
    """Per-frame agreement of two readings' log-probabilities (T_i, C) per line.

    Returns:
        `argmax_agreement` (share of frames whose top class is the same), `top1_prob_shift` (mean over
        frames of variant top-1 probability minus the reference's: negative = less sure),
        `top1_prob_abs_shift` (mean absolute shift), `reference_class_prob_drop` (mean drop of the
        probability the variant gives the reference's top class), and `per_line_agreement`.
    """
    agree, shift, abs_shift, drop, per_line = [], [], [], [], []
    for ref, var in zip(reference_logits, variant_logits, strict=True):
        frames = min(len(ref), len(var))  # pruned models keep the stride; a mismatch would be a bug upstream
        if frames == 0:
            per_line.append(1.0)
            continue
        ref_p, var_p = np.exp(ref[:frames]), np.exp(var[:frames])
        ref_top, var_top = ref_p.argmax(axis=1), var_p.argmax(axis=1)
        same = ref_top == var_top
        rows = np.arange(frames)
        agree.append(same)
        shift.append(var_p.max(axis=1) - ref_p.max(axis=1))
        abs_shift.append(np.abs(shift[-1]))
        drop.append(ref_p[rows, ref_top] - var_p[rows, ref_top])
        per_line.append(float(same.mean()))

    def mean(parts: list[np.ndarray]) -> float:
        return float(np.concatenate(parts).mean()) if parts else float("nan")

    return {
        "argmax_agreement": mean(agree),
        "top1_prob_shift": mean(shift),
        "top1_prob_abs_shift": mean(abs_shift),
        "reference_class_prob_drop": mean(drop),
        "per_line_agreement": per_line,
    }
