"""Compression figures (matplotlib, Agg): accuracy vs size with the Pareto front, per-variant bars for
size / latency / CER, and per-layer sensitivity. Each function writes one PNG and returns its path."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from pipeline.core.result_row import VariantRow
from pipeline.reports.labels import place_labels


def pareto_front(points: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    """Points (size, cer, name) not dominated by a smaller-or-equal and at-most-as-wrong other point,
    sorted by size."""
    front = []
    for size, cer, name in sorted(points):
        if not front or cer < front[-1][1]:
            front.append((size, cer, name))
    return front


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _order(rows: dict[str, VariantRow]) -> list[str]:
    names = list(rows)
    return sorted(names, key=lambda n: (n != "fp32", n != "ort-fp32", names.index(n)))


def accuracy_vs_size(rows: dict[str, VariantRow], path: Path, *, title: str = "", ax=None) -> Path | None:
    """CER (%) against bytes on disk, one point per variant, the Pareto front as a line."""
    points = [(row.size_bytes / 1024, 100 * row.cer, name) for name, row in rows.items() if row.size_bytes]
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(7.5, 5), constrained_layout=True)
    for size, cer, name in points:
        flagged = rows[name].accuracy_guard == "exceeded"
        ax.scatter(size, cer, s=40, color="tab:red" if flagged else "tab:blue", zorder=3)
    front = pareto_front(points)
    if len(front) > 1:
        ax.plot(
            [p[0] for p in front],
            [p[1] for p in front],
            color="tab:green",
            lw=1.5,
            label="Pareto front",
            zorder=2,
        )
        ax.legend(loc="upper right")
    ax.set(
        xscale="log",
        xlabel="deployable file (KiB, log)",
        ylabel="test CER (%)",
        title=title or "accuracy vs size",
    )
    ax.grid(alpha=0.3, which="both")
    # labels last, once the limits and the legend are final: each goes where it overlaps nothing
    order = {name: index for index, name in enumerate(_order(rows))}
    place_labels(ax, sorted(points, key=lambda point: order[point[2]]), marker_pt=40**0.5)
    if own:
        return _save(fig, path)
    return None


def variant_bars(rows: dict[str, VariantRow], path: Path, *, title: str = "", axes=None) -> Path | None:
    """Three bar charts over the variants: size on disk, batch-1 p50 latency, CER."""
    names = _order(rows)
    own = axes is None
    if own:
        fig, axes = plt.subplots(
            3, 1, figsize=(max(7.0, 0.7 * len(names) + 2), 9), constrained_layout=True, sharex=True
        )
    specs = (
        ("size on disk (KiB)", lambda r: (r.size_bytes or 0) / 1024, "tab:blue"),
        ("p50 latency, batch 1 (ms)", lambda r: r.latency_ms_p50 or 0, "tab:orange"),
        ("test CER (%)", lambda r: 100 * r.cer, "tab:red"),
    )
    for ax, (label, value, color) in zip(axes, specs, strict=True):
        values = [value(rows[n]) for n in names]
        bars = ax.bar(range(len(names)), values, color=color)
        ax.bar_label(bars, fmt="%.3g", fontsize=7)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3, axis="y")
    for ax in axes:
        ax.set_xticks(
            range(len(names)), names if ax is axes[-1] else [""] * len(names), rotation=30, ha="right"
        )
    axes[0].set_title(title or "variants")
    if own:
        return _save(fig, path)
    return None


def sensitivity_bars(scan, path: Path, *, title: str = "", ax=None) -> Path | None:
    """CER rise and output KL when one layer at a time is quantized to low bits; chosen bits as colours."""
    layers = scan.layers
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(max(7.0, 0.45 * len(layers) + 2), 4.8), constrained_layout=True)
    colors = ["tab:green" if scan.chosen.get(s.name) == 4 else "tab:purple" for s in layers]
    ax.bar(range(len(layers)), [s.cer_delta_pp for s in layers], color=colors)
    ax.set_xticks(range(len(layers)), [s.name for s in layers], rotation=60, ha="right", fontsize=7)
    ax.set_ylabel(f"CER rise (pp), only this layer at {scan.scheme.label()}")
    twin = ax.twinx()
    twin.plot(range(len(layers)), [s.kl for s in layers], color="black", marker="o", lw=1, label="output KL")
    twin.set_ylabel("KL(FP32 || quantized) per frame")
    ax.set_title(f"{title or 'per-layer sensitivity'} (green: 4-bit, purple: 8-bit)")
    ax.grid(alpha=0.3, axis="y")
    if own:
        return _save(fig, path)
    return None
