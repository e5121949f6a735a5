"""One experiment, live: header with stage and progress, epochs, charts, variants, artifacts, config, log."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Collapsible, Footer, Header, ProgressBar, Static, TabbedContent, TabPane

from tui.messages import ExperimentUpdated, OpenArtifact
from tui.model.artifacts import is_text, shown_path
from tui.model.data import ExperimentTail
from tui.model.format import fmt_time, status_text, value_text, wrap_items
from tui.model.launch import RESUMABLE, Launched, launch_log_tail, process_alive
from tui.model.preview import is_image
from tui.model.progress import describe, gpu_details
from tui.polling import PollingScreen
from tui.screens.artifact_view import FigureScreen, TextArtifactScreen
from tui.screens.dialogs import TextPrompt
from tui.widgets.experiment.analysis import show_analysis
from tui.widgets.experiment.artifacts import ArtifactsTable, ArtifactsView
from tui.widgets.experiment.charts import TrainingCharts
from tui.widgets.experiment.epoch_table import EpochTable
from tui.widgets.experiment.log_tail import LogTail
from tui.widgets.experiment.variants_table import BytesByKindTable, VariantsTable

TABS = ("epochs", "charts", "variants", "artifacts", "config", "log")


class ExperimentScreen(PollingScreen):
    """Everything about one experiment; a new epoch shows within a second of being recorded.

    Args:
        exp_id: the experiment's full id.
        launched: set when this TUI just started the run (the experiment may not exist yet).
    """

    POLL_INTERVAL = 0.5
    BINDINGS = [
        Binding(
            "escape,backspace", "back", "Back", id="experiment.back", tooltip="Back to the previous screen"
        ),
        Binding("e", "tab('epochs')", "Epochs", id="experiment.epochs", tooltip="The epoch table"),
        Binding("g", "tab('charts')", "Charts", id="experiment.charts", tooltip="Loss and CER charts"),
        Binding(
            "v", "tab('variants')", "Variants", id="experiment.variants", tooltip="The variants comparison"
        ),
        Binding(
            "a",
            "tab('artifacts')",
            "Artifacts",
            id="experiment.artifacts",
            tooltip="Files, figures, copy paths",
        ),
        Binding("c", "tab('config')", "Config", id="experiment.config", tooltip="The resolved config"),
        Binding("l", "tab('log')", "Log", id="experiment.log", tooltip="The run log"),
        Binding(
            "x", "stop", "Stop", id="experiment.stop", tooltip="Interrupt the run (kill after a grace period)"
        ),
        Binding("t", "tag", "Tag", id="experiment.tag", tooltip="Add or remove tags"),
        Binding(
            "r", "clone", "Re-run", id="experiment.clone", tooltip="Clone this config into the launch form"
        ),
        Binding(
            "R",
            "resume",
            "Resume",
            id="experiment.resume",
            tooltip="Continue an interrupted or crashed run from its checkpoint",
        ),
        Binding("n", "note", "Note", id="experiment.note", tooltip="Edit the note"),
        Binding(
            "S",
            "study",
            "Search",
            show=False,
            id="experiment.study",
            tooltip="Launch an Optuna study whose trials compress this experiment's model",
        ),
        Binding(
            "A",
            "analyze",
            "Analyse",
            show=False,
            id="experiment.analyze",
            tooltip="Run ocrq analyze on this finished experiment in the background",
        ),
    ]

    def __init__(self, exp_id: str, launched: Launched | None = None) -> None:
        super().__init__()
        self.exp_id = exp_id
        self.launched = launched
        self.document: dict[str, Any] | None = None
        self.epochs: list[dict[str, Any]] = []
        self.heartbeat: dict[str, Any] | None = None
        self.tail: ExperimentTail | None = None
        self._config_shown = False
        self._missing_polls = 0
        self._exit_shown = False

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield Static(Text(f"{self.exp_id}  loading…"), id="experiment-header")
        with Horizontal(id="progress-row"):
            yield Static("", id="stage-label")
            yield ProgressBar(total=100, show_eta=False, id="stage-progress")
        yield Static("", id="gpu-line")
        with TabbedContent(initial="epochs", id="experiment-tabs"):
            with TabPane("Epochs", id="epochs"):
                yield EpochTable(id="epoch-table")
            with TabPane("Charts", id="charts"):
                yield TrainingCharts(id="charts-view")
            with TabPane("Variants", id="variants"):
                yield VariantsTable(id="variants-table")
                yield BytesByKindTable(id="bytes-by-kind")
            with TabPane("Artifacts", id="artifacts"):
                yield ArtifactsView(id="artifacts-view")
            with TabPane("Config", id="config"):
                yield VerticalScroll(id="config-view")
            with TabPane("Log", id="log"):
                yield LogTail(id="log-view")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"experiment {self.exp_id[:8]}"
        self.tail = ExperimentTail(self.app.store, self.exp_id)
        self.query_one("#progress-row").display = False
        self.query_one(EpochTable).focus()

    # -- reading ---------------------------------------------------------------------------------

    def read_store(self, force: bool) -> Message | None:
        fast = self.tail.poll()
        if fast.missing or not (force or self.tail.document_due()):
            return ExperimentUpdated(fast)
        # New epochs go out before the slower full read (which parses the whole index).
        self.post_message(ExperimentUpdated(fast))
        return ExperimentUpdated(self.tail.read_document())

    def on_experiment_updated(self, message: ExperimentUpdated) -> None:
        update = message.update
        if update.missing:
            self._show_missing()
            return
        if update.document is not None:
            self.document = update.document
            self._show_document(update.document)
        if update.new_epochs:
            self.epochs[update.first_epoch :] = update.new_epochs
            self.query_one(EpochTable).show(self.epochs)
            self.query_one(TrainingCharts).show(self.epochs)
        beat_changed = update.heartbeat is not None and update.heartbeat != self.heartbeat
        if beat_changed:
            self.heartbeat = update.heartbeat
        if beat_changed or update.document is not None:
            self._show_progress()
        if update.log_lines is not None:
            self.query_one(LogTail).show(update.log_lines)

    def _show_missing(self) -> None:
        self._missing_polls += 1
        header = self.query_one("#experiment-header", Static)
        if self.launched is None:
            header.update(Text(f"{self.exp_id}: not in the store (deleted permanently?)", style="red"))
            return
        text = Text(f"{self.exp_id}  ", style="bold")
        if process_alive(self.launched.pid):
            text.append(f"starting (pid {self.launched.pid})…", style="cyan")
        else:
            text.append(
                "the run exited before it was recorded; its output is in the Log tab", style="bold red"
            )
            if self._missing_polls == 1 or self.query_one(TabbedContent).active != "log":
                self.query_one(TabbedContent).active = "log"
        text.append(f"\n$ {self.launched.command_line}", style="dim")
        header.update(text)
        if self._missing_polls % 2 == 1:  # the launch log changes slowly: read it every second
            self.query_one(LogTail).show(launch_log_tail(self.launched.log_path, 200))

    def on_resize(self) -> None:
        if self.document is not None:
            self._show_header(self.document)

    def _show_document(self, document: dict[str, Any]) -> None:
        self._show_header(document)
        self.sub_title = f"experiment {document['id'][:8]} {document.get('name') or ''}".strip()
        self.query_one(VariantsTable).show(document.get("variants", []))
        self.query_one(BytesByKindTable).show(document.get("variants", []))
        self.query_one(ArtifactsView).show(document.get("artifacts", []), base=document.get("dir"))
        show_analysis(self.query_one(TabbedContent), document.get("artifacts", []))
        if self.query_one(TabbedContent).active == "config":
            self._show_config()

    def _show_header(self, document: dict[str, Any]) -> None:
        """Name and status, then the details wrapped between items (never inside one) to the width."""
        header = Text()
        header.append(document["id"], style="bold")
        header.append(f"  {document.get('name') or ''}  ")
        header.append_text(status_text(document.get("status"), deleted=bool(document.get("deleted"))))
        details = [
            f"template {document.get('template')}",
            f"model {document.get('model')}",
            f"created {fmt_time(document.get('created'))}",
        ]
        if document.get("tags"):
            details.append("tags " + ",".join(document["tags"]))
        if document.get("study_id"):
            details.append(f"trial {document.get('trial_number')} of study {document['study_id'][:8]}")
        width = max(20, (self.size.width or self.app.size.width) - 2)
        header.append("\n" + "\n".join(wrap_items(details, width)), style="dim")
        if document.get("note"):
            header.append(f"\nnote: {document['note']}", style="italic")
        if document.get("error"):
            header.append(f"\nerror: {document['error']}", style="red")
        self.query_one("#experiment-header", Static).update(header)

    def _show_config(self) -> None:
        """Mount the config sections, once, when the Config tab is first shown (it costs a few widgets)."""
        config = (self.document or {}).get("config")
        if self._config_shown or not config:
            return
        self._config_shown = True
        view = self.query_one("#config-view", VerticalScroll)
        top = {k: v for k, v in config.items() if not isinstance(v, dict)}
        sections = {k: v for k, v in config.items() if isinstance(v, dict)}
        widgets = []
        if top:
            widgets.append(
                Static(
                    Text("\n".join(f"{k} = {value_text(v)}" for k, v in top.items())), classes="config-top"
                )
            )
        for name, values in sections.items():
            body = Text("\n".join(f"{k} = {value_text(v)}" for k, v in values.items()))
            widgets.append(Collapsible(Static(body), title=f"{name} ({len(values)})", collapsed=True))
        view.mount_all(widgets)

    def _show_progress(self) -> None:
        document = self.document or {}
        running = document.get("status") == "running"
        row = self.query_one("#progress-row")
        row.display = running
        gpu_line = self.query_one("#gpu-line", Static)
        gpu_items = gpu_details((self.heartbeat or {}).get("gpus")) if running else []
        gpu_line.display = bool(gpu_items)  # CPU runs: no line at all
        if gpu_items:
            width = max(20, (self.size.width or self.app.size.width) - 2)
            gpu_line.update(Text("\n".join(wrap_items(gpu_items, width))))
        if not running:
            return
        beat = self.heartbeat or {}
        progress = describe(document, beat, self.epochs, time.time())
        where = f" · pid {beat.get('pid') or document.get('pid')}"
        self.query_one("#stage-label", Static).update(Text(progress.text() + where))
        bar = self.query_one("#stage-progress", ProgressBar)
        # No bar when the amount of work is unknown: an indeterminate bar animates, costing CPU over SSH.
        bar.display = bool(progress.total and progress.completed is not None)
        if bar.display:
            bar.update(total=progress.total, progress=min(progress.completed, progress.total))

    # -- actions ---------------------------------------------------------------------------------

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        focus = {
            "epochs": EpochTable, "variants": VariantsTable, "artifacts": ArtifactsTable, "charts": TrainingCharts
        }.get(tab)  # fmt: skip
        if focus is not None:
            self.query_one(focus).focus()
        elif tab == "log":
            self.query_one(LogTail).focus()
        elif tab == "config":
            self._show_config()
            self.call_after_refresh(self._focus_config)

    def _focus_config(self) -> None:
        titles = self.query("#config-view CollapsibleTitle")
        if titles:
            titles.first().focus()

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "charts":
            self.query_one(TrainingCharts).refresh()
        elif event.pane.id == "config":
            self._show_config()

    def on_open_artifact(self, message: OpenArtifact) -> None:
        path = message.path
        shown = shown_path(Path(path), (self.document or {}).get("dir"))
        if not Path(path).exists():
            self.notify(f"{shown} is missing", severity="warning")
        elif is_image(path):
            self.app.push_screen(FigureScreen(path, shown, getattr(self.app, "graphics", None)))
        elif is_text(path):
            self.app.push_screen(TextArtifactScreen(path, shown))
        else:
            self.notify(f"{shown}: no viewer for this kind of file; y copies its path", timeout=4)

    def action_stop(self) -> None:
        status = self.document.get("status") if self.document else ("running" if self.launched else None)
        self.app.stop_experiment(self.exp_id, status)

    def ask_log_search(self, current: str) -> None:
        """Ask for the text to find in the log (the log view's / key)."""

        def apply(text: str | None) -> None:
            if text is not None:
                self.query_one(LogTail).search(text)

        self.app.push_screen(TextPrompt("Search the log", "text to find (any case)", current), apply)

    def action_clone(self) -> None:
        self.app.clone_experiment(self.exp_id)

    def action_resume(self) -> None:
        status = (self.document or {}).get("status")
        if status not in RESUMABLE:
            self.notify(f"this run is {status}; only {', '.join(RESUMABLE)} runs resume", severity="warning")
            return
        self.app.resume_experiment(self.exp_id)

    def action_study(self) -> None:
        document = self.document or {}
        if document.get("status") != "finished":
            self.notify(
                f"this run is {document.get('status')}; a study needs a finished baseline or import",
                severity="warning",
            )
            return
        self.app.study_experiment(self.exp_id)

    def action_analyze(self) -> None:
        document = self.document or {}
        if document.get("status") != "finished" or not document.get("variants"):
            self.notify(
                f"this run is {document.get('status')}; only a finished experiment can be analysed",
                severity="warning",
            )
            return
        self.app.analyze_experiment(self.exp_id)

    def action_tag(self) -> None:
        self.app.edit_tags([self.exp_id], (self.document or {}).get("tags") or [], self.exp_id[:8])

    def action_note(self) -> None:
        self.app.edit_note(self.exp_id, (self.document or {}).get("note") or "", self.exp_id[:8])
