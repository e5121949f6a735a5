"""accuracy_vs_size.png: every variant's name readable, none written over another, the marks or legend."""

from __future__ import annotations

import itertools

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from pipeline.core.result_row import VariantRow  # noqa: E402
from pipeline.reports.figures import accuracy_vs_size  # noqa: E402

# What a quickstart run measures: fp32 (.pt) and ort-fp32 (.onnx) have the same CER and nearly the
# same size, and the int8 variants crowd together too.
QUICKSTART = {
    "fp32": (0.0450, 1_640_000),
    "ort-fp32": (0.0450, 1_630_000),
    "ort-int8-dynamic": (0.0470, 441_000),
    "ort-int8-static": (0.0472, 430_000),
    "ptq": (0.0480, 452_000),
    "qat": (0.0460, 446_000),
    "pruned": (0.0520, 820_000),
    "distilled": (0.0610, 260_000),
}


def _rows(figures: dict[str, tuple[float, int]]) -> dict[str, VariantRow]:
    return {name: VariantRow(cer=cer, em=0.5, size_bytes=size) for name, (cer, size) in figures.items()}


def _label_boxes(ax):
    figure = ax.figure
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    return {text.get_text(): text.get_window_extent(renderer) for text in ax.texts}


@pytest.mark.parametrize("figures", [QUICKSTART, {"fp32": (0.1, 1000), "ort-fp32": (0.1, 1000)}])
def test_no_two_labels_overlap_and_all_stay_inside(figures, tmp_path):
    figure, ax = plt.subplots(figsize=(7.5, 5), constrained_layout=True)
    accuracy_vs_size(_rows(figures), tmp_path / "unused.png", ax=ax)
    boxes = _label_boxes(ax)
    assert set(boxes) == set(figures)
    for (a, box_a), (b, box_b) in itertools.combinations(boxes.items(), 2):
        assert not box_a.overlaps(box_b), f"{a} overlaps {b}"
    area = ax.get_window_extent(figure.canvas.get_renderer())
    legend = ax.get_legend()
    for name, box in boxes.items():
        assert area.x0 <= box.x0 and box.x1 <= area.x1 and area.y0 <= box.y0 and box.y1 <= area.y1, name
        if legend is not None:
            assert not box.overlaps(legend.get_window_extent(figure.canvas.get_renderer())), name
    plt.close(figure)


def test_the_written_png_is_the_figure(tmp_path):
    path = accuracy_vs_size(_rows(QUICKSTART), tmp_path / "accuracy_vs_size.png")
    assert path.is_file() and path.read_bytes().startswith(b"\x89PNG")
