"""Point labels that never overlap: each label takes the first free spot around its point.

Variants often sit on top of each other (``fp32`` and ``ort-fp32`` have the same CER and nearly the same
size), so a fixed offset writes one name over the other. Candidates are tried nearest first, in eight
directions, at growing distances; a spot is free when the label's box stays inside the axes and meets
no other label, no marker and no legend. A label with no free spot takes the one it overlaps least.
"""

from __future__ import annotations

from matplotlib.transforms import Bbox

# (dx, dy) unit directions in points, right/up first (the usual reading position of a label)
_DIRECTIONS = ((1, 1), (1, -1), (-1, 1), (-1, -1), (1, 0), (-1, 0), (0, 1), (0, -1))
_DISTANCES = (4, 10, 18, 28, 40)


def place_labels(ax, points: list[tuple[float, float, str]], *, marker_pt: float = 7.0, fontsize: float = 8):
    """Annotate each ``(x, y, text)`` of ``ax`` where its label overlaps nothing drawn so far.

    Args:
        ax: the axes, with its points (and legend, if any) already drawn and its limits final.
        points: data coordinates and the label of each point, in priority order (first placed first).
        marker_pt: a marker's diameter in points (the box kept clear around every point).
        fontsize: the labels' font size.

    Returns:
        The annotations, in the order of ``points``.
    """
    figure = ax.figure
    figure.canvas.draw()  # settles the limits and the layout that the boxes below are measured in
    renderer = figure.canvas.get_renderer()
    to_pixels = figure.dpi / 72.0
    area = ax.get_window_extent(renderer)
    taken: list[Bbox] = [_marker_box(ax, x, y, marker_pt * to_pixels) for x, y, _ in points]
    legend = ax.get_legend()
    if legend is not None:
        taken.append(legend.get_window_extent(renderer))
    labels = []
    for index, (x, y, text) in enumerate(points):
        label = ax.annotate(text, (x, y), textcoords="offset points", xytext=(0, 0), fontsize=fontsize)
        others = [box for i, box in enumerate(taken) if i != index]  # its own marker may touch its label
        best, best_cost = None, None
        for distance in _DISTANCES:
            for dx, dy in _DIRECTIONS:
                _aim(label, dx, dy, distance)
                box = label.get_window_extent(renderer)
                cost = sum(_overlap(box, other) for other in others) + _outside(box, area)
                if best_cost is None or cost < best_cost:
                    best, best_cost = (dx, dy, distance), cost
                if cost == 0:
                    break
            if best_cost == 0:
                break
        _aim(label, *best)
        taken.append(label.get_window_extent(renderer))
        labels.append(label)
    return labels


def _aim(label, dx: int, dy: int, distance: float) -> None:
    label.xyann = (dx * distance, dy * distance)
    label.set_horizontalalignment({1: "left", -1: "right", 0: "center"}[dx])
    label.set_verticalalignment({1: "bottom", -1: "top", 0: "center"}[dy])


def _marker_box(ax, x: float, y: float, diameter_px: float) -> Bbox:
    cx, cy = ax.transData.transform((x, y))
    half = diameter_px / 2
    return Bbox.from_extents(cx - half, cy - half, cx + half, cy + half)


def _overlap(a: Bbox, b: Bbox) -> float:
    width = min(a.x1, b.x1) - max(a.x0, b.x0)
    height = min(a.y1, b.y1) - max(a.y0, b.y0)
    return width * height if width > 0 and height > 0 else 0.0


def _outside(box: Bbox, area: Bbox) -> float:
    return box.width * box.height - _overlap(box, area)
