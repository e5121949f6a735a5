"""Editing one config field of the launch form: CLI text checked as you type, or a pick list."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Label, OptionList, Static

from tui.model.fields import FormField
from tui.widgets.common.inputs import OcrqInput


class FieldEditor(ModalScreen[str | None]):
    """Edit one config field as CLI text, checked as you type with the same messages as `ocrq run`; a field
    with fixed choices (a schedule, a boolean) is a pick list.

    The check runs a moment after the last key, not on every key: typing is never interleaved with
    re-validating and re-laying out the dialog.

    Dismisses with the text, ``""`` to go back to the template's value, or ``None`` when cancelled.
    """

    CHECK_DELAY_S = 0.15

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="field.cancel", tooltip="Close, change nothing")]

    def __init__(
        self, field: FormField, text: str, template_text: str, check: Callable[[str], str | None]
    ) -> None:
        super().__init__()
        self.field = field
        self.text = text
        self.template_text = template_text
        self.check = check
        self._check_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        field = self.field
        with Vertical(classes="dialog"):
            yield Label(f"{field.flag}  ({field.section})", classes="dialog-title")
            yield Static(Text(field.help), classes="dialog-help")
            yield Static(
                Text(f"allowed: {field.allowed}\ntemplate value: {self.template_text}"), classes="dialog-help"
            )
            if field.choices:
                yield OptionList(*field.choices, id="field-choices")
                yield Static("enter: pick · escape: cancel", classes="dialog-keys")
                return
            yield OcrqInput(value=self.text, id="field-input", select_on_focus=False)
            yield Static("", id="field-error", classes="error-line")
            yield Static("enter: save · empty: template value · escape: cancel", classes="dialog-keys")

    def on_mount(self) -> None:
        if self.field.choices:
            choices = self.query_one(OptionList)
            if self.text in self.field.choices:
                choices.highlighted = self.field.choices.index(self.text)
            choices.focus()
            return
        self.query_one("#field-input", OcrqInput).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.field.choices[event.option_index])

    def on_input_changed(self, event: OcrqInput.Changed) -> None:
        if self._check_timer is not None:
            self._check_timer.stop()
        self._check_timer = self.set_timer(self.CHECK_DELAY_S, self._check_now)

    def _check_now(self) -> None:
        self._check_timer = None
        text = self.query_one("#field-input", OcrqInput).value.strip()
        self.query_one("#field-error", Static).update(Text(self.check(text) or ""))

    def on_input_submitted(self, event: OcrqInput.Submitted) -> None:
        text = event.value.strip()
        error = self.check(text)
        self.query_one("#field-error", Static).update(Text(error or ""))
        # A message about another field (a combination) does not stop this one from being saved.
        if error and self.field.key in error:
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)
