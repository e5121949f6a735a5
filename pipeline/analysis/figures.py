"""Figures of an analysis (matplotlib, Agg): one message a figure, the same colour per variant in every
figure. Each function writes one PNG and returns its path."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from pipeline.analysis.errors import ERROR_KINDS  # noqa: E402

_PALETTE = plt.get_cmap("tab10").colors


def _plain_text(function):
    """Draw labels as typed: "$41.23" is a price, not mathtext."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with plt.rc_context({"text.parse_math": False}):
            return function(*args, **kwargs)

    return wrapper


def variant_colors(names: Sequence[str]) -> dict[str, tuple]:
    """A colour per variant, stable across figures: the reference (first) is black."""
    colors = {names[0]: (0.1, 0.1, 0.1)} if names else {}
    for i, name in enumerate(names[1:]):
        colors[name] = _PALETTE[i % len(_PALETTE)]
    return colors


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


@_plain_text
def grouped_bars(
    values: dict[str, dict[str, float]],
    categories: Sequence[str],
    colors: dict[str, tuple],
    path: Path,
    *,
    title: str,
    ylabel: str,
    percent: bool = False,
) -> Path:
    """Bars per category, one per variant side by side; `values[variant][category]`."""
    names = list(values)
    width = 0.8 / max(1, len(names))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.5 * len(categories) * max(1, len(names)) ** 0.5 + 3), 4.2))
    x = np.arange(len(categories))
    for i, name in enumerate(names):
        heights = [values[name].get(c, 0.0) * (100 if percent else 1) for c in categories]
        ax.bar(x + (i - (len(names) - 1) / 2) * width, heights, width, color=colors[name], label=name)
    ax.set_xticks(
        x, categories, rotation=30 if max((len(c) for c in categories), default=0) > 6 else 0, ha="right"
    )
    ax.set(title=title, ylabel=ylabel)
    ax.legend(fontsize=8, ncols=min(4, len(names)))
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


@_plain_text
def error_kinds_figure(kinds: dict[str, dict[str, int]], colors, path: Path) -> Path:
    """The seven error kinds per variant."""
    values = {v: {k: float(n) for k, n in counts.items()} for v, counts in kinds.items()}
    return grouped_bars(values, ERROR_KINDS, colors, path, title="Errors by kind", ylabel="errors")


@_plain_text
def confusion_heatmap(pairs: list[dict[str, Any]], path: Path, *, title: str) -> Path | None:
    """Label characters (rows) read as predicted characters (columns), for the top pairs."""
    if not pairs:
        return None
    rows = list(dict.fromkeys(p["label"] for p in pairs))
    cols = list(dict.fromkeys(p["pred"] for p in pairs))
    grid = np.zeros((len(rows), len(cols)))
    for p in pairs:
        grid[rows.index(p["label"]), cols.index(p["pred"])] = p["count"]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.45 * len(cols) + 2), max(3.0, 0.4 * len(rows) + 1.5)))
    image = ax.imshow(grid, cmap="Reds")
    show = lambda c: repr(c)[1:-1] if c.strip() else "␣"  # noqa: E731
    ax.set_xticks(range(len(cols)), [show(c) for c in cols])
    ax.set_yticks(range(len(rows)), [show(c) for c in rows])
    for (r, c), n in np.ndenumerate(grid):
        if n:
            ax.text(
                c,
                r,
                int(n),
                ha="center",
                va="center",
                fontsize=8,
                color="black" if n < grid.max() * 0.6 else "white",
            )
    ax.set(xlabel="read as", ylabel="true character", title=title)
    fig.colorbar(image, ax=ax, shrink=0.8)
    fig.tight_layout()
    return _save(fig, path)


@_plain_text
def contact_sheet(
    images: Sequence[np.ndarray], captions: Sequence[str], path: Path, *, title: str, max_lines: int = 12
) -> Path | None:
    """Line images stacked with a caption under each (label / reference / variant)."""
    if not images:
        return None
    images, captions = images[:max_lines], captions[:max_lines]
    widest = max(i.shape[1] for i in images)
    fig, axes = plt.subplots(
        len(images), 1, figsize=(min(14.0, max(6.0, widest / 40)), 1.05 * len(images) + 0.6)
    )
    axes = np.atleast_1d(axes)
    for ax, image, caption in zip(axes, images, captions, strict=True):
        ax.imshow(
            image,
            cmap="gray",
            vmin=0,
            vmax=255,
            aspect="equal",
            extent=(0, image.shape[1], image.shape[0], 0),
        )
        ax.set_xlim(0, widest)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel(caption, fontsize=8, loc="left", family="monospace")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


