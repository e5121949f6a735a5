"""The launch form: a template, a name, a mode, tags and any config field; starts `ocrq run` detached."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical
from textual.screen import ModalScreen, Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Header, Label, OptionList, Select, Static

from pipeline.config import MODES, TEMPLATES, ConfigError
from tui.model.fields import FormField, effective_values, form_field, form_fields, value_text
from tui.model.launch import LaunchRequest, command_preview, launch_run, parse_tags
from tui.widgets.common.inputs import OcrqInput
from tui.widgets.common.keyed_table import Col, KeyedTable

# The value always shows (long lists end in an ellipsis; the editor shows them whole); section goes first.
FIELD_COLUMNS = (
    Col("set", " ", 0), Col("field", "field", 0), Col("section", "section", 2), Col("value", "value", 0, max_width=22),
)  # fmt: skip


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


class FieldsTable(KeyedTable):
    """Every config field with its current value; enter edits, delete resets to the template's value."""

    BINDINGS = [
        Binding(
            "enter", "select_cursor", "Edit", id="launch.edit", tooltip="Edit the field under the cursor"
        ),
        Binding(
            "delete,backspace",
            "reset_field",
            "Reset",
            id="launch.reset",
            tooltip="Back to the template's value",
        ),
    ]

    def action_reset_field(self) -> None:
        self.screen.reset_field(self.cursor_key)


