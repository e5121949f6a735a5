"""The compare and studies screens, driven with Pilot against a real store."""

from __future__ import annotations

import pytest

from store import Store
from tests.tui.conftest import wait_for
from tests.tui.store_fixtures import IDS, STUDY_ID
from tui.screens.compare import CompareScreen, CompareTable
from tui.screens.experiment import ExperimentScreen
from tui.screens.studies import StudiesScreen, StudiesTable, TrialsTable
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


async def test_studies_and_trial_states_come_live_from_optuna(tmp_path, make_app):
    """A study shows as soon as the store has it, and its trials as Optuna has them: a state changed in the
    Optuna storage directly (no ocrq involved) shows, with no second copy to disagree."""
    import optuna

    from pipeline.study.storage import open_storage

    store = Store(tmp_path / "home")
    app = make_app(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")
        await wait_for(
            pilot, lambda: isinstance(app.screen, StudiesScreen) and app.screen.loaded, what="studies"
        )
        assert "No studies yet" in str(app.screen.query_one("#study-info").render())
        store.create_study(name="fresh", directions=["minimize"], config={}, study_id=STUDY_ID)
        storage = open_storage(str(store.home / "studies" / "fresh" / "optuna.journal"))
        study = optuna.create_study(study_name="fresh", storage=storage, direction="minimize")
        first, second = study.ask(), study.ask()
        first.suggest_float("lr", 0.001, 0.1)
        trials = app.screen.query_one(TrialsTable)
        await wait_for(pilot, lambda: trials.keys == ["0", "1"], timeout=6, what="the new study's trials")
        assert [str(trials.cells_of(k)[1]) for k in ("0", "1")] == ["running", "running"]
        study.tell(first, 0.2)
        study.tell(second, state=optuna.trial.TrialState.PRUNED)
        await wait_for(
            pilot, lambda: str(trials.cells_of("1")[1]) == "pruned", timeout=6, what="Optuna's new states"
        )
        assert str(trials.cells_of("0")[1]) == "complete" and str(trials.cells_of("0")[2]) == "★"
        assert "best trial: #0" in str(app.screen.query_one("#study-info").render())
        studies = app.screen.query_one(StudiesTable)
        assert str(studies.cells_of(STUDY_ID)[4]) == "2"  # the trial count, from Optuna too
