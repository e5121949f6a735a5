"""The compare and studies screens, driven with Pilot against a real store."""

from __future__ import annotations

import pytest

from store import Store
from tests.tui.conftest import wait_for
from tests.tui.store_fixtures import IDS, STUDY_ID
from tui.screens.compare import CompareScreen, CompareTable
from tui.screens.experiment import ExperimentScreen
from tui.screens.studies import StudiesScreen, TrialsTable
from tui.widgets.experiment.variants_table import VariantsTable

pytestmark = pytest.mark.anyio


async def test_compare_shows_metrics_config_differences_and_variants(filled_store, make_app):
    app = make_app(filled_store)
    async with app.run_test(size=(100, 30)) as pilot:
        app.compare([IDS["baseline"], IDS["qat"], IDS["failed"]])
        await wait_for(
            pilot, lambda: isinstance(app.screen, CompareScreen) and app.screen.experiments, what="compare"
        )
        screen = app.screen
        metrics = screen.query_one("#metrics-table", CompareTable)
        assert metrics.column_keys == ["metric", IDS["baseline"], IDS["qat"], IDS["failed"]]
        assert [str(c) for c in metrics.cells_of("best val CER")] == [
            "best val CER",
            "8.10%",
            "9.40%",
            "90.00%",
        ]
        assert [str(c) for c in metrics.cells_of("status")] == ["status", "finished", "finished", "failed"]
        await pilot.press("c")
        config = screen.query_one("#config-table", CompareTable)
        changed = config.keys
        assert "train.learning_rate" in changed and "train.weight_decay" in changed
        assert "model.model" not in changed  # the same everywhere: hidden while only-changed is on
        await pilot.press("o")
        assert "model.model" in config.keys
        assert [str(c) for c in config.cells_of("train.weight_decay")][1:] == ["null", "0.02", "null"]
        await pilot.press("v")
        variants = screen.query_one(VariantsTable)
        assert f"{IDS['qat']}:qat" in variants.keys
        assert len(variants.keys) == 8  # the failed run has no variants


async def test_studies_list_trials_best_and_pareto_and_open_a_trial(filled_store, make_app):
    app = make_app(filled_store)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("2")
        await wait_for(
            pilot, lambda: isinstance(app.screen, StudiesScreen) and app.screen.study, what="studies"
        )
        screen = app.screen
        trials = screen.query_one(TrialsTable)
        assert trials.keys == ["0", "1", "2", "3"]
        assert "value:0" in trials.column_keys and "param:qat_epochs" in trials.column_keys
        marks = {key: str(trials.cells_of(key)[2]) for key in trials.keys}
        assert marks == {"0": "★", "1": "★", "2": "", "3": ""}  # trial 2 is dominated by trial 0
        assert "Pareto front: #0, #1" in str(screen.query_one("#study-info").render())
        await pilot.press("p")
        assert trials.keys == ["0", "1"]
        await pilot.press("p", "enter")  # from the studies table to the trials
        assert app.focused is trials
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ExperimentScreen), what="the trial's experiment")
        assert app.screen.exp_id == IDS["qat"]


async def test_studies_appear_as_soon_as_they_exist(tmp_path, make_app):
    store = Store(tmp_path / "home")
    app = make_app(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")
        await wait_for(
            pilot, lambda: isinstance(app.screen, StudiesScreen) and app.screen.loaded, what="studies"
        )
        assert "No studies yet" in str(app.screen.query_one("#study-info").render())
        study = store.create_study(name="fresh", directions=["minimize"], config={}, study_id=STUDY_ID)["id"]
        store.record_trial(study, number=0, state="complete", params={"lr": 0.01}, values=[0.2])
        store.record_trial(study, number=1, state="complete", params={"lr": 0.02}, values=[0.1])
        trials = app.screen.query_one(TrialsTable)
        await wait_for(pilot, lambda: trials.keys == ["0", "1"], timeout=6, what="the new study's trials")
        assert str(trials.cells_of("1")[2]) == "★" and "best trial: #1" in str(
            app.screen.query_one("#study-info").render()
        )
