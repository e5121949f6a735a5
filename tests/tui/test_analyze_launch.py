"""Starting `ocrq analyze` from the experiment screen: a detached process with the right command, and a
refusal for an experiment that has not finished."""

from __future__ import annotations

import pytest

from tests.tui.conftest import wait_for
from tests.tui.store_fixtures import IDS
from tui.model.launch import LAUNCH_DIR, analyze_run
from tui.screens.dialogs import ConfirmDialog
from tui.screens.experiment import ExperimentScreen

pytestmark = pytest.mark.anyio


def test_analyze_run_refuses_an_unfinished_experiment(filled_store):
    running = filled_store.get(IDS["running"])
    with pytest.raises(ValueError, match="only a finished experiment can be analysed"):
        analyze_run(filled_store.home, running)


async def test_shift_a_starts_a_detached_analysis_of_a_finished_experiment(filled_store, make_app):
    app = make_app(filled_store, open_ref=IDS["baseline"])
    log = filled_store.home / LAUNCH_DIR / f"{IDS['baseline']}-analyze.log"
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ExperimentScreen) and app.screen.document)
        await pilot.press("A")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="the confirmation")
        await pilot.press("y")
        await wait_for(pilot, log.is_file, timeout=10, what="the launch log")
    first_line = log.read_text(encoding="utf-8").splitlines()[0]
    assert first_line.startswith("$ ") and f"analyze {IDS['baseline']} -q" in first_line


async def test_shift_a_on_a_running_experiment_says_why_not(filled_store, make_app):
    app = make_app(filled_store, open_ref=IDS["running"])
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ExperimentScreen) and app.screen.document)
        await pilot.press("A")
        await pilot.pause()
        assert isinstance(app.screen, ExperimentScreen)  # no dialog
        assert any("only a finished experiment" in str(n.message) for n in app._notifications)
    assert not (filled_store.home / LAUNCH_DIR / f"{IDS['running']}-analyze.log").exists()
