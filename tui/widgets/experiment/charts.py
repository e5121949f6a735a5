"""Terminal charts of one experiment's training: loss (train and val) and CER/EM over epochs, one phase
at a time (baseline, then each finetune and QAT phase), the best epoch marked, loss on a log scale."""

from __future__ import annotations

import math
from typing import Any

from rich.console import Group
from rich.text import Text
from textual.binding import Binding
from textual.widget import Widget

from tui.model.plot import Series, line_chart


def phases_of(epochs: list[dict[str, Any]]) -> list[str]:
    """The phases in the order they trained (``baseline``, ``finetune:pruned``, ``qat:qat``)."""
    seen: list[str] = []
    for epoch in epochs:
        phase = epoch.get("phase") or "baseline"
        if phase not in seen:
            seen.append(phase)
    return seen


def _points(epochs: list[dict[str, Any]], key: str) -> list[tuple[float, float]]:
    points = []
    for epoch in epochs:
        x, y = epoch.get("epoch"), epoch.get(key)
        if isinstance(x, int | float) and isinstance(y, int | float) and not isinstance(y, bool):
            points.append((float(x), float(y)))
    return points


def best_epoch(epochs: list[dict[str, Any]]) -> float | None:
    """The epoch with the lowest finite CER (the one the run keeps), or None."""
    points = [(y, x) for x, y in _points(epochs, "cer") if math.isfinite(y)]
    return min(points)[1] if points else None


class TrainingCharts(Widget, can_focus=True):
    """Two braille line charts for one phase; p/P step through the phases, L toggles the log scale.

    Side by side when the widget is wide, stacked otherwise; redrawn at the widget's size.
    """

    DEFAULT_CSS = """
    TrainingCharts { height: 1fr; width: 1fr; }
    """
    BINDINGS = [
        Binding("p", "phase(1)", "Next phase", id="charts.next_phase", tooltip="Chart the next phase"),
        Binding(
            "P", "phase(-1)", "Previous phase", id="charts.previous_phase", tooltip="Chart the previous phase"
        ),
        Binding("L", "toggle_log", "Log loss", id="charts.log", tooltip="Loss on a log or linear scale"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.epochs: list[dict[str, Any]] = []
        self.phase: str | None = None  # None: the first phase (baseline) until one is chosen
        self.log_scale = False

    def show(self, epochs: list[dict[str, Any]]) -> None:
        self.epochs = list(epochs)
        phases = phases_of(self.epochs)
        if self.phase not in phases:
            self.phase = phases[0] if phases else None
        self.refresh()

    def action_phase(self, step: int) -> None:
        phases = phases_of(self.epochs)
        if not phases:
            return
        index = phases.index(self.phase) if self.phase in phases else 0
        self.phase = phases[(index + step) % len(phases)]
        self.refresh()

    def action_toggle_log(self) -> None:
        self.log_scale = not self.log_scale
        self.refresh()

    def _selector(self) -> Text:
        phases = phases_of(self.epochs)
        line = Text("phase ", style="dim")
        for phase in phases:
            if phase == self.phase:
                line.append(f"[{phase}]", style="bold reverse")
            else:
                line.append(f" {phase} ", style="dim")
            line.append(" ")
        if len(phases) > 1:
            line.append(" p/P: phase · L: log scale", style="dim")
        else:
            line.append(" L: log scale", style="dim")
        return line

    def render(self) -> Group:
        epochs = [e for e in self.epochs if (e.get("phase") or "baseline") == self.phase]
        width, height = max(20, self.size.width), max(7, self.size.height - 1)
        side_by_side = width >= 100
        chart_width = (width - 2) // 2 if side_by_side else width
        chart_height = height if side_by_side else max(3, (height - 1) // 2)
        best = best_epoch(epochs)
        loss = line_chart(
            [
                Series("train", "cyan", _points(epochs, "train_loss")),
                Series("val", "magenta", _points(epochs, "val_loss")),
            ],
            chart_width, chart_height, title="loss", y_format=lambda v: f"{v:.3g}", log_y=self.log_scale,
            mark_x=best,
        )  # fmt: skip
        accuracy = line_chart(
            [Series("CER", "yellow", _points(epochs, "cer")), Series("EM", "green", _points(epochs, "em"))],
            chart_width, chart_height, title="CER / EM", y_format=lambda v: f"{100 * v:.1f}%", mark_x=best,
        )  # fmt: skip
        if not side_by_side:
            return Group(self._selector(), loss, accuracy)
        rows = []
        left, right = loss.split("\n"), accuracy.split("\n")
        for index in range(max(len(left), len(right))):
            line = left[index].copy() if index < len(left) else Text("")
            line.pad_right(max(0, chart_width - line.cell_len) + 2)
            if index < len(right):
                line.append_text(right[index])
            rows.append(line)
        return Group(self._selector(), *rows)
