"""How stored figures are spelled in tables, so `ocrq show` and the TUI print the same text.

Plain strings only (no rich, no Textual): each interface styles the cells it wants to colour. Table
figures have fixed decimals per column (``3.0000`` above ``3.7600``) and both interfaces right-align them,
so a column's decimal points line up.
"""

from __future__ import annotations

import math
from typing import Any

VARIANT_COLUMNS = (
    "variant", "backend", "CER", "ΔCER pp", "EM", "1-NED", "bytes", "size×",
    "p50 ms", "p95 ms", "lines/s b16", "speed×", "cosine", "guard",
)  # fmt: skip
EPOCH_COLUMNS = ("phase", "epoch", "train loss", "val loss", "CER", "EM", "lr", "seconds")


def is_finite_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def fmt_pct(value: Any, digits: int = 2) -> str:
    """A fraction as a percentage (``0.0123`` -> ``1.23%``), or ``-`` when not measured."""
    return f"{100 * value:.{digits}f}%" if is_finite_number(value) else "-"


def fmt_num(value: Any, digits: int = 3) -> str:
    """A number with at most ``digits`` decimals (tiny values in ``g`` form), ``-`` when missing."""
    if not is_finite_number(value):
        return "-"
    if isinstance(value, float):
        if value != 0 and abs(value) < 1e-3:
            return f"{value:.{digits}g}"
        text = f"{value:.{digits}f}"
        # trailing zeros go only after a decimal point: 1240.0 at 0 digits is "1240", not "124"
        return text.rstrip("0").rstrip(".") if "." in text else text
    return str(value)


def fmt_fixed(value: Any, digits: int) -> str:
    """A number with exactly ``digits`` decimals (``3.7600``), ``-`` when missing: columns line up.

    A measured figure that is not zero but would read as zero at ``digits`` decimals is spelled in
    ``g`` form (``2.3e-05``) instead, so it never passes for zero.
    """
    if not is_finite_number(value):
        return "-"
    text = f"{float(value):.{digits}f}"
    if value != 0 and float(text) == 0:
        return f"{float(value):.2g}"
    return text


def fmt_bytes(size: Any) -> str:
    """A size in B / KiB / MiB / GiB."""
    if not is_finite_number(size):
        return "-"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def fmt_ratio(value: Any) -> str:
    """A ratio like ``3.91x``."""
    return f"{value:.2f}x" if is_finite_number(value) else "-"


def fmt_time(iso: Any) -> str:
    """An ISO-8601 UTC time as ``YYYY-MM-DD HH:MM``."""
    return iso.replace("T", " ")[:16] if isinstance(iso, str) and iso else "-"


def fmt_lr(value: Any) -> str:
    return f"{value:.2e}" if is_finite_number(value) else "-"


def fmt_seconds(value: Any) -> str:
    return f"{value:.1f}" if is_finite_number(value) else "-"


def epoch_cells(epoch: dict[str, Any]) -> tuple[str, ...]:
    """One row of the epoch table, in the order of ``EPOCH_COLUMNS``."""
    return (
        str(epoch.get("phase") or "baseline"),
        str(epoch.get("epoch", "-")),
        fmt_fixed(epoch.get("train_loss"), 4),
        fmt_fixed(epoch.get("val_loss"), 4),
        fmt_pct(epoch.get("cer")),
        fmt_pct(epoch.get("em"), 1),
        fmt_lr(epoch.get("lr")),
        fmt_seconds(epoch.get("seconds")),
    )


def ordered_variants(variants: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Variants in table order: fp32 first, then ort-fp32, then as recorded."""
    return sorted(variants, key=lambda v: (v.get("name") != "fp32", v.get("name") != "ort-fp32"))


def variant_cells(variant: dict[str, Any]) -> tuple[str, ...]:
    """One row of the variants comparison table, in the order of ``VARIANT_COLUMNS``."""
    fidelity = variant.get("fidelity") or {}
    delta = variant.get("cer_delta_pp")
    return (
        str(variant.get("name")),
        variant.get("backend") or "-",
        fmt_pct(variant.get("cer")),
        f"{delta:+.2f}" if is_finite_number(delta) else "-",
        fmt_pct(variant.get("em"), 1),
        fmt_fixed(variant.get("ned"), 4),
        fmt_bytes(variant.get("size_bytes")),
        fmt_ratio(variant.get("compression_ratio")),
        fmt_fixed(variant.get("latency_ms_p50"), 2),
        fmt_fixed(variant.get("latency_ms_p95"), 2),
        fmt_fixed(variant.get("throughput_lines_per_s_b16"), 0),
        fmt_ratio(variant.get("speedup")),
        fmt_fixed(fidelity.get("cosine"), 4),
        variant.get("accuracy_guard") or "-",
    )


ANATOMY_COLUMNS = ("variant", "main weights", "side tensors", "graph", "weights share", "size×", "bound×")


def anatomy_rows(variants: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    """Where each ONNX variant's bytes go, in the order of ``ANATOMY_COLUMNS`` (exact byte counts).

    The bound is the FP32 ONNX file over the variant's main weights alone: the size ratio it would reach
    if side tensors (scales, biases, norms) and the graph cost nothing.
    """
    reference = next((v.get("size_bytes") for v in variants if v.get("name") == "ort-fp32"), None)
    rows = []
    for variant in ordered_variants(variants):
        parts = variant.get("size_anatomy")
        if not isinstance(parts, dict) or not parts.get("file_bytes") or not parts.get("weights_bytes"):
            continue
        weights = parts["weights_bytes"]
        rows.append(
            (
                str(variant.get("name")),
                f"{weights:,}",
                f"{parts.get('side_bytes', 0):,}",
                f"{parts.get('graph_bytes', 0):,}",
                fmt_pct(weights / parts["file_bytes"], 1),
                fmt_ratio(variant.get("compression_ratio")),
                fmt_ratio(reference / weights) if is_finite_number(reference) else "-",
            )
        )
    return rows
