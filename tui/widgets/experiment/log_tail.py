"""The tail of an experiment's run log, appended to as the run writes it."""

from __future__ import annotations

from typing import Any

from textual.widgets import Log

from tui.model.data import new_log_lines


class LogTail(Log):
    """A read-only log view that appends only lines it has not shown yet."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_lines", 2000)
        kwargs.setdefault("auto_scroll", True)
        super().__init__(**kwargs)
        self.shown: list[str] = []

    def show(self, tail: list[str]) -> None:
        """Bring the view up to ``tail`` (the last lines of the log file)."""
        fresh, rebuild = new_log_lines(self.shown, tail)
        if rebuild:
            self.clear()
            self.shown = []
        if fresh:
            self.write_lines(fresh)
            self.shown = (self.shown + fresh)[-len(tail) :] if tail else []
