"""Line charts drawn with braille dots (2x4 dots per cell), as rich ``Text``: loss and CER over epochs.

Pure functions of the data and the size, so a chart is the same in every terminal and in snapshots.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rich.text import Text

# Braille dot bits by (column, row) inside one cell.
_DOTS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))
_BRAILLE = 0x2800


@dataclass(frozen=True)
class Series:
    """One line of a chart: its label, colour and (x, y) points (non-finite y values are skipped)."""

    label: str
    style: str
    points: Sequence[tuple[float, float]]


def _finite_points(series: Series) -> list[tuple[float, float]]:
    return [(x, y) for x, y in series.points if math.isfinite(x) and y is not None and math.isfinite(y)]


def _line(x0: int, y0: int, x1: int, y1: int) -> list[tuple[int, int]]:
    """Dots of a straight segment (Bresenham)."""
    dots = []
    dx, dy = abs(x1 - x0), -abs(y1 - y0)
    sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
    error = dx + dy
    while True:
        dots.append((x0, y0))
        if x0 == x1 and y0 == y1:
            return dots
        doubled = 2 * error
        if doubled >= dy:
            error += dy
            x0 += sx
        if doubled <= dx:
            error += dx
            y0 += sy


def line_chart(
    series: Sequence[Series],
    width: int,
    height: int,
    *,
    title: str = "",
    y_format: Callable[[float], str] = lambda v: f"{v:.3g}",
    x_label: str = "epoch",
) -> Text:
    """A chart of ``width`` x ``height`` cells: title and legend, y-axis labels, braille plot, x axis.

    Args:
        series: the lines; later ones are drawn over earlier ones where they cross.
        width: total width in cells (the plot gets what the axis labels leave).
        height: total height in lines (title and x axis take two).
        title: shown before the legend on the first line.
        y_format: how y-axis labels are written.
        x_label: the x axis name, shown after the last tick.
    """
    lines = [_finite_points(s) for s in series]
    header = Text(title, style="bold")
    for item in series:
        header.append("  ")
        header.append("━━", style=item.style)
        header.append(f" {item.label}")
    plot_rows = max(1, height - 2)
    all_points = [point for points in lines for point in points]
    if not all_points:
        body = header.copy()
        body.append("\n" + "\n".join(" " * width for _ in range(plot_rows)))
        body.append("\n" + "no epochs yet".center(width)[:width], style="dim")
        return body
    xs = [x for x, _ in all_points]
    ys = [y for _, y in all_points]
    x_low, x_high = min(xs), max(xs)
    y_low, y_high = min(ys), max(ys)
    if y_high == y_low:
        pad = abs(y_high) * 0.05 or 1.0
        y_low, y_high = y_low - pad, y_high + pad
    labels = [y_format(y_high), y_format((y_low + y_high) / 2), y_format(y_low)]
    axis_width = max(len(label) for label in labels) + 1
    plot_cols = max(2, width - axis_width - 1)
    dot_cols, dot_rows = plot_cols * 2, plot_rows * 4

    def to_dot(x: float, y: float) -> tuple[int, int]:
        col = 0 if x_high == x_low else round((x - x_low) / (x_high - x_low) * (dot_cols - 1))
        row = round((y_high - y) / (y_high - y_low) * (dot_rows - 1))
        return col, row

    cells = [[0] * plot_cols for _ in range(plot_rows)]
    styles: list[list[str | None]] = [[None] * plot_cols for _ in range(plot_rows)]
    for item, points in zip(series, lines, strict=True):
        dots = [to_dot(x, y) for x, y in points]
        path = (
            dots[:1]
            if len(dots) == 1
            else [d for a, b in zip(dots, dots[1:], strict=False) for d in _line(*a, *b)]
        )
        for col, row in path:
            cells[row // 4][col // 2] |= _DOTS[col % 2][row % 4]
            styles[row // 4][col // 2] = item.style
    label_rows = (
        {0: labels[0], plot_rows // 2: labels[1], plot_rows - 1: labels[2]}
        if plot_rows >= 3
        else {0: labels[0]}
    )
    out = header.copy()
    for row in range(plot_rows):
        out.append("\n" + label_rows.get(row, "").rjust(axis_width - 1) + " ┤", style="dim")
        for col in range(plot_cols):
            out.append(
                chr(_BRAILLE + cells[row][col]) if cells[row][col] else " ", style=styles[row][col] or ""
            )
    left, right = f"{x_low:g}", f"{x_high:g} {x_label}"
    gap = max(1, plot_cols - len(left) - len(right))
    out.append("\n" + " " * axis_width + "└" + left + " " * gap + right, style="dim")
    return out
