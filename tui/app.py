"""`ocrq tui`: the Textual app that browses the store and launches and stops runs as separate processes.

Screens: experiments (mode 1), studies (mode 2), and pushed on top of them one experiment, a
comparison, the launch form and help. The app never trains: runs are `ocrq run` processes in their
own session, which survive the TUI and the SSH connection.
"""

from __future__ import annotations

import asyncio
import signal
from functools import partial
from pathlib import Path
from typing import Any

from textual.app import App
from textual.binding import Binding
from textual.worker import Worker, WorkerState

from store import Store, StoreError
from tui.commands import OcrqCommands
from tui.model.fields import clone_overrides
from tui.model.graphics import Graphics
from tui.model.launch import (
    GRACE_S,
    Launched,
    StopError,
    analyze_run,
    parse_tags,
    resume_run,
    stop_experiment,
)
from tui.polling import PollingScreen
from tui.screens.artifact_view import FigureScreen
from tui.screens.compare import CompareScreen
from tui.screens.dialogs import ConfirmDialog, TextPrompt
from tui.screens.experiment import ExperimentScreen
from tui.screens.experiments import ExperimentsScreen, ExperimentsTable
from tui.screens.help import HelpScreen
from tui.screens.launch import FieldsTable, LaunchScreen
from tui.screens.studies import StudiesScreen, StudiesTable, TrialsTable
from tui.widgets.common.inline_image import prepare_inline_images
from tui.widgets.common.keyed_table import KeyedTable
from tui.widgets.experiment.artifacts import ArtifactsTable
from tui.widgets.experiment.charts import TrainingCharts
from tui.widgets.experiment.log_tail import LogTail

ACTION_GROUP = "action"


