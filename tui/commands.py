"""The command palette (ctrl+p): namespaced commands for runs, comparisons, studies and views."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from pipeline.config import TEMPLATES

RECENT_EXPERIMENTS = 300


class OcrqCommands(Provider):
    """Commands like "run: open …", "run: stop …", "compare: marked experiments", "study: open …"."""

    async def startup(self) -> None:
        store = self.app.store
        self.experiments = (await asyncio.to_thread(store.list_experiments))[:RECENT_EXPERIMENTS]
        self.studies = await asyncio.to_thread(store.list_studies)

    def _static(self) -> list[tuple[str, Callable[[], object], str]]:
        app = self.app
        commands = [
            ("run: launch a new experiment", app.launch, "open the launch form"),
            ("view: experiments", partial(app.switch_mode, "experiments"), "the experiments list"),
            ("view: help", app.action_help, "every key binding"),
            (
                "compare: marked experiments",
                app.compare_marked,
                "mark rows with space in the experiments list",
            ),
            ("compare: clear marks", app.clear_marks, "unmark every experiment"),
            ("study: show studies", partial(app.switch_mode, "studies"), "studies and their trials"),
            (
                "study: launch a new study",
                partial(app.launch, None, "study"),
                "the launch form in study mode (ocrq study run)",
            ),
            (
                "run: import an ONNX recognizer",
                partial(app.launch, None, "import"),
                "the launch form in import mode (ocrq import)",
            ),
        ]
        for name, template in TEMPLATES.items():
            commands.append(
                (f"run: launch from template {name}", partial(app.launch, name), template.description)
            )
        return commands

    def _dynamic(self) -> list[tuple[str, Callable[[], object], str]]:
        app = self.app
        commands = []
        for row in self.experiments:
            label = f"{row.get('name')} ({row['id'][:8]}, {row.get('status')})"
            commands.append(
                (f"run: open {label}", partial(app.open_experiment, row["id"]), "open the experiment")
            )
            if row.get("status") == "running":
                commands.append(
                    (f"run: stop {label}", partial(app.stop_experiment, row["id"]), "interrupt, then kill")
                )
        for study in self.studies:
            label = f"{study.get('name')} ({study['id'][:8]})"
            commands.append((f"study: open {label}", partial(app.open_study, study["id"]), "show its trials"))
        return commands

    async def discover(self) -> Hits:
        for text, callback, help_text in self._static():
            yield DiscoveryHit(text, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, callback, help_text in self._static() + self._dynamic():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), callback, text=text, help=help_text)
