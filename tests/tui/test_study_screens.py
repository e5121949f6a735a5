"""The launch form's study and import modes and the live Studies screen, driven with Pilot against a real
store and real Optuna storages."""

from __future__ import annotations

import optuna
import pytest

from pipeline.study.storage import open_storage
from store import Store
from tests.tui.conftest import wait_for
from tui.model import launch
from tui.screens.experiment import ExperimentScreen
from tui.screens.launch import LaunchScreen
from tui.screens.studies import StudiesScreen, TrialsTable

pytestmark = pytest.mark.anyio
SIZES = [(80, 24), (60, 20)]


class _FakeProcess:
    pid = 4242


@pytest.fixture
def started(monkeypatch) -> list[list[str]]:
    """The argument lists the form started (the process itself is not run)."""
    argvs: list[list[str]] = []
    monkeypatch.setattr(
        launch, "start_detached", lambda argv, log, env=None: (argvs.append(argv), _FakeProcess())[1]
    )
    return argvs


def _error(form: LaunchScreen) -> str:
    return str(form.query_one("#launch-error").render())


@pytest.mark.parametrize("size", SIZES)
async def test_n_opens_the_launch_form_in_study_mode_validated_like_the_cli(
    tmp_path, make_app, started, size
):
    store = Store(tmp_path / "home")
    store.create_study(name="taken", directions=["maximize"], config={})
    app = make_app(store)
    async with app.run_test(size=size) as pilot:
        await pilot.press("2")
        await wait_for(
            pilot, lambda: isinstance(app.screen, StudiesScreen) and app.screen.loaded, what="studies"
        )
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, LaunchScreen), what="the launch form")
        form = app.screen
        assert form.kind == "study" and form.query_one("#study-form").display
        assert not form.query_one("#run-form").display and form.query_one("#fields-table").display
        assert app.focused is form.query_one("#study-name")
        await pilot.press(*"night")
        form.query_one("#study-trials").value = "0"
        await pilot.press("ctrl+r")
        assert "--n-trials 0 is not allowed; give 1 or more" in _error(form)
        form.query_one("#study-trials").value = "six"
        await pilot.press("ctrl+r")
        assert "--n-trials 'six' is not a whole number" in _error(form)
        form.query_one("#study-trials").value = "6"
        form.query_one("#study-jobs").value = "65"
        await pilot.press("ctrl+r")
        assert "--jobs 65 is not allowed; give 1..64" in _error(form)
        form.query_one("#study-jobs").value = "2"
        form.query_one("#study-name").value = "taken"
        await pilot.press("ctrl+r")
        assert "--study-name 'taken' is taken" in _error(form)
        form.query_one("#study-name").value = "a/b"
        await pilot.press("ctrl+r")
        assert "--study-name 'a/b' is not allowed; use up to 80 letters, digits, _ . -" in _error(form)
        form.overrides["qat_epochs"] = "-1"  # a config field the baseline would refuse
        form.query_one("#study-name").value = "night"
        await pilot.press("ctrl+r")
        assert "qat_epochs" in _error(form) and started == []
        form.overrides["qat_epochs"] = "2"
        form.query_one("#study-method").value = "nsga2"
        await pilot.pause()
        assert "ocrq study run quickstart --method=nsga2" in str(form.query_one("#launch-command").render())
        await pilot.press("ctrl+r")
        await wait_for(
            pilot, lambda: isinstance(app.screen, StudiesScreen), what="back on the studies screen"
        )
        assert app.pending_study == "night"  # selected as soon as its process records it
    argv = started[0]
    assert argv[argv.index("study") :] == [
        "study", "run", "quickstart", "--method=nsga2", "--optimization-target=balanced", "--n-trials=6",
        "--jobs=2", "--study-name=night", "--qat-epochs=2",
    ]  # fmt: skip


@pytest.mark.parametrize("size", SIZES)
async def test_capital_s_on_an_import_launches_a_study_over_its_model(tmp_path, make_app, started, size):
    store = Store(tmp_path / "home")
    imported = store.create_experiment(
        name="paddle-rec", template="import", config={}, model="import:rec.onnx"
    )["id"]
    (store.experiment_dir(imported) / "import.json").write_text("{}")
    store.set_status(imported, "finished")
    empty = store.create_experiment(name="no-model", template="smoke", config={}, model="crnn_tiny")["id"]
    store.set_status(empty, "finished")
    app = make_app(store)
    async with app.run_test(size=size) as pilot:
        app.open_experiment(imported)
        await wait_for(
            pilot, lambda: isinstance(app.screen, ExperimentScreen) and app.screen.document, what="the import"
        )
        await pilot.press("S")
        await wait_for(pilot, lambda: isinstance(app.screen, LaunchScreen), what="the launch form")
        form = app.screen
        assert form.kind == "study" and form.query_one("#study-from").value == imported
        assert f"from {imported}: every trial compresses" in str(
            form.query_one("#template-description").render()
        )
        form.query_one("#study-from").value = empty
        form.query_one("#study-name").value = "foreign"
        await pilot.press("ctrl+r")
        assert f"experiment {empty} has no trained or imported model" in _error(form)
        form.query_one("#study-from").value = "nothing-like-it"
        await pilot.press("ctrl+r")
        assert "--from: " in _error(form) and started == []
        form.query_one("#study-from").value = imported[:8]
        await pilot.pause()
        assert f"ocrq study run --from={imported[:8]} --method=bayesian" in str(
            form.query_one("#launch-command").render()
        )
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: isinstance(app.screen, StudiesScreen), what="the studies screen")
    argv = started[0]
    assert argv[argv.index("study") :] == [
        "study", "run", f"--from={imported[:8]}", "--method=bayesian", "--optimization-target=balanced",
        "--n-trials=20", "--jobs=1", "--study-name=foreign",
    ]  # fmt: skip


