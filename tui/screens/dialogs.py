"""Modal dialogs that return a value: a yes/no confirmation, a one-line text prompt, a column chooser."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, SelectionList, Static

from tui.widgets.common.inputs import OcrqInput


class ColumnsDialog(ModalScreen[set[str] | None]):
    """Choose which columns a table shows; dismisses with the keys to hide, or ``None`` when cancelled.

    Args:
        columns: ``(key, label, shown)`` for every column that may be hidden.
    """

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="columns.cancel", tooltip="Close, change nothing"),
        # before the list's own enter (which would tick): space ticks, enter applies
        Binding(
            "enter", "apply", "Apply", id="columns.apply", tooltip="Show the ticked columns", priority=True
        ),
    ]

    def __init__(self, columns: list[tuple[str, str, bool]]) -> None:
        super().__init__()
        self.columns = columns

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Columns", classes="dialog-title")
            yield SelectionList[str](
                *((label, key, shown) for key, label, shown in self.columns), id="columns"
            )
            yield Static("space: tick or untick · enter: apply · escape: cancel", classes="dialog-keys")

    def on_mount(self) -> None:
        self.query_one(SelectionList).focus()

    def action_apply(self) -> None:
        shown = set(self.query_one(SelectionList).selected)
        self.dismiss({key for key, _, _ in self.columns if key not in shown})

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmDialog(ModalScreen[bool]):
    """Ask a yes/no question; dismisses with ``True`` only for an explicit yes."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes", tooltip="Confirm"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no", tooltip="Cancel, change nothing"),
    ]

    def __init__(self, title: str, message: str, *, yes: str = "Yes") -> None:
        super().__init__()
        self.title_text = title
        self.message = message
        self.yes = yes

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield Static(self.message, classes="dialog-body", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.yes} (y)", variant="error", id="yes", compact=True)
                yield Button("No (n)", id="no", compact=True)

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class TextPrompt(ModalScreen[str | None]):
    """Ask for one line of text; ``None`` when cancelled.

    Args:
        title: the question.
        help: a line explaining what to type.
        value: the initial text.
        validate: returns an error message for text that cannot be accepted, or ``None``.
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="prompt.cancel", tooltip="Close, change nothing")]

    def __init__(
        self, title: str, help: str = "", value: str = "", validate: Callable[[str], str | None] | None = None
    ) -> None:
        super().__init__()
        self.title_text = title
        self.help = help
        self.value = value
        self.validate = validate

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            if self.help:
                yield Static(self.help, classes="dialog-help", markup=False)
            yield OcrqInput(value=self.value, id="prompt-input", select_on_focus=False)
            yield Static("", id="prompt-error", classes="error-line")
            yield Static("enter: save · escape: cancel", classes="dialog-keys")

    def on_mount(self) -> None:
        self.query_one("#prompt-input", OcrqInput).focus()

    def on_input_changed(self, event: OcrqInput.Changed) -> None:
        error = self.validate(event.value) if self.validate else None
        self.query_one("#prompt-error", Static).update(Text(error or ""))

    def on_input_submitted(self, event: OcrqInput.Submitted) -> None:
        error = self.validate(event.value) if self.validate else None
        if error:
            self.query_one("#prompt-error", Static).update(Text(error))
            return
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
