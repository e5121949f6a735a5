"""The study form and the live Studies screen, driven with Pilot against a real store."""

from __future__ import annotations

import pytest

from store import Store
from tests.tui.conftest import wait_for
from tui.model import study_launch
from tui.screens.studies import StudiesScreen, TrialsTable
from tui.screens.study_launch import StudyLaunchScreen

pytestmark = pytest.mark.anyio


class _FakeProcess:
    pid = 4242


async def test_study_form_validates_like_the_cli_and_starts_detached(tmp_path, make_app, monkeypatch):
    started = []
    monkeypatch.setattr(
        study_launch, "start_detached", lambda argv, log, env=None: (started.append(argv), _FakeProcess())[1]
    )
    store = Store(tmp_path / "home")
    app = make_app(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("2")
        await wait_for(
            pilot, lambda: isinstance(app.screen, StudiesScreen) and app.screen.loaded, what="studies"
        )
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, StudyLaunchScreen), what="the study form")
        form = app.screen
        await pilot.press(*"night")
        form.query_one("#study-trials").value = "0"
        await pilot.press("ctrl+r")
        assert "--n-trials 0 is not allowed" in str(form.query_one("#study-error").render())
        assert started == [] and isinstance(app.screen, StudyLaunchScreen)
        form.query_one("#study-trials").value = "6"
        form.query_one("#study-jobs").value = "2"
        form.query_one("#study-method").value = "nsga2"
        await pilot.press("ctrl+r")
        await wait_for(
            pilot, lambda: isinstance(app.screen, StudiesScreen), what="back on the studies screen"
        )
    argv = started[0]
    assert argv[argv.index("study") :] == [
        "study", "run", "quickstart", "--method=nsga2", "--optimization-target=balanced", "--n-trials=6",
        "--jobs=2", "--study-name=night",
    ]  # fmt: skip


async def test_trials_arrive_live_with_intermediate_cer(tmp_path, make_app):
    store = Store(tmp_path / "home")
    study = store.create_study(
        name="live", directions=["maximize"], config={"objectives": ["balanced_score"]}
    )
    details = {"variant": "qat(qat_epochs=3)", "intermediate": [0.5]}
    store.record_trial(
        study["id"], number=0, state="running", params={"strategy": "qat"}, values=None, details=details
    )
    app = make_app(store)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("2")
        await wait_for(
            pilot, lambda: isinstance(app.screen, StudiesScreen) and app.screen.study, what="studies"
        )
        trials = app.screen.query_one(TrialsTable)
        await wait_for(pilot, lambda: trials.keys == ["0"], what="the running trial")
        assert "cer" in trials.column_keys and "variant" in trials.column_keys
        cer_column = trials.column_keys.index("cer")
        assert str(trials.cells_of("0")[cer_column]) == "50.00% @1"
        details = {**details, "intermediate": [0.5, 0.25]}
        store.record_trial(
            study["id"], number=0, state="running", params={"strategy": "qat"}, values=None, details=details
        )
        await wait_for(
            pilot,
            lambda: str(trials.cells_of("0")[cer_column]) == "25.00% @2",
            timeout=6,
            what="the next epoch",
        )
        store.record_trial(
            study["id"], number=0, state="complete", params={"strategy": "qat"}, values=[0.8], details=details
        )
        store.record_trial(
            study["id"],
            number=1,
            state="pruned",
            params={"strategy": "qat"},
            values=None,
            details={"intermediate": [0.9]},
        )
        await wait_for(pilot, lambda: trials.keys == ["0", "1"], timeout=6, what="the second trial")
        assert str(trials.cells_of("0")[1]) == "complete" and str(trials.cells_of("1")[1]) == "pruned"
        assert str(trials.cells_of("0")[2]) == "★"


@pytest.mark.slow
async def test_a_study_launched_from_the_tui_runs_and_its_trials_show_up(tmp_path, make_app):
    store = Store(tmp_path / "home")
    app = make_app(store)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("2")
        await wait_for(
            pilot, lambda: isinstance(app.screen, StudiesScreen) and app.screen.loaded, what="studies"
        )
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, StudyLaunchScreen), what="the study form")
        app.screen.query_one("#study-template").value = "smoke"
        app.screen.query_one("#study-trials").value = "1"
        app.screen.query_one("#study-dry").value = "yes"
        await pilot.press(*"tuistudy", "ctrl+r")
        await wait_for(
            pilot, lambda: isinstance(app.screen, StudiesScreen), what="back on the studies screen"
        )
        trials = app.screen.query_one(TrialsTable)
        await wait_for(
            pilot, lambda: trials.keys == ["0"] and str(trials.cells_of("0")[1]) == "complete", timeout=240,
            what="the study's trial to complete",
        )  # fmt: skip
        study = store.get_study("tuistudy")
        assert study["trials"][0]["experiment_id"]
    log = (store.home / "launches" / "study-tuistudy.log").read_text()
    assert "study tuistudy" in log
