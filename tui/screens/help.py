"""The help screen: every key binding of every screen, generated from the bindings themselves."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

PALETTE_NOTE = (
    "ctrl+p opens the command palette. Commands are namespaced: 'run: open …', 'run: launch …', "
    "'run: stop …', 'compare: …', 'study: …', 'view: …'. Everything works without a mouse; runs "
    "started here keep running when the TUI closes or SSH drops."
)


def binding_table(title: str, bindings: list[Binding], key_display) -> Table:
    """A two-column table (keys, what they do) of the bindings that have a description."""
    table = Table(
        title=title, title_justify="left", title_style="bold", box=None, show_header=False, pad_edge=False
    )
    table.add_column("keys", style="bold cyan", no_wrap=True, min_width=14)
    table.add_column("action")
    for binding in bindings:
        if not binding.description:
            continue
        keys = " ".join(key_display(Binding(key.strip(), binding.action)) for key in binding.key.split(","))
        table.add_row(keys, binding.tooltip or binding.description)
    return table


class HelpScreen(ModalScreen[None]):
    """Key bindings by screen; closes with escape, q or F1."""

    BINDINGS = [
        Binding("escape,q,f1,question_mark", "close", "Close", id="help.close", tooltip="Close the help")
    ]

    def __init__(self, sections: list[tuple[str, list[Binding]]]) -> None:
        """`sections`: (title, bindings) pairs, handed in by the app so this screen imports no other screen."""
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog help"):
            yield Static(Text("ocrq keys", style="bold"))
            yield Static(Text(PALETTE_NOTE), classes="dialog-help")
            for title, bindings in self.sections:
                yield Static(binding_table(title, list(bindings), self.app.get_key_display))

    def action_close(self) -> None:
        self.dismiss(None)
