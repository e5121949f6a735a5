"""The help screen and the namespaced command palette."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from textual.command import CommandInput, CommandPalette
from textual.widgets import Static

from tests.tui.conftest import wait_for
from tests.tui.store_fixtures import IDS, STUDY_ID
from tui.screens.experiment import ExperimentScreen
from tui.screens.experiments import ExperimentsScreen
from tui.screens.help import HelpScreen
from tui.screens.launch import LaunchScreen
from tui.screens.studies import StudiesScreen

pytestmark = pytest.mark.anyio


async def _palette(pilot, query: str) -> None:
    await pilot.press("ctrl+p")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, CommandPalette), what="the palette")
    pilot.app.screen.query_one(CommandInput).value = query  # as typed, without a redraw per key
    await pilot.pause(0.4)  # the palette searches in the background
    await pilot.press("enter")


async def test_f1_lists_every_screen_s_keys_and_escape_closes(filled_store, make_app):
    app = make_app(filled_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        console = Console(width=120, record=True, file=io.StringIO())
        for static in app.screen.query(Static):
            console.print(static.content)
        text = " ".join(console.export_text().split())
        for expected in ("Soft-delete (asks first; u restores)", "Copy the path to the clipboard (OSC 52)",
                         "Show only config fields that differ", "Open the trial's experiment",
                         "Validate and start the run, study or import", "ctrl+p opens the command palette"):  # fmt: skip
            assert expected in text
        await pilot.press("escape")
        assert isinstance(app.screen, ExperimentsScreen)


async def test_palette_commands_are_namespaced_and_run(filled_store, make_app):
    app = make_app(filled_store)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: getattr(app.screen, "loaded", False), what="the list")
        await _palette(pilot, "open qat-int4")
        await wait_for(pilot, lambda: isinstance(app.screen, ExperimentScreen), what="the experiment")
        assert app.screen.exp_id == IDS["qat"]
        await pilot.press("escape")
        await _palette(pilot, "template smoke")
        await wait_for(pilot, lambda: isinstance(app.screen, LaunchScreen), what="the launch form")
        assert app.screen.template == "smoke"
        await pilot.press("escape")
        for query, kind in (("study: launch a new study", "study"), ("run: import an ONNX", "import")):
            await _palette(pilot, query)
            await wait_for(pilot, lambda: isinstance(app.screen, LaunchScreen), what="the launch form")
            assert app.screen.kind == kind
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, LaunchScreen), what="the form closed")
        await _palette(pilot, "study: open")
        await wait_for(pilot, lambda: isinstance(app.screen, StudiesScreen), what="the studies")
        assert app.screen.selected_id == STUDY_ID
