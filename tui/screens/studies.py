"""Optuna studies and their trials: parameters, objective values, best trials, the Pareto front."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, Static

from tui.messages import StudiesLoaded
from tui.model.format import fmt_fixed, fmt_num, fmt_time, status_text
from tui.model.launch import stop_study
from tui.model.studies import StudiesReader, StudyView
from tui.polling import PollingScreen
from tui.widgets.common.keyed_table import KeyedTable

STUDY_COLUMNS = (
    ("name", "study"), ("id", "id"), ("status", "status"), ("directions", "objectives"),
    ("trials", "trials"), ("created", "created"),
)  # fmt: skip
TRIAL_STATE_STYLES = {
    "complete": "green",
    "running": "cyan",
    "waiting": "dim",
    "pruned": "yellow",
    "fail": "red",
}


class StudiesTable(KeyedTable):
    """The studies DataTable; enter moves to the trials of the highlighted study."""

    BINDINGS = [
        Binding("enter", "select_cursor", "Trials", id="studies.trials", tooltip="Show this study's trials")
    ]


class TrialsTable(KeyedTable):
    """The trials DataTable; columns follow the study's parameters and objectives."""

    BINDINGS = [
        Binding(
            "enter", "select_cursor", "Open run", id="studies.open", tooltip="Open the trial's experiment"
        )
    ]

    def set_columns(self, columns: list[tuple[str, str]]) -> None:
        """Replace the columns (each study has its own parameters and objectives)."""
        if [key for key, _ in columns] != self.column_keys:
            self.reset()
            self.clear(columns=True)
            self.column_keys = [key for key, _ in columns]
            for key, label in columns:
                # a trial's state changes in place (running -> complete): size it for the longest state
                self.add_column(label, key=key, width=8 if key == "state" else None)


def _objective_labels(study: StudyView) -> list[str]:
    directions = study.directions or ["minimize"]
    names = study.objectives
    if len(names) == len(directions):
        return [
            f"{name} {'↓' if d == 'minimize' else '↑'}" for name, d in zip(names, directions, strict=True)
        ]
    if len(directions) == 1:
        return [f"value {'↓' if directions[0] == 'minimize' else '↑'}"]
    return [f"value {i} {'↓' if d == 'minimize' else '↑'}" for i, d in enumerate(directions)]