class OcrqApp(App[None]):
    """The ocrq terminal UI.

    Args:
        store: the store to browse.
        open_ref: an experiment (id, prefix or name) to open at start.
        stop_grace_s: seconds between the interrupt and the kill when stopping a run.
        cursor_blink: whether text cursors blink (snapshot tests turn it off).
    """

    CSS_PATH = "ocrq.tcss"
    TITLE = "ocrq"
    COMMANDS = App.COMMANDS | {OcrqCommands}
    MODES = {"experiments": ExperimentsScreen, "studies": StudiesScreen}
    DEFAULT_MODE = "experiments"
    BINDINGS = [
        Binding("f1,question_mark", "help", "Help", id="app.help", tooltip="Every key binding"),
        Binding(
            "1",
            "switch_mode('experiments')",
            "Experiments",
            id="app.experiments",
            tooltip="The experiments list",
        ),
        Binding(
            "2", "switch_mode('studies')", "Studies", id="app.studies", tooltip="Optuna studies and trials"
        ),
        Binding("q", "quit", "Quit", id="app.quit", tooltip="Quit (launched runs keep running)"),
    ]

    def __init__(
        self,
        store: Store,
        *,
        open_ref: str | None = None,
        stop_grace_s: float = GRACE_S,
        cursor_blink: bool = True,
        graphics: Graphics | None = None,
    ) -> None:
        super().__init__()
        self.store = store
        # How figures are drawn: chosen before the app starts (run_tui), blocks when not told.
        self.graphics = graphics or Graphics("blocks", "blocks (graphics not detected)")
        self.open_ref = open_ref
        self.stop_grace_s = stop_grace_s
        self.cursor_blink_enabled = cursor_blink
        self.experiments_screen: ExperimentsScreen | None = None  # set by the screen when it mounts
        # A study this TUI just started: the Studies screen selects it as soon as the store has it.
        self.pending_study: str | None = None

    def on_mount(self) -> None:
        self.sub_title = str(self.store.home)
        if not self.is_headless:
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGHUP, signal.SIGTERM):  # the SSH session or terminal went away
                try:
                    loop.add_signal_handler(signum, self.exit)
                except (NotImplementedError, RuntimeError, ValueError):
                    pass
        if self.open_ref:
            self.run_store_action(self._resolve_and_open, self.open_ref, description="opening the experiment")

    def _resolve_and_open(self, ref: str) -> None:
        exp_id = self.store.resolve_id(ref)
        self.call_from_thread(self.open_experiment, exp_id)

    # -- navigation ------------------------------------------------------------------------------

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.help_sections()))

    def help_sections(self) -> list[tuple[str, list[Binding]]]:
        """Every screen's key bindings, by screen, for the help screen."""
        return [
            ("everywhere", list(self.BINDINGS)),
            ("tables", list(KeyedTable.BINDINGS)),
            ("experiments", [*ExperimentsTable.BINDINGS, *ExperimentsScreen.BINDINGS]),
            ("one experiment", [*ExperimentScreen.BINDINGS, *ArtifactsTable.BINDINGS]),
            ("charts", list(TrainingCharts.BINDINGS)),
            ("log", list(LogTail.BINDINGS)),
            ("figure and file views", list(FigureScreen.BINDINGS)),
            ("compare", list(CompareScreen.BINDINGS)),
            ("studies", [*StudiesTable.BINDINGS, *TrialsTable.BINDINGS, *StudiesScreen.BINDINGS]),
            ("launch", [*LaunchScreen.BINDINGS, *FieldsTable.BINDINGS]),
        ]

    def open_experiment(self, exp_id: str, launched: Launched | None = None) -> None:
        """Show one experiment (``launched`` when this TUI just started its run)."""
        self.push_screen(ExperimentScreen(exp_id, launched=launched))

    def compare(self, exp_ids: list[str]) -> None:
        """Show two or more experiments side by side."""
        self.push_screen(CompareScreen(exp_ids))

    def launch(self, template: str | None = None, kind: str = "run") -> None:
        """Open the launch form in ``kind`` mode (run, study or import), starting from ``template``."""
        self.push_screen(LaunchScreen(template, kind=kind))

    def show_study(self, name: str) -> None:
        """Show the Studies screen with the study ``name`` selected (once it is in the store)."""
        self.pending_study = name
        self.switch_mode("studies")

    def clone_experiment(self, exp_id: str) -> None:
        """Open the launch form filled with ``exp_id``'s template, changed fields and tags."""

        def read() -> None:
            document = self.store.get(exp_id)
            template, overrides = clone_overrides(document.get("config") or {})
            source = f"{document['id'][:8]} {document.get('name') or ''}".strip()
            form = LaunchScreen(
                template, overrides=overrides, tags=tuple(document.get("tags") or ()), source=source
            )
            self.call_from_thread(self.push_screen, form)

        self.run_store_action(read, description="reading the experiment's config")

    def study_experiment(self, exp_id: str) -> None:
        """Open the launch form in study mode with ``exp_id`` as the model every trial compresses."""
        self.push_screen(LaunchScreen(kind="study", study_from=exp_id))

    def resume_experiment(self, exp_id: str) -> None:
        """Ask, then continue an interrupted or crashed run from its last checkpoint (`ocrq run --resume`)."""

        def confirmed(yes: bool | None) -> None:
            if not yes:
                return

            def start() -> str:
                launched = resume_run(self.store.home, self.store.get(exp_id))
                self.call_from_thread(self.open_experiment, launched.exp_id, launched)
                return f"resuming {exp_id[:8]} (pid {launched.pid}); output in {launched.log_path}"

            self.run_store_action(start, description="resuming")

        message = f"Resume experiment {exp_id[:8]} from its last checkpoint (ocrq run --resume {exp_id})?"
        self.push_screen(ConfirmDialog("Resume run", message, yes="Resume"), confirmed)

    def analyze_experiment(self, exp_id: str) -> None:
        """Ask, then run `ocrq analyze` on a finished experiment in the background (detached, like runs)."""

        def confirmed(yes: bool | None) -> None:
            if not yes:
                return

            def start() -> str:
                launched = analyze_run(self.store.home, self.store.get(exp_id))
                return (
                    f"analysing {exp_id[:8]} (pid {launched.pid}); the Analysis tab appears when it is done; "
                    f"output in {launched.log_path}"
                )

            self.run_store_action(start, description="starting the analysis")

        message = (
            f"Analyse experiment {exp_id[:8]} (ocrq analyze {exp_id}): error kinds, what compression changed, "
            "alignments, robustness, confidence?"
        )
        self.push_screen(ConfirmDialog("Analyse", message, yes="Analyse"), confirmed)

    def compare_marked(self) -> None:
        screen = self.experiments_screen
        marked = list(screen.marked) if screen is not None else []
        if len(marked) < 2:
            self.notify("mark two or more experiments with space in the experiments list", severity="warning")
            return
        self.compare(marked)

    def clear_marks(self) -> None:
        screen = self.experiments_screen
        if screen is not None:
            screen.action_clear_marks()

    async def open_study(self, study_id: str) -> None:
        """Switch to the studies screen and show ``study_id``."""
        await self.switch_mode("studies")
        if isinstance(self.screen, StudiesScreen):
            self.screen.select_study(study_id)

    # -- actions on experiments ------------------------------------------------------------------

    def run_store_action(self, function, *args: Any, description: str = "") -> Worker:
        """Run a store write or a process action in a thread; its result (a message) or error is shown."""
        return self.run_worker(
            partial(function, *args),
            thread=True,
            exit_on_error=False,
            group=ACTION_GROUP,
            description=description,
        )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group != ACTION_GROUP or worker.node is not self:
            return
        if event.state == WorkerState.ERROR:
            error = worker.error
            known = isinstance(error, StoreError | StopError | ValueError)
            text = str(error) if known else f"{type(error).__name__}: {error}"
            self.notify(text, title=f"{worker.description or 'action'} failed", severity="error", timeout=10)
        elif event.state == WorkerState.SUCCESS:
            if isinstance(worker.result, str) and worker.result:
                self.notify(worker.result, timeout=6)
            if isinstance(self.screen, PollingScreen):
                self.screen.poll_now(force=True)

    def stop_experiment(self, exp_id: str, status: str | None = None) -> None:
        """Ask, then interrupt the run (SIGINT) and kill it if it is still alive after the grace period.

        Args:
            exp_id: the experiment to stop.
            status: its status when the caller knows it; a run that is not running is not asked about.
        """
        if status is not None and status != "running":
            self.notify(
                f"experiment {exp_id[:8]} is {status}; only a running experiment can be stopped",
                severity="warning",
            )
            return
        grace = self.stop_grace_s

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.notify(f"stopping {exp_id[:8]}: interrupt sent, kill after {grace:g} s", timeout=4)
                self.run_store_action(stop_experiment, self.store, exp_id, grace, description="stopping")

        message = (
            f"Stop experiment {exp_id[:8]}? It saves a checkpoint and ends as interrupted; "
            f"it is killed if still running after {grace:g} s."
        )
        self.push_screen(ConfirmDialog("Stop run", message, yes="Stop"), confirmed)

    def edit_tags(self, exp_ids: list[str], current: list[str], label: str) -> None:
        """Prompt for tags to add (``word``) and remove (``-word``) on each of ``exp_ids``."""
        help_text = "words to add; -word removes a tag" + (f" (now: {' '.join(current)})" if current else "")

        def apply(text: str | None) -> None:
            if not text:
                return
            words = parse_tags(text)
            add = [word for word in words if not word.startswith("-")]
            remove = [word[1:] for word in words if word.startswith("-") and len(word) > 1]

            def write() -> str:
                for exp_id in exp_ids:
                    self.store.tag(exp_id, add=add, remove=remove)
                return f"tags updated on {label}"

            self.run_store_action(write, description="tagging")

        self.push_screen(TextPrompt(f"Tags for {label}", help_text), apply)

    def edit_note(self, exp_id: str, note: str, label: str) -> None:
        """Prompt for the experiment's note (prefilled with the current one)."""

        def apply(text: str | None) -> None:
            if text is not None:
                self.run_store_action(self._save_note, exp_id, text, description="saving the note")

        self.push_screen(TextPrompt(f"Note for {label}", "free text; empty clears it", note), apply)

    def _save_note(self, exp_id: str, text: str) -> str:
        self.store.set_note(exp_id, text)
        return f"note saved for {exp_id[:8]}"


def run_tui(
    home: str | Path | None = None, open_ref: str | None = None, graphics: Graphics | None = None
) -> None:
    """Run the TUI on the store at ``home`` (default: ``$OCRQ_HOME`` or ``~/.ocrq``) until the user quits.

    Args:
        graphics: how figures are drawn (``tui.model.graphics.detect_graphics``); blocks when None.
    """
    if graphics is not None and graphics.protocol != "blocks":
        try:
            prepare_inline_images()  # must measure the terminal before Textual reads its input
        except Exception as error:  # noqa: BLE001 - an optional renderer that fails falls back to blocks
            graphics = Graphics("blocks", f"blocks ({graphics.protocol} unavailable: {error})")
    OcrqApp(Store(home), open_ref=open_ref, graphics=graphics).run()
