"""The launch form: a run (template, mode, name, tags, any config field), an Optuna study (template, method,
target, trials, jobs) or an ONNX import (file, data, height, ...); each starts detached."""

from __future__ import annotations

from functools import partial

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Label, Select, Static

from pipeline.config import MODES, TEMPLATES, ConfigError
from pipeline.config.import_options import NORMALIZE_CHOICES
from pipeline.config.study_options import METHODS, TARGET_WEIGHTS
from tui.model.fields import effective_values, form_field, form_fields, value_text
from tui.model.launch import (
    ImportRequest,
    LaunchRequest,
    StudyRequest,
    command_preview,
    launch_import,
    launch_run,
    launch_study,
    parse_tags,
)
from tui.screens.field_editor import FieldEditor
from tui.widgets.common.inputs import OcrqInput
from tui.widgets.common.keyed_table import Col, KeyedTable

__all__ = ["FieldEditor", "FieldsTable", "LaunchScreen"]

# The value always shows (long lists end in an ellipsis; the editor shows them whole); section goes first.
FIELD_COLUMNS = (
    Col("set", " ", 0), Col("field", "field", 0), Col("section", "section", 2), Col("value", "value", 0, max_width=22),
)  # fmt: skip


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


KINDS = (("run", "run"), ("study", "study"), ("import", "import"))
IMPORT_DESCRIPTION = (
    "import: an ONNX recognizer (CTC output, one image input) becomes an experiment with its ONNX Runtime "
    "variants measured"
)
KIND_TITLES = {
    "run": "launch a run",
    "study": "launch an Optuna study",
    "import": "import an ONNX recognizer",
}


