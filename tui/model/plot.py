"""Line charts drawn with braille dots (2x4 dots per cell), as rich ``Text``: loss and CER over epochs.

Pure functions of the data and the size, so a chart is the same in every terminal and in snapshots.
Each series has a marker drawn at its data points as well as a colour, so lines stay apart without
colour (NO_COLOR, a grey-scale terminal); a log scale and a marked x position (the best epoch) are
options.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rich.text import Text

# Braille dot bits by (column, row) inside one cell.
_DOTS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))
_BRAILLE = 0x2800


MARKERS = ("●", "×", "◆", "+")


@dataclass(frozen=True)
class Series:
    """One line of a chart: its label, colour, (x, y) points (non-finite y values are skipped) and the
    marker drawn at each point (by default one per series position: ●, ×, ◆, +)."""

    label: str
    style: str
    points: Sequence[tuple[float, float]]
    marker: str | None = None


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
    log_y: bool = False,
    mark_x: float | None = None,
    mark_label: str = "best",
) -> Text:
    """A chart of ``width`` x ``height`` cells: title and legend, y-axis labels, braille plot, x axis.

    Args:
        series: the lines; later ones are drawn over earlier ones where they cross.
        width: total width in cells (the plot gets what the axis labels leave).
        height: total height in lines (title and x axis take two).
        title: shown before the legend on the first line.
        y_format: how y-axis labels are written.
        x_label: the x axis name, shown after the last tick.
        log_y: plot log10(y) (points at or below zero are skipped); labels stay in y's units.
        mark_x: draw a dotted vertical line at this x (the best epoch), named in the legend.
        mark_label: the legend's word for ``mark_x``.
    """
    lines = [_finite_points(s) for s in series]
    if log_y:
        lines = [[(x, math.log10(y)) for x, y in points if y > 0] for points in lines]
        shown_format = y_format
        y_format = lambda v: shown_format(10**v)  # noqa: E731
    markers = [item.marker or MARKERS[index % len(MARKERS)] for index, item in enumerate(series)]
    header = Text(title + (" (log)" if log_y else ""), style="bold")
    for item, marker in zip(series, markers, strict=True):
        header.append("  ")
        header.append(f"{marker}━", style=item.style)
        header.append(f" {item.label}")
    if mark_x is not None:
        header.append(f"  ┊ {mark_label} {mark_x:g}", style="bold")
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
    glyphs: list[list[str | None]] = [[None] * plot_cols for _ in range(plot_rows)]
    if mark_x is not None and x_low <= mark_x <= x_high:
        mark_col = to_dot(mark_x, y_low)[0] // 2
        for row in range(plot_rows):
            glyphs[row][mark_col], styles[row][mark_col] = "┊", "dim"
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
            if glyphs[row // 4][col // 2] == "┊":
                glyphs[row // 4][col // 2] = None
    # markers at the data points, over the lines, each series with its own
    for item, points, marker in zip(series, lines, markers, strict=True):
        for x, y in points:
            col, row = to_dot(x, y)
            glyphs[row // 4][col // 2], styles[row // 4][col // 2] = marker, item.style
    label_rows = (
        {0: labels[0], plot_rows // 2: labels[1], plot_rows - 1: labels[2]}
        if plot_rows >= 3
        else {0: labels[0]}
    )
    out = header.copy()
    for row in range(plot_rows):
        out.append("\n" + label_rows.get(row, "").rjust(axis_width - 1) + " ┤", style="dim")
        for col in range(plot_cols):
            glyph = glyphs[row][col] or (chr(_BRAILLE + cells[row][col]) if cells[row][col] else " ")
            out.append(glyph, style=styles[row][col] or "")
    left, right = f"{x_low:g}", f"{x_high:g} {x_label}"
    gap = max(1, plot_cols - len(left) - len(right))
    out.append("\n" + " " * axis_width + "└" + left + " " * gap + right, style="dim")
    return out