class LaunchScreen(Screen):
    """Build an `ocrq run` from a template and field overrides, validate it, start it detached.

    Args:
        template: the template to start from (default: the first one, usually quickstart).
        overrides: field overrides to start with (a cloned experiment's config), as CLI text.
        name: the name to start with.
        tags: the tags to start with.
        source: what the form was cloned from (shown in the title).
    """

    BINDINGS = [
        Binding("ctrl+r,f5", "launch", "Launch", id="launch.launch", tooltip="Validate and start the run"),
        Binding("escape", "back", "Back", id="launch.back", tooltip="Back without launching"),
        Binding(
            "slash", "filter", "Filter fields", id="launch.filter", tooltip="Show only fields matching a word"
        ),
    ]

    def __init__(
        self,
        template: str | None = None,
        *,
        overrides: dict[str, str] | None = None,
        name: str = "",
        tags: tuple[str, ...] = (),
        source: str | None = None,
    ) -> None:
        super().__init__()
        self.template = template if template in TEMPLATES else next(iter(TEMPLATES))
        self.overrides: dict[str, str] = dict(overrides or {})
        self.values: dict[str, object] = {}
        self.field_filter = ""
        self.last_command: str | None = None
        self.last_request: LaunchRequest | None = None
        self.initial_name = name
        self.initial_tags = " ".join(tags)
        self.source = source
        self.launched = False  # one launch per form: a second ctrl+r never starts a duplicate

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with Grid(id="launch-top"):
            yield Label("template", classes="form-label")
            yield Select(
                [(name, name) for name in TEMPLATES],
                value=self.template,
                allow_blank=False,
                id="template",
                compact=True,
            )
            yield Label("mode", classes="form-label")
            modes = [("template's", "")] + [(mode, mode) for mode in MODES]
            yield Select(modes, value="", allow_blank=False, id="mode", compact=True)
            yield Label("name", classes="form-label")
            yield OcrqInput(value=self.initial_name, placeholder="(template-model)", id="name", compact=True)
            yield Label("tags", classes="form-label")
            yield OcrqInput(value=self.initial_tags, placeholder="space-separated", id="tags", compact=True)
        yield Static("", id="template-description", classes="status-line")
        yield OcrqInput(placeholder="/ filter fields", id="field-filter", compact=True)
        yield FieldsTable(FIELD_COLUMNS, id="fields-table")
        yield Static("", id="field-help", classes="status-line")
        yield Static("", id="launch-error", classes="error-line")
        yield Static("", id="launch-command", classes="path-line")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"launch a run like {self.source}" if self.source else "launch a run"
        self._refresh_values()
        self.query_one(FieldsTable).focus()

    # -- the form --------------------------------------------------------------------------------

    def _request(self) -> LaunchRequest:
        mode = self.query_one("#mode", Select).value
        return LaunchRequest(
            template=self.template,
            overrides=dict(self.overrides),
            name=self.query_one("#name", OcrqInput).value,
            mode=mode if isinstance(mode, str) else "",
            tags=parse_tags(self.query_one("#tags", OcrqInput).value),
        )

    def _refresh_values(self) -> None:
        error_line = self.query_one("#launch-error", Static)
        try:
            self.values = effective_values(self.template, self.overrides)
        except ConfigError as error:
            error_line.update(Text(str(error)))
        else:
            error_line.update("")
        description = TEMPLATES[self.template].description
        changed = f" · {len(self.overrides)} changed (●)" if self.overrides else ""
        self.query_one("#template-description", Static).update(
            Text(f"{self.template}: {description}{changed}")
        )
        self._show_fields()
        self._show_command()

    def _show_command(self) -> None:
        """The exact command this form runs, as a user would type it."""
        if self.launched:
            return
        self.query_one("#launch-command", Static).update(Text(f"$ {command_preview(self._request())}"))

    def _show_fields(self) -> None:
        words = self.field_filter.lower().split()
        rows = []
        fields = list(form_fields())
        if words:  # fields whose name matches come first, then section and help matches
            fields = [f for f in fields if all(w in f"{f.key} {f.section} {f.help}".lower() for w in words)]
            fields.sort(key=lambda f: (not all(w in f.key for w in words), not f.key.startswith(words[0])))
        for field in fields:
            overridden = field.key in self.overrides
            shown = self.overrides[field.key] if overridden else value_text(self.values.get(field.key))
            style = "bold yellow" if overridden else ""
            cells = (
                Text("●" if overridden else " ", style=style),
                field.key,
                field.section,
                Text(shown, style=style),
            )
            rows.append((field.key, cells))
        self.query_one(FieldsTable).sync(rows)
        self._show_help(self.query_one(FieldsTable).cursor_key)

    def _show_help(self, key: str | None) -> None:
        line = self.query_one("#field-help", Static)
        if key is None:
            line.update(Text("no field matches the filter", style="dim"))
            return
        field = form_field(key)
        line.update(Text(f"{field.flag}: {field.help} [{field.allowed}]"))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_help(event.row_key.value)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        key = event.row_key.value
        if key is None:
            return
        field = form_field(key)
        current = self.overrides.get(key, value_text(self.values.get(key)))
        template_text = (
            value_text(self.values.get(key)) if key not in self.overrides else "(see the template)"
        )

        def apply(text: str | None) -> None:
            if text is None:
                return
            if text:
                self.overrides[key] = text
            else:
                self.overrides.pop(key, None)
            self._refresh_values()

        self.app.push_screen(
            FieldEditor(field, current, template_text, partial(self.check_value, key)), apply
        )

    def check_value(self, key: str, text: str) -> str | None:
        """The message `ocrq run` would print with ``key`` set to ``text`` (``""``: the template's value)."""
        overrides = {k: v for k, v in self.overrides.items() if k != key}
        if text:
            overrides[key] = text
        try:
            effective_values(self.template, overrides)
        except ConfigError as error:
            return str(error)
        return None

    def reset_field(self, key: str | None) -> None:
        if key is not None and self.overrides.pop(key, None) is not None:
            self._refresh_values()

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "template" and isinstance(event.value, str) and event.value != self.template:
            self.template = event.value
            self._refresh_values()
        elif event.select.id == "mode":
            self._show_command()

    def on_input_changed(self, event: OcrqInput.Changed) -> None:
        if event.input.id == "field-filter":
            self.field_filter = event.value
            self._show_fields()
            table = self.query_one(FieldsTable)
            if table.row_count:  # enter then edits the best match, wherever the cursor was before
                table.move_cursor(row=0, animate=False)
        elif event.input.id in ("name", "tags"):
            self._show_command()

    def on_input_submitted(self, event: OcrqInput.Submitted) -> None:
        if event.input.id == "field-filter":
            self.query_one(FieldsTable).focus()

    # -- actions ---------------------------------------------------------------------------------

    def action_filter(self) -> None:
        self.query_one("#field-filter", OcrqInput).focus()

    def action_back(self) -> None:
        if self.focused is not None and self.focused.id == "field-filter":
            self.query_one(FieldsTable).focus()
            return
        self.app.pop_screen()

    def action_launch(self) -> None:
        if self.launched:
            return
        request = self._request()
        try:
            launched = launch_run(self.app.store.home, request)
        except ConfigError as error:
            self.query_one("#launch-error", Static).update(Text(str(error)))
            self.notify(str(error), title="not launched", severity="error", timeout=8)
            return
        self.launched = True
        self.last_request = request
        self.last_command = launched.command_line
        self.query_one("#launch-command", Static).update(Text(f"started: {launched.command_line}"))
        self.notify(
            f"started {launched.exp_id[:8]} (pid {launched.pid}); output in {launched.log_path}", timeout=6
        )
        # The run replaces the form: escape from it goes back to where the form was opened from.
        self.app.pop_screen()
        self.app.open_experiment(launched.exp_id, launched=launched)