class StudiesScreen(PollingScreen):
    """Every study in the store and the trials of the highlighted one, refreshed every 2 s."""

    POLL_INTERVAL = 2.0
    BINDINGS = [
        Binding(
            "p",
            "pareto_only",
            "Pareto only",
            id="studies.pareto",
            tooltip="Show only the best / Pareto-front trials",
        ),
        Binding(
            "n", "new_study", "New study", id="studies.new", tooltip="Start an Optuna study (ocrq study run)"
        ),
        Binding(
            "s", "stop_study", "Stop study", id="studies.stop", tooltip="Stop the highlighted running study"
        ),
        Binding(
            "tab",
            "app.focus_next",
            "Next table",
            show=False,
            id="studies.next",
            tooltip="Move between the tables",
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.reader: StudiesReader | None = None
        self.selected_id: str | None = None
        self.study: StudyView | None = None
        self.pareto_only = False
        self.loaded = False

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield StudiesTable(STUDY_COLUMNS, id="studies-table")
        yield Static("", id="study-info", classes="status-line")
        yield TrialsTable((("number", "#"),), id="trials-table")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "studies"
        self.reader = StudiesReader(self.app.store)
        self.query_one(StudiesTable).focus()

    def read_store(self, force: bool) -> Message | None:
        snapshot = self.reader.read(self.selected_id, force=force)
        return None if snapshot is None else StudiesLoaded(snapshot)

    def on_studies_loaded(self, message: StudiesLoaded) -> None:
        snapshot = message.snapshot
        self.loaded = True
        rows = []
        for study in snapshot.studies:
            cells = (
                study.get("name") or "-",
                study["id"][:8],
                status_text(study.get("status")),
                ", ".join(study.get("directions") or []),
                _count(*snapshot.trial_counts.get(study["id"], (None, None))),
                fmt_time(study.get("created")),
            )
            rows.append((study["id"], cells))
        studies_table = self.query_one(StudiesTable)
        studies_table.sync(rows)
        pending = self.app.pending_study
        chosen = next((s["id"] for s in snapshot.studies if pending and s.get("name") == pending), None)
        if chosen is not None:  # a study this TUI just started has arrived: show it
            self.app.pending_study = None
            if chosen != (snapshot.selected.id if snapshot.selected else None):
                self.select_study(chosen)
        self.study = snapshot.selected
        if self.study is not None:
            self.selected_id = self.study.id
            if studies_table.cursor_key != self.selected_id and self.selected_id in studies_table.keys:
                studies_table.move_cursor(row=studies_table.keys.index(self.selected_id))
        self._show_trials()

    def _show_trials(self) -> None:
        info = self.query_one("#study-info", Static)
        table = self.query_one(TrialsTable)
        study = self.study
        if study is None:
            info.update(
                Text(
                    "No studies yet. Press n to start one, or run `ocrq study run`; it shows here as soon as it starts.",
                    style="dim",
                )
            )
            table.set_columns([("number", "#")])
            table.sync([])
            return
        trials = study.trials
        directions = study.directions or ["minimize"]
        best = set(study.best)
        params = sorted({key for trial in trials for key in (trial.get("params") or {})})
        objectives = _objective_labels(study)
        columns = [("number", "#"), ("state", "state"), ("best", "★")]
        columns += [(f"value:{i}", label) for i, label in enumerate(objectives)]
        has_variant = any(trial.get("variant") for trial in trials)
        has_cer = any(trial.get("intermediate_cer") for trial in trials)
        if has_variant:
            columns.append(("variant", "variant"))
        if has_cer:
            columns.append(("cer", "val CER"))
        columns += [(f"param:{p}", p) for p in params] + [("experiment", "experiment")]
        table.set_columns(columns)
        rows = []
        for trial in trials:
            number = trial["number"]
            if self.pareto_only and number not in best:
                continue
            values = trial.get("values") or []
            mark = "★" if number in best else ""
            cells = [
                str(number),
                Text(str(trial.get("state")), style=TRIAL_STATE_STYLES.get(str(trial.get("state")), "")),
                Text(mark, style="bold yellow"),
            ]
            cells += [fmt_fixed(values[i], 4) if i < len(values) else "-" for i in range(len(objectives))]
            if has_variant:
                cells.append(_clip(trial.get("variant") or "-", 40))
            if has_cer:
                cells.append(_intermediate(trial.get("intermediate_cer") or [], str(trial.get("state"))))
            cells += [_param(trial.get("params", {}).get(p)) for p in params]
            cells.append((trial.get("experiment_id") or "-")[:8])
            rows.append((str(number), cells))
        table.sync(rows)
        summary = Text()
        summary.append(f"{study.doc.get('name')}", style="bold")
        if study.error:
            summary.append(f" · {study.error}", style="red")
            info.update(summary)
            return
        summary.append(f" · {len(trials)} trials · {', '.join(directions)}")
        if best:
            label = "best trial" if len(directions) == 1 else "Pareto front"
            summary.append(f" · {label}: {', '.join(f'#{n}' for n in sorted(best))}", style="yellow")
        if self.pareto_only:
            summary.append(" · showing best only (p)", style="dim")
        info.update(summary)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if (
            event.data_table.id == "studies-table"
            and event.row_key.value
            and event.row_key.value != self.selected_id
        ):
            self.selected_id = event.row_key.value
            self.poll_now(force=True)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "studies-table":
            self.query_one(TrialsTable).focus()
            return
        if self.study is None or event.row_key.value is None:
            return
        number = int(event.row_key.value)
        trial = next((t for t in self.study.trials if t["number"] == number), None)
        if trial is None or not trial.get("experiment_id"):
            self.notify(f"trial #{number} has no experiment yet", severity="warning")
            return
        self.app.open_experiment(trial["experiment_id"])

    def select_study(self, study_id: str) -> None:
        """Show ``study_id``'s trials (used by the command palette)."""
        self.selected_id = study_id
        self.poll_now(force=True)

    def action_new_study(self) -> None:
        template = (self.study.doc.get("config") or {}).get("template") if self.study else None
        self.app.launch(template if isinstance(template, str) else None, kind="study")

    def action_stop_study(self) -> None:
        if self.study is None:
            self.notify("no study selected", severity="warning")
            return
        self._stop(dict(self.study.doc))

    @work(thread=True, exclusive=True, exit_on_error=False, group="study-stop")
    def _stop(self, study: dict[str, Any]) -> None:
        message = stop_study(self.app.store, study)
        self.app.call_from_thread(self.notify, message)
        self.app.call_from_thread(self.poll_now, True)

    def action_pareto_only(self) -> None:
        self.pareto_only = not self.pareto_only
        self._show_trials()


def _count(count: int | None, planned: int | None) -> str:
    """Trials in the study's storage over the trials it runs in all (``?``: storage unreadable)."""
    shown = "?" if count is None else str(count)
    return shown if planned is None else f"{shown}/{planned}"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _intermediate(cers: list[float], state: str) -> Text:
    """The last reported validation CER, with the epoch count; live (cyan) while the trial runs."""
    if not cers:
        return Text("-")
    return Text(f"{100 * cers[-1]:.2f}% @{len(cers)}", style="cyan" if state == "running" else "")


def _param(value: Any) -> str:
    if isinstance(value, float):
        return fmt_num(value, 5)
    return "-" if value is None else str(value)
