"""analysis.md: the analysis document as tables a person reads, and the one-row-per-variant summary the
CLI, the TUI and `ocrq compare` show."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.analysis.errors import ERROR_KINDS
from pipeline.core.atomic import write_text_atomic


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def _num(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines.extend("| " + " | ".join(cell(v) for v in row) + " |" for row in rows)
    return [*lines, ""]


def summary_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per variant: CER, error count, flips (broke/fixed), frame agreement, robustness gap, ECE
    (None where a part was not run)."""
    rows = []
    errors = doc.get("errors") or {}
    changes = doc.get("changes") or {}
    gaps = (doc.get("robustness") or {}).get("gaps", {})
    confidence = doc.get("confidence") or {}
    for variant in doc.get("variants", []):
        change = changes.get(variant, {})
        rows.append(
            {
                "variant": variant,
                "cer": errors.get(variant, {}).get("cer"),
                "errors": sum(errors[variant]["kinds"].values()) if variant in errors else None,
                "broke": len(change["flips"]["broke"]) if change else None,
                "fixed": len(change["flips"]["fixed"]) if change else None,
                "argmax_agreement": change.get("argmax_agreement"),
                "robustness_gap": gaps.get(variant, {}).get("gap"),
                "ece": confidence.get(variant, {}).get("ece"),
            }
        )
    return rows


def write_markdown(doc: dict[str, Any], path: Path) -> Path:
    """Write the analysis as markdown tables and return the path."""
    lines = ["# Analysis", "", f"Data: {doc['data']['description']}", ""]
    lines += _table(
        ["variant", "CER", "errors", "broke", "fixed", "frame agreement", "robustness gap", "ECE"],
        [
            [
                r["variant"],
                _pct(r["cer"]),
                r["errors"] if r["errors"] is not None else "-",
                r["broke"] if r["broke"] is not None else "-",
                r["fixed"] if r["fixed"] is not None else "-",
                _pct(r["argmax_agreement"]),
                _pct(r["robustness_gap"]),
                _num(r["ece"]),
            ]
            for r in summary_rows(doc)
        ],
    )
    errors = doc.get("errors")
    if errors:
        lines += ["## Errors by kind", ""]
        lines += _table(
            ["variant", *ERROR_KINDS], [[v, *(e["kinds"][k] for k in ERROR_KINDS)] for v, e in errors.items()]
        )
        lines += ["## Top confusions (fp32)", ""]
        lines += _table(
            ["true", "read as", "count"],
            [[repr(c["label"]), repr(c["pred"]), c["count"]] for c in errors["fp32"]["confusions"]],
        )
        lines += ["## CER by character class", ""]
        classes = [row["class"] for row in errors["fp32"]["by_class"]]
        lines += _table(
            ["variant", *classes],
            [
                [v, *(_pct({r["class"]: r["cer"] for r in e["by_class"]}.get(c)) for c in classes)]
                for v, e in errors.items()
            ],
        )
    for variant, change in (doc.get("changes") or {}).items():
        lines += [f"## What {variant} changed", ""]
        lines += [
            f"{len(change['flips']['broke'])} lines broke, {len(change['flips']['fixed'])} fixed; frame argmax "
            f"agreement {_pct(change['argmax_agreement'])}, top-1 probability shift {_num(change['top1_prob_shift'], 4)}.",
            "",
        ]
        if change["flipped_lines"]:
            lines += _table(
                ["line", "label", "fp32", variant],
                [
                    [f["index"], repr(f["label"]), repr(f["fp32"]), repr(f["variant"])]
                    for f in change["flipped_lines"][:20]
                ],
            )
        if change["grown_confusions"]:
            lines += _table(
                ["true", "read as", "growth", "fp32", variant],
                [
                    [repr(c["label"]), repr(c["pred"]), c["count"], c["reference"], c["variant"]]
                    for c in change["grown_confusions"]
                ],
            )
    robustness = doc.get("robustness")
    if robustness:
        lines += [
            "## Robustness",
            "",
            f"CER at severities {robustness['severities']} on {robustness['lines']} lines.",
            "",
        ]
        for variant, by in robustness["curves"].items():
            lines += _table(
                [variant, *map(str, robustness["severities"])],
                [[n, *(_pct(v) for v in vals)] for n, vals in by.items()],
            )
    confidence = doc.get("confidence")
    if confidence:
        lines += ["## Confidence", ""]
        lines += _table(
            ["variant", "ECE", "MCE", "mean confidence", "EM", "CER at 80% kept"],
            [
                [
                    v,
                    _num(c["ece"]),
                    _num(c["mce"]),
                    _num(c["mean_confidence"]),
                    _pct(c["accuracy"]),
                    _pct(next((r["cer"] for r in c["rejection"] if abs(r["kept"] - 0.8) < 1e-9), None)),
                ]
                for v, c in confidence.items()
            ],
        )
    training = doc.get("training") or {}
    if training.get("checkpoints"):
        cp = training["checkpoints"]
        lines += ["## Best vs last checkpoint", ""]
        lines += _table(["checkpoint", "CER"], [[n, _pct(cp[n]["cer"])] for n in ("best", "last") if n in cp])
    if training.get("augmentations"):
        lines += ["## Augmentations alone (strongest setting)", ""]
        lines += _table(
            ["augmentation", "CER", "extra CER"],
            [[r["augmentation"], _pct(r["cer"]), _pct(r["extra_cer"])] for r in training["augmentations"]],
        )
    if doc.get("seconds"):
        lines += ["## Time by part", ""]
        lines += _table(["part", "seconds"], [[k, f"{v:.1f}"] for k, v in doc["seconds"].items()])
    lines += ["Figures: " + ", ".join(doc.get("figures", [])), ""]
    write_text_atomic(path, "\n".join(lines))
    return path
