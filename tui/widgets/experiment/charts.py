"""Terminal charts of one experiment's training: loss (train and val) and CER/EM over epochs."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.text import Text
from textual.widget import Widget

from tui.model.plot import Series, line_chart


def _current_phase(epochs: list[dict[str, Any]]) -> str | None:
    return (epochs[-1].get("phase") or "baseline") if epochs else None


def _points(epochs: list[dict[str, Any]], key: str) -> list[tuple[float, float]]:
    points = []
    for epoch in epochs:
        x, y = epoch.get("epoch"), epoch.get(key)
        if isinstance(x, int | float) and isinstance(y, int | float) and not isinstance(y, bool):
            points.append((float(x), float(y)))
    return points


class TrainingCharts(Widget):
    """Two braille line charts for the phase that trained last (baseline, then qat:..., finetune:...).

    Side by side when the widget is wide, stacked otherwise; redrawn at the widget's size.
    """

    DEFAULT_CSS = """
    TrainingCharts { height: 1fr; width: 1fr; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.epochs: list[dict[str, Any]] = []

    def show(self, epochs: list[dict[str, Any]]) -> None:
        self.epochs = list(epochs)
        self.refresh()

    def render(self) -> Group:
        phase = _current_phase(self.epochs)
        epochs = [e for e in self.epochs if (e.get("phase") or "baseline") == phase]
        suffix = f" ({phase})" if phase and phase != "baseline" else ""
        width, height = max(20, self.size.width), max(6, self.size.height)
        side_by_side = width >= 100
        chart_width = (width - 2) // 2 if side_by_side else width
        chart_height = height if side_by_side else max(3, (height - 1) // 2)
        loss = line_chart(
            [
                Series("train", "cyan", _points(epochs, "train_loss")),
                Series("val", "magenta", _points(epochs, "val_loss")),
            ],
            chart_width, chart_height, title="loss" + suffix, y_format=lambda v: f"{v:.3g}",
        )  # fmt: skip
        accuracy = line_chart(
            [Series("CER", "yellow", _points(epochs, "cer")), Series("EM", "green", _points(epochs, "em"))],
            chart_width, chart_height, title="CER / EM" + suffix, y_format=lambda v: f"{100 * v:.1f}%",
        )  # fmt: skip
        if not side_by_side:
            return Group(loss, Text(""), accuracy)
        rows = []
        left, right = loss.split("\n"), accuracy.split("\n")
        for index in range(max(len(left), len(right))):
            line = left[index].copy() if index < len(left) else Text("")
            line.pad_right(max(0, chart_width - line.cell_len) + 2)
            if index < len(right):
                line.append_text(right[index])
            rows.append(line)
        return Group(*rows)
