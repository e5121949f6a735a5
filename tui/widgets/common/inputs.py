"""Text inputs that follow the app's cursor-blink setting (snapshot tests turn blinking off)."""

from __future__ import annotations

from textual.widgets import Input


class OcrqInput(Input):
    """An ``Input`` whose cursor blinks only when the app allows it."""

    def on_mount(self) -> None:
        self.cursor_blink = bool(getattr(self.app, "cursor_blink_enabled", True))