@_plain_text
def alignment_figure(
    image: np.ndarray, views: dict[str, dict[str, Any]], texts: dict[str, str], label: str, path: Path, colors
) -> Path:
    """One line, a column per variant: the image with the frame-wise argmax under it, the top-k
    probabilities per frame, and the confidence curve; frames whose argmax differs from the first
    variant's are shaded red."""
    names = list(views)
    height, width = image.shape
    fig, axes = plt.subplots(
        3,
        len(names),
        figsize=(max(6.0, 5.5 * len(names)), 5.4),
        squeeze=False,
        gridspec_kw={"height_ratios": [1.2, 1.5, 1]},
    )
    reference = views[names[0]]["argmax"]
    for col, name in enumerate(names):
        view = views[name]
        frames = len(view["argmax"])
        x = (np.arange(frames) + 0.5) * width / max(1, frames)
        differs = [i for i in range(frames) if i < len(reference) and view["argmax"][i] != reference[i]]
        top = axes[0, col]
        top.imshow(image, cmap="gray", vmin=0, vmax=255, extent=(0, width, height, 0))
        for i, char in enumerate(view["argmax"]):
            if char != "·":
                top.text(
                    x[i],
                    height + 6,
                    char,
                    ha="center",
                    va="top",
                    fontsize=7,
                    color="red" if i in differs else "black",
                )
        top.set_ylim(height + 14, 0)
        top.set_xticks([])
        top.set_yticks([])
        ok = "ok" if texts[name] == label else "wrong"
        top.set_title(f"{name}: {texts[name]!r} ({ok})", fontsize=9, color=colors.get(name, "black"))
        heat = axes[1, col]
        chars = sorted({c for row in view["top_k"] for c in row[:3]})[:24]
        grid = np.zeros((len(chars), frames))
        for t, (row, probs) in enumerate(zip(view["top_k"], view["top_k_probs"], strict=True)):
            for c, p in zip(row, probs, strict=True):
                if c in chars:
                    grid[chars.index(c), t] = p
        heat.imshow(grid, aspect="auto", cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
        heat.set_yticks(range(len(chars)), chars, fontsize=6)
        heat.set_ylabel("top-k classes", fontsize=8)
        heat.set_xticks([])
        curve = axes[2, col]
        curve.plot(range(frames), view["confidence"], color=colors.get(name, "black"))
        for i in differs:
            curve.axvspan(i - 0.5, i + 0.5, color="red", alpha=0.2)
            heat.axvspan(i - 0.5, i + 0.5, color="red", alpha=0.25)
        curve.set(ylim=(0, 1.05), xlim=(-0.5, frames - 0.5), xlabel="frame", ylabel="top-1 prob")
    fig.suptitle(f"label {label!r}", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


@_plain_text
def robustness_figure(
    curves: dict[str, dict[str, list[float]]], severities: Sequence[int], colors, path: Path
) -> Path:
    """CER against severity, a panel per corruption, a line per variant."""
    corruptions = list(next(iter(curves.values())))
    fig, axes = plt.subplots(
        1, len(corruptions), figsize=(3.2 * len(corruptions), 3.4), sharey=True, squeeze=False
    )
    for ax, name in zip(axes[0], corruptions, strict=True):
        for variant, by in curves.items():
            ax.plot(
                severities,
                [100 * v for v in by[name]],
                marker="o",
                ms=3,
                color=colors[variant],
                label=variant,
            )
        ax.set(title=name.replace("_", " "), xlabel="severity", xticks=list(severities))
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("CER (%)")
    axes[0, -1].legend(fontsize=7)
    fig.suptitle("CER under corruption", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


@_plain_text
def reliability_figure(reports: dict[str, dict[str, Any]], colors, path: Path) -> Path:
    """Accuracy against mean confidence per bin, a line per variant, with the diagonal of perfect calibration."""
    fig, ax = plt.subplots(figsize=(5.2, 5))
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="calibrated")
    for variant, report in reports.items():
        bins = [b for b in report["reliability"] if b["lines"]]
        ax.plot(
            [b["confidence"] for b in bins],
            [b["accuracy"] for b in bins],
            marker="o",
            ms=3,
            color=colors[variant],
            label=f"{variant} (ECE {report['ece']:.3f})",
        )
    ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="confidence", ylabel="exact match", title="Reliability")
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


@_plain_text
def rejection_figure(reports: dict[str, dict[str, Any]], colors, path: Path) -> Path:
    """CER of the lines kept when the least confident are rejected, a line per variant."""
    fig, ax = plt.subplots(figsize=(5.6, 4))
    for variant, report in reports.items():
        rows = report["rejection"]
        ax.plot(
            [100 * r["kept"] for r in rows],
            [100 * r["cer"] for r in rows],
            color=colors[variant],
            label=variant,
        )
    ax.set(xlabel="lines kept (%)", ylabel="CER of kept lines (%)", title="Rejection curve")
    ax.invert_xaxis()
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


@_plain_text
def distribution_figure(values: dict[str, Sequence[float]], path: Path, *, title: str, xlabel: str) -> Path:
    """Histograms side by side (one panel per series), for comparing experiments."""
    names = list(values)
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3), sharey=True, squeeze=False)
    colors = variant_colors(names)
    for ax, name in zip(axes[0], names, strict=True):
        ax.hist(values[name], bins=20, range=(0, 1), color=colors[name])
        ax.set(title=name, xlabel=xlabel)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)