@pytest.mark.parametrize("size", SIZES)
async def test_import_mode_checks_the_file_and_starts_ocrq_import(tmp_path, make_app, started, size):
    store = Store(tmp_path / "home")
    model = tmp_path / "rec.onnx"
    model.write_bytes(b"not checked until the import runs")
    app = make_app(store)
    async with app.run_test(size=size) as pilot:
        await pilot.press("l")
        await wait_for(pilot, lambda: isinstance(app.screen, LaunchScreen), what="the launch form")
        form = app.screen
        form.query_one("#launch-kind").value = "import"
        await wait_for(pilot, lambda: form.kind == "import", what="import mode")
        assert form.query_one("#import-form").display and not form.query_one("#fields-table").display
        assert not form.query_one("#template").display
        assert app.focused is form.query_one("#import-model")
        await pilot.press(*str(tmp_path / "missing.onnx"))
        await pilot.press("ctrl+r")
        assert "missing.onnx' is not a file; give the path of an ONNX file" in _error(form)
        form.query_one("#import-model").value = str(model)
        form.query_one("#import-data").value = str(tmp_path / "nolabels")
        await pilot.press("ctrl+r")
        assert "nolabels' does not exist; give a label file" in _error(form)
        form.query_one("#import-data").value = "synthetic"
        form.query_one("#import-height").value = "0"
        await pilot.press("ctrl+r")
        assert "--height 0 is not allowed" in _error(form) and started == []
        form.query_one("#import-height").value = "48"
        form.query_one("#import-normalize").value = "imagenet"
        form.query_one("#import-name").value = "paddle-rec"
        await pilot.press("ctrl+r")
        # the import runs under an id allocated here, so its experiment opens at once (waiting for the check)
        await wait_for(pilot, lambda: isinstance(app.screen, ExperimentScreen), what="the new experiment")
        argv = started[0]
        exp_id = argv[-2].removeprefix("--id=")
        assert app.screen.exp_id == exp_id and len(exp_id) == 12
    assert argv[argv.index("import") :] == [
        "import", str(model), "--data=synthetic", "--normalize=imagenet", "--height=48", "--name=paddle-rec",
        f"--id={exp_id}", "--json",
    ]  # fmt: skip


async def test_the_kind_selector_switches_between_run_study_and_import(tmp_path, make_app, started):
    store = Store(tmp_path / "home")
    app = make_app(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("l")
        await wait_for(pilot, lambda: isinstance(app.screen, LaunchScreen), what="the launch form")
        form = app.screen
        assert form.kind == "run" and form.query_one("#run-form").display
        command = form.query_one("#launch-command")
        assert str(command.render()).startswith("$ ocrq run quickstart")
        for kind, expected in (("study", "$ ocrq study run quickstart"), ("import", "$ ocrq import"),
                               ("run", "$ ocrq run quickstart")):  # fmt: skip
            form.query_one("#launch-kind").value = kind
            await wait_for(pilot, lambda k=kind: form.kind == k, what=f"{kind} mode")
            assert str(command.render()).startswith(expected)
            assert [form.query_one(f"#{k}-form").display for k in ("run", "study", "import")] == [
                k == kind for k in ("run", "study", "import")
            ]


async def test_trials_arrive_live_from_optuna_with_intermediate_cer(tmp_path, make_app):
    store = Store(tmp_path / "home")
    store.create_study(name="live", directions=["maximize"], config={"objectives": ["balanced_score"]})
    study = optuna.create_study(
        study_name="live", storage=open_storage(str(store.home / "studies" / "live" / "optuna.journal")),
        direction="maximize",
    )  # fmt: skip
    trial = study.ask()
    trial.suggest_categorical("strategy", ["qat"])
    trial.set_user_attr("variant", "qat(qat_epochs=3)")
    trial.report(0.5, 1)
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
        trial.report(0.25, 2)
        await wait_for(
            pilot,
            lambda: str(trials.cells_of("0")[cer_column]) == "25.00% @2",
            timeout=6,
            what="the next epoch",
        )
        study.tell(trial, 0.8)
        second = study.ask()
        second.suggest_categorical("strategy", ["qat"])
        second.report(0.9, 1)
        study.tell(second, state=optuna.trial.TrialState.PRUNED)
        await wait_for(pilot, lambda: trials.keys == ["0", "1"], timeout=6, what="the second trial")
        assert str(trials.cells_of("0")[1]) == "complete" and str(trials.cells_of("1")[1]) == "pruned"
        assert str(trials.cells_of("0")[2]) == "★"


async def test_a_study_whose_storage_is_gone_says_so(tmp_path, make_app):
    store = Store(tmp_path / "home")
    store.create_study(name="lost", directions=["maximize"], config={})
    app = make_app(store)
    async with app.run_test(size=(100, 24)) as pilot:
        await pilot.press("2")
        await wait_for(
            pilot, lambda: isinstance(app.screen, StudiesScreen) and app.screen.study, what="studies"
        )
        info = app.screen.query_one("#study-info")
        await wait_for(pilot, lambda: "no Optuna storage at" in str(info.render()), what="the reason")
    assert not (store.home / "studies" / "lost").exists()  # reading never creates a storage


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
        await wait_for(pilot, lambda: isinstance(app.screen, LaunchScreen), what="the launch form")
        app.screen.query_one("#template").value = "smoke"
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
        assert app.screen.study.doc["name"] == "tuistudy"
        assert app.screen.study.trials[0]["experiment_id"]
    log = (store.home / "launches" / "study-tuistudy.log").read_text()
    assert "study tuistudy" in log
