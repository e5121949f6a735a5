"""The experiments list: every experiment in the store, live, sortable, filterable, curated by keyboard."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, Label, Static

from tui.messages import ExperimentsLoaded
from tui.model.data import ExperimentsReader, ListQuery, parse_filter
from tui.model.format import summary_cells
from tui.model.launch import RESUMABLE
from tui.polling import PollingScreen
from tui.screens.dialogs import ColumnsDialog, ConfirmDialog
from tui.widgets.common.inputs import OcrqInput
from tui.widgets.common.keyed_table import Col, KeyedTable

# The figures come before template and model so that an 80-column terminal shows them; when the terminal
# is narrow, the columns of least value (model, created, template, tags) are hidden first.
COLUMNS = (
    Col("mark", " ", 0), Col("id", "id", 0), Col("name", "name", 0, max_width=28), Col("status", "status", 0),
    Col("best_cer", "CER", 1, numeric=True), Col("best_em", "EM", 2, numeric=True),
    Col("size_ratio", "size×", 2, numeric=True), Col("speedup", "speed×", 2, numeric=True),
    Col("progress", "progress", 3), Col("template", "template", 5), Col("model", "model", 7),
    Col("created", "created", 6), Col("tags", "tags", 4, max_width=30),
)  # fmt: skip
SORTABLE = [column.key for column in COLUMNS if column.key not in ("mark", "progress")]
LABELS = {column.key: column.label for column in COLUMNS}
# Sorting by these puts the best first: lowest CER, highest EM/ratios, newest.
DESCENDING_FIRST = {"best_em", "size_ratio", "speedup", "created"}


class ExperimentsTable(KeyedTable):
    """The experiments DataTable; enter opens the experiment under the cursor."""

    BINDINGS = [
        Binding("enter", "select_cursor", "Open", id="experiments.open", tooltip="Open the experiment"),
        Binding("g", "first_row", "First", show=False, id="experiments.first", tooltip="Go to the first row"),
        Binding("G", "last_row", "Last", show=False, id="experiments.last", tooltip="Go to the last row"),
    ]


class FilterInput(OcrqInput):
    """The `/` filter bar; enter returns to the table and keeps the filter, escape clears it."""

    BINDINGS = [
        Binding("escape", "clear", "Clear filter", id="filter.clear", tooltip="Clear the filter, go back")
    ]

    def action_clear(self) -> None:
        self.value = ""
        self.screen.leave_filter()


class ExperimentsScreen(PollingScreen):
    """Every experiment in the store, refreshed every 2 s while shown."""

    POLL_INTERVAL = 2.0
    BINDINGS = [
        Binding(
            "space", "mark", "Mark", id="experiments.mark", tooltip="Mark for comparison (again to unmark)"
        ),
        Binding(
            "f2", "choose_columns", "Columns", id="experiments.columns", tooltip="Choose the columns shown"
        ),
        Binding(
            "c", "compare", "Compare", id="experiments.compare", tooltip="Compare the marked experiments"
        ),
        Binding(
            "slash",
            "filter",
            "Filter",
            id="experiments.filter",
            tooltip="Filter: text, status:running, tag:x, template:y",
        ),
        Binding("s", "sort_next", "Sort", id="experiments.sort", tooltip="Sort by the next column"),
        Binding("S", "sort_reverse", "Reverse", id="experiments.reverse", tooltip="Reverse the sort order"),
        Binding("l", "launch", "Launch", id="experiments.launch", tooltip="Launch a new run"),
        Binding(
            "x", "stop", "Stop", id="experiments.stop", tooltip="Stop the running experiment under the cursor"
        ),
        Binding("t", "tag", "Tag", id="experiments.tag", tooltip="Add or remove tags"),
        Binding(
            "r", "clone", "Re-run", id="experiments.clone", tooltip="Clone the config into the launch form"
        ),
        Binding(
            "R",
            "resume",
            "Resume",
            id="experiments.resume",
            tooltip="Continue an interrupted or crashed run from its checkpoint",
        ),
        Binding("n", "note", "Note", id="experiments.note", tooltip="Edit the note"),
        Binding(
            "d,delete",
            "delete",
            "Delete",
            id="experiments.delete",
            tooltip="Soft-delete (asks first; u restores)",
        ),
        Binding(
            "a",
            "toggle_deleted",
            "Deleted",
            id="experiments.show_deleted",
            tooltip="Show or hide deleted experiments",
        ),
        Binding("u", "restore", "Restore", id="experiments.restore", tooltip="Restore a deleted experiment"),
        Binding(
            "escape",
            "clear_marks",
            "Unmark all",
            show=False,
            id="experiments.unmark",
            tooltip="Clear the marks",
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.query_state = ListQuery()
        self.marked: list[str] = []
        self.rows: dict[str, dict[str, Any]] = {}
        self.reader: ExperimentsReader | None = None
        self.loaded = False

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with Horizontal(id="filter-bar"):
            yield Label("/", id="filter-label")
            yield FilterInput(
                placeholder="text  status:running  tag:qat  template:smoke", id="filter-input", compact=True
            )
        yield Static("", id="filter-error", classes="error-line")
        yield ExperimentsTable(COLUMNS, id="experiments", fixed_columns=3)
        yield Static("", id="list-status", classes="status-line")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "experiments"
        self.reader = ExperimentsReader(self.app.store)
        self.app.experiments_screen = self
        self._show_sort()
        self.query_one(ExperimentsTable).focus()

    # -- reading ---------------------------------------------------------------------------------

    def read_store(self, force: bool) -> Message | None:
        snapshot = self.reader.read(self.query_state, force=force)
        return None if snapshot is None else ExperimentsLoaded(snapshot)

    def on_experiments_loaded(self, message: ExperimentsLoaded) -> None:
        snapshot = message.snapshot
        if snapshot.query != self.query_state:
            return  # a read for a filter the user has already changed
        self.rows = {row["id"]: row for row in snapshot.rows}
        self.marked = [exp_id for exp_id in self.marked if exp_id in self.rows]
        self._show_rows()
        self.loaded = True
        self._show_status()

    def _show_rows(self) -> None:
        marked = set(self.marked)
        rows = ((exp_id, (exp_id in marked, row)) for exp_id, row in self.rows.items())
        self.query_one(ExperimentsTable).sync(rows, cells=self._cells)

    @staticmethod
    def _cells(data: tuple[bool, dict[str, Any]]) -> tuple[Any, ...]:
        marked, row = data
        cells = summary_cells(row)
        mark = Text("●", style="bold magenta") if marked else Text(" ")
        return (mark, *(cells[column.key] for column in COLUMNS[1:]))

    def _show_status(self) -> None:
        running = sum(1 for row in self.rows.values() if row.get("status") == "running")
        parts = [f"{len(self.rows)} experiment{'s' if len(self.rows) != 1 else ''}"]
        if running:
            parts.append(f"{running} running")
        if self.marked:
            parts.append(f"{len(self.marked)} marked")
        arrow = "↓" if self.query_state.descending else "↑"
        parts.append(f"sorted by {LABELS[self.query_state.sort]} {arrow}")
        if self.query_state.include_deleted:
            parts.append("showing deleted")
        if not self.rows:
            filtered = any(
                (
                    self.query_state.text,
                    self.query_state.status,
                    self.query_state.tag,
                    self.query_state.template,
                )
            )
            parts.append(
                "nothing matches the filter" if filtered else "no experiments yet: press l to launch one"
            )
        self.query_one("#list-status", Static).update(Text(" · ".join(parts)))

    def _show_sort(self) -> None:
        table = self.query_one(ExperimentsTable)
        arrow = " ▼" if self.query_state.descending else " ▲"
        table.pinned = {self.query_state.sort}  # the sort column ranks with the figures
        for column in COLUMNS:
            table.set_label(column.key, column.label + (arrow if column.key == self.query_state.sort else ""))

    def _set_query(self, **changes: Any) -> None:
        values = {**self.query_state.__dict__, **changes}
        self.query_state = ListQuery(**values)
        self._show_sort()
        self._show_status()
        self.poll_now(force=True)

    # -- targets ---------------------------------------------------------------------------------

    def _cursor_id(self) -> str | None:
        return self.query_one(ExperimentsTable).cursor_key

    def _targets(self) -> list[str]:
        """The marked experiments, else the one under the cursor."""
        if self.marked:
            return list(self.marked)
        cursor = self._cursor_id()
        return [cursor] if cursor else []

    def _label(self, exp_id: str) -> str:
        row = self.rows.get(exp_id, {})
        return f"{exp_id[:8]} {row.get('name') or ''}".strip()

    # -- actions ---------------------------------------------------------------------------------

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.app.open_experiment(event.row_key.value)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        key = event.column_key.value
        if key in SORTABLE:
            if key == self.query_state.sort:
                self._set_query(descending=not self.query_state.descending)
            else:
                self._set_query(sort=key, descending=key in DESCENDING_FIRST)

    def action_mark(self) -> None:
        exp_id = self._cursor_id()
        if exp_id is None:
            return
        if exp_id in self.marked:
            self.marked.remove(exp_id)
        else:
            self.marked.append(exp_id)
        self._show_rows()  # the cursor stays: space again unmarks
        self._show_status()

    def action_choose_columns(self) -> None:
        table = self.query_one(ExperimentsTable)
        choices = [(c.key, c.label, c.key not in table.chosen_off) for c in COLUMNS if c.priority > 0]

        def apply(hidden: set[str] | None) -> None:
            if hidden is not None:
                table.chosen_off = hidden
                table.fit_columns()

        self.app.push_screen(ColumnsDialog(choices), apply)

    def action_clear_marks(self) -> None:
        if self.marked:
            self.marked.clear()
            self._show_rows()
            self._show_status()

    def action_compare(self) -> None:
        if len(self.marked) < 2:
            self.notify("mark two or more experiments with space, then press c", severity="warning")
            return
        self.app.compare(list(self.marked))

    def action_filter(self) -> None:
        self.query_one("#filter-bar").add_class("-active")
        self.query_one("#filter-input", OcrqInput).focus()

    def on_input_changed(self, event: OcrqInput.Changed) -> None:
        if event.input.id != "filter-input":
            return
        error_line = self.query_one("#filter-error", Static)
        try:
            found = parse_filter(event.value)
        except ValueError as error:
            error_line.update(Text(str(error)))
            error_line.add_class("-shown")
            return
        error_line.update("")
        error_line.remove_class("-shown")
        self._set_query(**found)

    def on_input_submitted(self, event: OcrqInput.Submitted) -> None:
        if event.input.id == "filter-input":
            self.leave_filter()

    def leave_filter(self) -> None:
        bar = self.query_one("#filter-bar")
        bar.set_class(bool(self.query_one("#filter-input", OcrqInput).value), "-active")
        self.query_one(ExperimentsTable).focus()

    def action_sort_next(self) -> None:
        index = SORTABLE.index(self.query_state.sort) if self.query_state.sort in SORTABLE else -1
        key = SORTABLE[(index + 1) % len(SORTABLE)]
        self._set_query(sort=key, descending=key in DESCENDING_FIRST)

    def action_sort_reverse(self) -> None:
        self._set_query(descending=not self.query_state.descending)

    def action_toggle_deleted(self) -> None:
        self._set_query(include_deleted=not self.query_state.include_deleted)

    def action_launch(self) -> None:
        self.app.launch()

    def action_stop(self) -> None:
        exp_id = self._cursor_id()
        if exp_id is not None:
            self.app.stop_experiment(exp_id, self.rows.get(exp_id, {}).get("status"))

    def action_clone(self) -> None:
        exp_id = self._cursor_id()
        if exp_id is not None:
            self.app.clone_experiment(exp_id)

    def action_resume(self) -> None:
        exp_id = self._cursor_id()
        if exp_id is None:
            return
        status = self.rows.get(exp_id, {}).get("status")
        if status not in RESUMABLE:
            self.notify(f"{self._label(exp_id)} is {status}; only {', '.join(RESUMABLE)} runs resume",
                        severity="warning")  # fmt: skip
            return
        self.app.resume_experiment(exp_id)

    def action_tag(self) -> None:
        targets = self._targets()
        if targets:
            current = (self.rows.get(targets[0], {}).get("tags") or []) if len(targets) == 1 else []
            label = self._label(targets[0]) if len(targets) == 1 else f"{len(targets)} experiments"
            self.app.edit_tags(targets, current, label)

    def action_note(self) -> None:
        exp_id = self._cursor_id()
        if exp_id is not None:
            self.app.edit_note(exp_id, self.rows.get(exp_id, {}).get("note") or "", self._label(exp_id))

    def action_delete(self) -> None:
        # The marked rows only when the cursor is on one of them: marks left from a compare, off-screen,
        # are never deleted by a d on another row.
        cursor = self._cursor_id()
        chosen = list(self.marked) if cursor in self.marked else ([cursor] if cursor else [])
        targets = [exp_id for exp_id in chosen if not self.rows.get(exp_id, {}).get("deleted")]
        if not targets:
            return
        running = [exp_id for exp_id in targets if self.rows.get(exp_id, {}).get("status") == "running"]
        if running:
            names = ", ".join(self._label(exp_id) for exp_id in running)
            self.notify(f"{names} is running: stop it first (x), then delete", severity="warning", timeout=6)
            return
        labels = [self._label(exp_id) for exp_id in targets]
        what = ", ".join(labels[:4]) + (f" and {len(labels) - 4} more" if len(labels) > 4 else "")

        def apply(yes: bool | None) -> None:
            if not yes:
                return
            store = self.app.store

            def write() -> str:
                for exp_id in targets:
                    store.soft_delete(exp_id)
                return f"deleted {what}; press a to show deleted ones, u to restore"

            self.marked = [exp_id for exp_id in self.marked if exp_id not in targets]
            self.run_action_in_thread(write, description="deleting")

        message = f"Delete {what}? It is hidden from listings; its files stay and u restores it."
        self.app.push_screen(ConfirmDialog("Delete", message, yes="Delete"), apply)

    def action_restore(self) -> None:
        targets = [exp_id for exp_id in self._targets() if self.rows.get(exp_id, {}).get("deleted")]
        if not targets:
            self.notify("nothing to restore here: press a to show deleted experiments", severity="warning")
            return
        store = self.app.store

        def write() -> str:
            for exp_id in targets:
                store.restore(exp_id)
            return f"restored {len(targets)} experiment{'s' if len(targets) != 1 else ''}"

        self.run_action_in_thread(write, description="restoring")
