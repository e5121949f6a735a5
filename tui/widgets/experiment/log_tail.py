"""The tail of an experiment's run log, appended to as the run writes it: follow or pause, search, wrap."""

from __future__ import annotations

import textwrap
from typing import Any

from textual.binding import Binding
from textual.widgets import Log

from tui.model.data import new_log_lines


class LogTail(Log):
    """A read-only log view that appends only lines it has not shown yet.

    f pauses or resumes following the end; / searches (n and N go to the next and previous match, and
    pause following so the match stays in view); w wraps long lines to the width.
    """

    BINDINGS = [
        Binding(
            "f", "toggle_follow", "Follow", id="log.follow", tooltip="Follow the end of the log, or pause"
        ),
        Binding("slash", "search", "Search", id="log.search", tooltip="Find text in the log"),
        Binding("n", "next_match(1)", "Next", id="log.next", tooltip="Next match of the search"),
        Binding("N", "next_match(-1)", "Previous", id="log.previous", tooltip="Previous match of the search"),
        Binding("w", "toggle_wrap", "Wrap", id="log.wrap", tooltip="Wrap long lines to the width"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_lines", 2000)
        kwargs.setdefault("auto_scroll", True)
        super().__init__(**kwargs)
        self.shown: list[str] = []
        self.raw: list[str] = []  # every line received (up to max_lines), before wrapping
        self.follow = True
        self.wrap = False
        self.query_text = ""
        self.match_index = -1
        self._wrapped_width = 0

    def on_mount(self) -> None:
        self._show_state()

    def show(self, tail: list[str]) -> None:
        """Bring the view up to ``tail`` (the last lines of the log file)."""
        fresh, rebuild = new_log_lines(self.shown, tail)
        if rebuild:
            self.clear()
            self.shown = []
            self.raw = []
        if fresh:
            self.raw = (self.raw + fresh)[-(self.max_lines or 2000) :]
            self.write_lines(self._wrapped(fresh))
            self.shown = (self.shown + fresh)[-len(tail) :] if tail else []

    def _wrapped(self, lines: list[str]) -> list[str]:
        if not self.wrap:
            return lines
        width = max(20, self.scrollable_content_region.width - 1)
        self._wrapped_width = width
        out: list[str] = []
        for line in lines:
            out.extend(textwrap.wrap(line, width, drop_whitespace=False, replace_whitespace=False) or [""])
        return out

    def _redraw(self) -> None:
        self.clear()
        self.write_lines(self._wrapped(self.raw))

    def on_resize(self) -> None:
        if self.wrap and self.scrollable_content_region.width - 1 != self._wrapped_width:
            self._redraw()

    def _show_state(self) -> None:
        parts = ["following" if self.follow else "paused (f follows)", "wrap" if self.wrap else "no wrap"]
        if self.query_text:
            matches = self._matches()
            where = f"{self.match_index + 1}/{len(matches)}" if matches else "no match"
            parts.append(f"/{self.query_text} {where}")
        self.border_title = " · ".join(parts)

    def action_toggle_follow(self) -> None:
        self.follow = not self.follow
        self.auto_scroll = self.follow
        if self.follow:
            self.scroll_end(animate=False)
        self._show_state()

    def action_toggle_wrap(self) -> None:
        self.wrap = not self.wrap
        self._redraw()
        self._show_state()

    def action_search(self) -> None:
        # The screen asks for the text (dialogs are screens, above widgets) and calls search().
        ask = getattr(self.screen, "ask_log_search", None)
        if ask is not None:
            ask(self.query_text)

    def search(self, text: str) -> None:
        """Find ``text`` (any case), go to the first match and pause following."""
        self.query_text = text.strip()
        self.match_index = -1
        if self.query_text:
            self.action_next_match(1)
        self._show_state()

    def _matches(self) -> list[int]:
        needle = self.query_text.lower()
        return [index for index, line in enumerate(self.lines) if needle and needle in line.lower()]

    def action_next_match(self, step: int) -> None:
        matches = self._matches()
        if not matches:
            self._show_state()
            return
        self.match_index = (self.match_index + step) % len(matches)
        self.follow = self.auto_scroll = False  # keep the match in view while lines arrive
        line = matches[self.match_index]
        self.scroll_to(y=max(0, line - self.scrollable_content_region.height // 2), animate=False)
        self._show_state()
