"""The study form: template, method, target, trials, jobs, name; starts `ocrq study run` detached."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, Select, Static

from pipeline.config import TEMPLATES, ConfigError
from pipeline.config.study_options import METHODS, TARGET_WEIGHTS
from tui.model.study_launch import LaunchedStudy, StudyRequest, launch_study
from tui.widgets.common.inputs import OcrqInput


class StudyLaunchScreen(ModalScreen[LaunchedStudy | None]):
    """Validate a study like `ocrq study run` would and start it; dismisses with what was started."""

    BINDINGS = [
        Binding(
            "ctrl+r,f5", "launch", "Start study", id="study.launch", tooltip="Validate and start the study"
        ),
        Binding("escape", "cancel", "Cancel", id="study.cancel", tooltip="Close, start nothing"),
    ]

    def __init__(self, template: str = "quickstart", name: str = "") -> None:
        super().__init__()
        self.template = template if template in TEMPLATES else next(iter(TEMPLATES))
        self.default_name = name

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("new Optuna study", classes="dialog-title")
            with Grid(classes="study-form"):
                yield Label("template", classes="form-label")
                yield Select(
                    [(t, t) for t in TEMPLATES],
                    value=self.template,
                    allow_blank=False,
                    id="study-template",
                    compact=True,
                )
                yield Label("method", classes="form-label")
                yield Select(
                    [(m, m) for m in METHODS],
                    value="bayesian",
                    allow_blank=False,
                    id="study-method",
                    compact=True,
                )
                yield Label("target", classes="form-label")
                yield Select(
                    [(t, t) for t in TARGET_WEIGHTS],
                    value="balanced",
                    allow_blank=False,
                    id="study-target",
                    compact=True,
                )
                yield Label("trials", classes="form-label")
                yield OcrqInput(value="20", id="study-trials", compact=True)
                yield Label("jobs", classes="form-label")
                yield OcrqInput(value="1", id="study-jobs", compact=True)
                yield Label("name", classes="form-label")
                yield OcrqInput(
                    value=self.default_name,
                    placeholder="letters, digits, _ . -",
                    id="study-name",
                    compact=True,
                )
                yield Label("dry run", classes="form-label")
                yield Select(
                    [("no", "no"), ("yes", "yes")],
                    value="no",
                    allow_blank=False,
                    id="study-dry",
                    compact=True,
                )
            yield Static("", id="study-error", classes="error-line")
            yield Static("ctrl+r: start · escape: cancel", classes="dialog-keys")
        # fmt: skip

    def on_mount(self) -> None:
        self.query_one("#study-name", OcrqInput).focus()

    def request(self) -> StudyRequest:
        def value(widget_id: str) -> str:
            return str(self.query_one(f"#{widget_id}", Select).value)

        return StudyRequest(
            template=value("study-template"),
            method=value("study-method"),
            target=value("study-target"),
            n_trials=self.query_one("#study-trials", OcrqInput).value,
            jobs=self.query_one("#study-jobs", OcrqInput).value,
            name=self.query_one("#study-name", OcrqInput).value,
            dry_run=value("study-dry") == "yes",
        )

    def action_launch(self) -> None:
        try:
            launched = launch_study(self.app.store, self.request())
        except ConfigError as error:
            self.query_one("#study-error", Static).update(Text(str(error)))
            return
        self.dismiss(launched)

    def action_cancel(self) -> None:
        self.dismiss(None)