class LaunchScreen(Screen):
    """Build an `ocrq run`, `ocrq study run` or `ocrq import`, validate it as the CLI would, start it detached.

    The launch selector switches between the three; run and study modes share the template and the config
    fields (a study trains its baseline with them), import mode asks for the ONNX file and its data.

    Args:
        template: the template to start from (default: the first one, usually quickstart).
        overrides: field overrides to start with (a cloned experiment's config), as CLI text.
        name: the name to start with.
        tags: the tags to start with.
        source: what the form was cloned from (shown in the title).
        kind: run, study or import.
    """

    BINDINGS = [
        Binding(
            "ctrl+r,f5",
            "launch",
            "Launch",
            id="launch.launch",
            tooltip="Validate and start the run, study or import",
        ),
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
        kind: str = "run",
        study_from: str = "",
    ) -> None:
        super().__init__()
        self.template = template if template in TEMPLATES else next(iter(TEMPLATES))
        self.overrides: dict[str, str] = dict(overrides or {})
        self.values: dict[str, object] = {}
        self.field_filter = ""
        self.last_command: str | None = None
        self.last_request: LaunchRequest | StudyRequest | ImportRequest | None = None
        self.initial_name = name
        self.initial_tags = " ".join(tags)
        self.source = source
        self.kind = kind if kind in KIND_TITLES else "run"
        self.study_from = study_from
        self.launched = False  # one launch per form: a second ctrl+r never starts a duplicate

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with Grid(id="launch-top", classes="launch-grid"):
            yield Label("launch", classes="form-label")
            yield Select(KINDS, value=self.kind, allow_blank=False, id="launch-kind", compact=True)
            yield Label("template", classes="form-label template-part")
            yield Select(
                [(name, name) for name in TEMPLATES],
                value=self.template,
                allow_blank=False,
                id="template",
                compact=True,
                classes="template-part",
            )
        with Grid(id="run-form", classes="launch-grid kind-form"):
            yield Label("mode", classes="form-label")
            modes = [("template's", "")] + [(mode, mode) for mode in MODES]
            yield Select(modes, value="", allow_blank=False, id="mode", compact=True)
            yield Label("name", classes="form-label")
            yield OcrqInput(value=self.initial_name, placeholder="(template-model)", id="name", compact=True)
            yield Label("tags", classes="form-label")
            yield OcrqInput(value=self.initial_tags, placeholder="space-separated", id="tags", compact=True)
        with Grid(id="study-form", classes="launch-grid kind-form"):
            yield Label("name", classes="form-label")
            yield OcrqInput(placeholder="letters, digits, _ . -", id="study-name", compact=True)
            yield Label("method", classes="form-label")
            yield Select([(m, m) for m in METHODS], value="bayesian", allow_blank=False, id="study-method",
                         compact=True)  # fmt: skip
            yield Label("trials", classes="form-label")
            yield OcrqInput(value="20", id="study-trials", compact=True)
            yield Label("target", classes="form-label")
            yield Select([(t, t) for t in TARGET_WEIGHTS], value="balanced", allow_blank=False,
                         id="study-target", compact=True)  # fmt: skip
            yield Label("jobs", classes="form-label")
            yield OcrqInput(value="1", id="study-jobs", compact=True)
            yield Label("dry run", classes="form-label")
            yield Select([("no", "no"), ("yes", "yes")], value="no", allow_blank=False, id="study-dry",
                         compact=True)  # fmt: skip
            yield Label("from", classes="form-label")
            yield OcrqInput(
                value=self.study_from, placeholder="(train a baseline)", id="study-from", compact=True
            )
        with Grid(id="import-form", classes="launch-grid kind-form"):
            yield Label("onnx", classes="form-label")
            yield OcrqInput(placeholder="path/to/model.onnx", id="import-model", compact=True)
            yield Label("data", classes="form-label")
            yield OcrqInput(value="synthetic", id="import-data", compact=True)
            yield Label("height", classes="form-label")
            yield OcrqInput(placeholder="(from the model)", id="import-height", compact=True)
            yield Label("norm", classes="form-label")
            yield Select([(n, n) for n in NORMALIZE_CHOICES], value="paddle", allow_blank=False,
                         id="import-normalize", compact=True)  # fmt: skip
            yield Label("name", classes="form-label")
            yield OcrqInput(placeholder="(import-FILE)", id="import-name", compact=True)
            yield Label("lines", classes="form-label")
            yield OcrqInput(placeholder="300", id="import-lines", compact=True)
            yield Label("variants", classes="form-label")
            yield OcrqInput(placeholder="(all four ort-int*)", id="import-variants", compact=True)
            yield Label("tags", classes="form-label")
            yield OcrqInput(placeholder="space-separated", id="import-tags", compact=True)
        yield Static("", id="template-description", classes="status-line")
        yield OcrqInput(placeholder="/ filter fields", id="field-filter", compact=True)
        yield FieldsTable(FIELD_COLUMNS, id="fields-table")
        yield Static("", id="field-help", classes="status-line")
        yield Static("", id="launch-error", classes="error-line")
        yield Static("", id="launch-command", classes="path-line")
        yield Footer()

    def on_mount(self) -> None:
        self._refresh_values()
        self._show_kind()

    def _show_kind(self) -> None:
        """Show the inputs of the chosen kind; import mode has no template or config fields."""
        for kind in KIND_TITLES:
            self.query_one(f"#{kind}-form").display = kind == self.kind
        fields = self.kind != "import"
        for widget in self.query(".template-part"):
            widget.display = fields
        for selector in ("#field-filter", "#fields-table", "#field-help"):
            self.query_one(selector).display = fields
        self._show_description()
        self.refresh_bindings()
        title = KIND_TITLES[self.kind]
        self.sub_title = f"{title} like {self.source}" if self.source and self.kind == "run" else title
        self.query_one("#launch-error", Static).update("")
        self._show_command()
        focus = {"run": "#fields-table", "study": "#study-name", "import": "#import-model"}[self.kind]
        self.query_one(focus).focus()

    # -- the form --------------------------------------------------------------------------------

    def _text(self, widget_id: str) -> str:
        return self.query_one(f"#{widget_id}", OcrqInput).value

    def _choice(self, widget_id: str) -> str:
        value = self.query_one(f"#{widget_id}", Select).value
        return value if isinstance(value, str) else ""

    def _request(self) -> LaunchRequest | StudyRequest | ImportRequest:
        if self.kind == "study":
            return StudyRequest(
                template=self.template, method=self._choice("study-method"), target=self._choice("study-target"),
                n_trials=self._text("study-trials"), jobs=self._text("study-jobs"), name=self._text("study-name"),
                dry_run=self._choice("study-dry") == "yes", overrides=dict(self.overrides),
                from_ref=self._text("study-from"),
            )  # fmt: skip
        if self.kind == "import":
            return ImportRequest(
                model=self._text("import-model"), data=self._text("import-data"),
                height=self._text("import-height"), name=self._text("import-name"),
                normalize=self._choice("import-normalize"), variants=self._text("import-variants"),
                lines=self._text("import-lines"), tags=parse_tags(self._text("import-tags")),
            )  # fmt: skip
        return LaunchRequest(
            template=self.template,
            overrides=dict(self.overrides),
            name=self._text("name"),
            mode=self._choice("mode"),
            tags=parse_tags(self._text("tags")),
        )

    def _refresh_values(self) -> None:
        error_line = self.query_one("#launch-error", Static)
        try:
            self.values = effective_values(self.template, self.overrides)
        except ConfigError as error:
            error_line.update(Text(str(error)))
        else:
            error_line.update("")
        self._show_description()
        self._show_fields()
        self._show_command()

    def _show_description(self) -> None:
        if self.kind == "import":
            text = IMPORT_DESCRIPTION
        elif self.kind == "study" and self._text("study-from").strip():
            # two lines at 60 columns: the command line below shows the rest
            text = (
                f"from {self._text('study-from').strip()}: every trial compresses its trained or imported model "
                "(template unused)"
            )
        else:
            changed = f" · {len(self.overrides)} changed (●)" if self.overrides else ""
            study = " (the study's baseline)" if self.kind == "study" else ""
            text = f"{self.template}{study}: {TEMPLATES[self.template].description}{changed}"
        self.query_one("#template-description", Static).update(Text(text))

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
        elif event.select.id == "launch-kind" and isinstance(event.value, str) and event.value != self.kind:
            self.kind = event.value
            self._show_kind()
        else:
            self._show_command()

    def on_input_changed(self, event: OcrqInput.Changed) -> None:
        if event.input.id == "field-filter":
            self.field_filter = event.value
            self._show_fields()
            table = self.query_one(FieldsTable)
            if table.row_count:  # enter then edits the best match, wherever the cursor was before
                table.move_cursor(row=0, animate=False)
        else:
            if event.input.id == "study-from":
                self._show_description()
            self._show_command()

    def on_input_submitted(self, event: OcrqInput.Submitted) -> None:
        if event.input.id == "field-filter":
            self.query_one(FieldsTable).focus()

    # -- actions ---------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """No field filter in import mode (an import has no config fields)."""
        return not (action == "filter" and self.kind == "import")

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
            if isinstance(request, StudyRequest):
                launched = launch_study(self.app.store, request)
            elif isinstance(request, ImportRequest):
                launched = launch_import(self.app.store.home, request)
            else:
                launched = launch_run(self.app.store.home, request)
        except ConfigError as error:
            self.query_one("#launch-error", Static).update(Text(str(error)))
            self.notify(str(error), title="not launched", severity="error", timeout=8)
            return
        self.launched = True
        self.last_request = request
        self.last_command = launched.command_line
        self.query_one("#launch-command", Static).update(Text(f"started: {launched.command_line}"))
        # What was started replaces the form: escape from it goes back to where the form was opened from.
        self.app.pop_screen()
        if launched.study is not None:
            self.notify(f"started study {launched.study} (pid {launched.pid}); output in {launched.log_path}")
            self.app.show_study(launched.study)
        elif launched.exp_id is None:
            self.notify(
                f"started the import (pid {launched.pid}); it shows in the list once the model is checked; "
                f"output in {launched.log_path}",
                timeout=8,
            )
        else:
            self.notify(
                f"started {launched.exp_id[:8]} (pid {launched.pid}); output in {launched.log_path}",
                timeout=6,
            )
            self.app.open_experiment(launched.exp_id, launched=launched)
