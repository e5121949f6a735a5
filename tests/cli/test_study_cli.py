"""`ocrq study` through the installed command: dry run, bad input, parallel workers, a killed worker,
pruned trials. Real Optuna, real processes, a tiny smoke baseline trained once for the module."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from store import Store
from tests.cli.conftest import error_line, snapshot

OCRQ = Path(sys.executable).with_name("ocrq")
TINY = ["--num-train", "32", "--num-val", "8", "--num-test", "8", "--epochs", "1", "--batch-size", "4",
        "--latency-runs", "3"]  # fmt: skip
pytestmark = pytest.mark.skipif(
    not OCRQ.exists(), reason=f"the ocrq command is not installed beside {sys.executable}"
)


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OCRQ_DEBUG", "OCRQ_HOME")}
    return {**env, "OCRQ_HOME": str(home), "NO_COLOR": "1", "OMP_NUM_THREADS": "1"}


def ocrq(home: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(OCRQ), *args], capture_output=True, text=True, env=_env(home), timeout=timeout)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> tuple[Path, str]:
    """(home, id of a finished tiny smoke baseline) shared by the module's studies."""
    home = tmp_path_factory.mktemp("study-home")
    result = ocrq(home, "run", "smoke", "--mode", "train", *TINY, "--json")
    assert result.returncode == 0, result.stderr
    return home, json.loads(result.stdout)["id"]


def _journal(path: Path) -> optuna.storages.JournalStorage:
    from optuna.storages.journal import JournalFileBackend

    return optuna.storages.JournalStorage(JournalFileBackend(str(path)))


def _space(tmp_path: Path, space: dict) -> str:
    path = tmp_path / "space.json"
    path.write_text(json.dumps(space))
    return str(path)


@pytest.mark.parametrize(
    ("args", "space", "message"),
    [
        (["--method", "annealing"], None, "--method 'annealing' is not known; allowed bayesian"),
        (["--optimization-target", "cheap"], None, "allowed balanced, accuracy, compression, speed"),
        (["--n-trials", "0"], None, "--n-trials 0 is not allowed"),
        (["--pruner", "hard"], None, "allowed median, hyperband, none"),
        ([], {"strategy": []}, "strategy has no choices"),
        ([], {"strategy": ["qat"], "qat_epochs": {"low": 4, "high": 2}}, "low 4 > high 2"),
        ([], {"strategy": ["qat"], "unicorns": [1]}, "unknown config key 'unicorns'"),
        (
            [],
            {"strategy": ["ptq"], "group_size": [33]},
            "group_size=33 is not allowed; allowed 32, 64, 128, 256",
        ),
        (["--study-name", "a/b"], None, "--study-name 'a/b' is not allowed"),
    ],
)
def test_bad_input_is_refused_before_anything_runs(tmp_path, args, space, message):
    home = tmp_path / "home"
    extra = ["--param-config", _space(tmp_path, space)] if space is not None else []
    result = ocrq(home, "study", "run", "--dry-run", *args, *extra)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert message in error_line(result)
    assert snapshot(home) == {}


@pytest.mark.slow
def test_dry_run_end_to_end(tmp_path):
    home = tmp_path / "home"
    result = ocrq(home, "study", "run", "--dry-run", "--study-name", "quick", "--n-trials", "2", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["status"] == "finished" and out["counts"] == {"complete": 2}
    folder = home / "studies" / "quick"
    for name in ("study_config.json", "best_quantization_config.json", "optimization_history.json",
                 "best_metrics.json", "optimization_report.json", "optimization_visualization.png"):  # fmt: skip
        assert (folder / name).stat().st_size > 0, name
    store = Store(home)
    study = store.get_study("quick")
    trials = store.list_experiments(study_id=study["id"])
    assert sorted(t["trial_number"] for t in trials if t["trial_number"] is not None) == [0, 1]
    assert [t["name"] for t in trials if t["trial_number"] is None] == ["quick-baseline"]  # trained once
    shown = ocrq(home, "study", "show", "quick")
    assert shown.returncode == 0 and "reproduce: ocrq run --from" in shown.stderr + shown.stdout
    reproduce = out["reproduce"].split()
    assert reproduce[:2] == ["ocrq", "run"]
    listed = ocrq(home, "ls", "--study", "quick", "-q")
    assert sorted(listed.stdout.split()) == sorted(t["id"] for t in trials)
    removed = ocrq(home, "study", "rm", "quick", "--yes")
    assert removed.returncode == 0 and not folder.exists()
    assert Store(home).list_studies() == [] and len(Store(home).list_experiments()) == 3  # trials stay


@pytest.mark.slow
def test_two_workers_share_a_study_without_duplicates_or_losses(baseline, tmp_path):
    home, base = baseline
    space = _space(
        tmp_path, {"strategy": ["ort-int8-dynamic", "ort-int8-static"], "calibration_batches": [1, 2]}
    )
    result = ocrq(home, "study", "run", "--from", base, "--study-name", "pair", "--jobs", "2", "--n-trials", "4",
                  "--method", "random_search", "--param-config", space, "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    study = optuna.load_study(
        study_name="pair", storage=_journal(home / "studies" / "pair" / "optuna.journal")
    )
    assert [t.number for t in study.trials] == [0, 1, 2, 3]
    assert all(t.state.name == "COMPLETE" for t in study.trials)
    experiments = {t.user_attrs["experiment_id"] for t in study.trials}
    assert len(experiments) == 4
    assert len({t.user_attrs["pid"] for t in study.trials}) == 2  # both workers ran trials
    linked = Store(home).list_experiments(study_id=Store(home).get_study("pair")["id"])
    assert {e["id"] for e in linked} == experiments
    # The two workers split the box's cores; each taking "the idle cores" oversubscribed them (10x slower).
    share = max(1, len(os.sched_getaffinity(0)) // 2)
    for exp_id in experiments:
        config = json.loads((home / "experiments" / exp_id / "config.json").read_text())
        assert config["train"]["threads"] == share
        assert f"on cpu with {share} threads" in (home / "experiments" / exp_id / "run.log").read_text()


@pytest.mark.slow
def test_a_sigkilled_worker_leaves_its_trial_failed_after_restart(baseline, tmp_path):
    home, base = baseline
    space = _space(tmp_path, {"strategy": ["ort-int8-static"], "calibration_batches": [1, 2]})
    journal = home / "studies" / "killed" / "optuna.journal"
    args = [
        "study",
        "run",
        "--from",
        base,
        "--study-name",
        "killed",
        "--n-trials",
        "2",
        "--param-config",
        space,
    ]
    proc = subprocess.Popen([str(OCRQ), *args], env=_env(home), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 120
    running = []
    while time.monotonic() < deadline and not running:
        time.sleep(0.3)
        if journal.exists():
            study = optuna.load_study(study_name="killed", storage=_journal(journal))
            running = [t for t in study.trials if t.state.name == "RUNNING" and "variant" in t.user_attrs]
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert running, "no trial started within 120 s"
    result = ocrq(home, "study", "run", "--study-name", "killed", "--json")
    assert result.returncode == 0, result.stderr
    trials = json.loads(result.stdout)["trials"]
    assert trials[0]["state"] == "fail" and "worker died" in trials[0]["error"]
    assert [t["state"] for t in trials] == ["fail", "complete"]


@pytest.mark.slow
def test_pruned_trials_stop_early_and_are_recorded_pruned(baseline, tmp_path, monkeypatch, capsys):
    home, base = baseline
    monkeypatch.setenv("OCRQ_HOME", str(home))
    import pipeline.study.search as search

    # A pruner that cuts any trial whose validation CER is above 0 (every tiny model's is).
    monkeypatch.setattr(search, "make_pruner", lambda name: optuna.pruners.ThresholdPruner(upper=0.0))
    from cli.main import main

    space = _space(tmp_path, {"strategy": ["qat"], "qat_epochs": [3]})
    code = main(["study", "run", "--from", base, "--study-name", "cut", "--n-trials", "2",
                 "--param-config", space, "--json"])  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [t["state"] for t in out["trials"]] == ["pruned", "pruned"]
    store = Store(home)
    for trial in out["trials"]:
        experiment = store.get(trial["experiment_id"])
        assert experiment["status"] == "pruned"
        qat_epochs = [e for e in experiment["epochs"] if str(e.get("phase", "")).startswith("qat")]
        assert len(qat_epochs) == 1  # stopped after the first of 3 epochs
        assert trial["intermediate_cer"] and len(trial["intermediate_cer"]) == 1


def test_auto_optimize_refuses_a_bad_ratio_before_anything_runs(tmp_path):
    home = tmp_path / "home"
    result = ocrq(home, "run", "smoke", "--auto_optimize", "--target_compression_ratio", "0")
    assert result.returncode == 2
    assert "--target-compression-ratio 0.0 is not allowed" in error_line(result)
    assert snapshot(home) == {}


@pytest.mark.slow
def test_auto_optimize_keeps_the_smallest_variant_meeting_the_ratio(tmp_path):
    home = tmp_path / "home"
    result = ocrq(home, "run", "smoke", *TINY, "--auto_optimize", "--target_compression_ratio", "0.3",
                  "--preserve_accuracy", "--name", "auto")  # fmt: skip
    assert result.returncode == 0, result.stderr
    kept = [line for line in result.stderr.splitlines() if line.startswith("kept trial")]
    assert len(kept) == 1 and "(asked 3.33x)" in kept[0] and "budget 0.5 pp" in kept[0]
    trials = json.loads(ocrq(home, "study", "show", "auto", "--json").stdout)["trials"]
    ratios = [t["metrics"]["compression_ratio"] for t in trials if t["state"] == "complete"]
    number = int(kept[0].split()[2].rstrip(":"))
    assert trials[number]["metrics"]["compression_ratio"] == max(r for r in ratios if r >= 1 / 0.3)


def test_grid_search_refuses_a_float_range_without_a_step(tmp_path):
    home = tmp_path / "home"
    space = _space(
        tmp_path, {"strategy": ["qat"], "qat_learning_rate_multiplier": {"low": 0.01, "high": 0.5}}
    )
    result = ocrq(home, "study", "run", "--dry-run", "--method", "grid_search", "--param-config", space)
    assert result.returncode == 2
    assert "float range without a step" in error_line(result)
    assert snapshot(home) == {}


def test_trial_states_shown_are_optunas_even_when_an_old_copy_disagrees(tmp_path):
    """Optuna's storage is the one record: a state changed there directly shows in `study show`, `study ls`
    and `ls --study`, and the copy an older ocrq kept in studies.json is neither shown nor kept."""
    from pipeline.study.search import StudySettings, create_or_load

    home = tmp_path / "home"
    store = Store(home)
    doc = store.create_study(name="direct", directions=["maximize"], config={"n_trials": 3})
    journal = home / "studies" / "direct" / "optuna.journal"
    settings = StudySettings(name="direct", n_trials=3, space={"strategy": ["ptq"]}, store_study_id=doc["id"])
    study, _ = create_or_load(settings, str(journal))
    trial = study.ask()
    trial.suggest_categorical("strategy", ["ptq"])
    trial.set_user_attr("variant", "ptq")
    exp = store.create_experiment(name="direct#0", template="smoke", config={}, model="crnn_tiny",
                                  study_id=doc["id"], trial_number=0)  # fmt: skip
    # what an older ocrq left in studies.json: the trial still `running` there
    path = home / "studies.json"
    data = json.loads(path.read_text())
    data["trials"] = {
        "1": {"study_id": doc["id"], "number": 0, "state": "running", "params": {}, "values": None}
    }
    path.write_text(json.dumps(data))
    study.tell(trial, 0.75)  # the trial completes in Optuna, and nowhere else

    shown = json.loads(ocrq(home, "study", "show", "direct", "--json").stdout)
    assert [(t["number"], t["state"], t["values"]) for t in shown["trials"]] == [(0, "complete", [0.75])]
    assert shown["trials"][0]["experiment_id"] == exp["id"]  # the store's link
    assert [t["number"] for t in shown["best"]] == [0]
    listed = json.loads(ocrq(home, "study", "ls", "--json").stdout)
    assert (
        listed[0]["trials"] == 1
        and listed[0]["counts"] == {"complete": 1}
        and listed[0]["planned_trials"] == 3
    )
    assert " 1/3 " in ocrq(home, "study", "ls").stdout
    rows = json.loads(ocrq(home, "ls", "--study", "direct", "--json").stdout)
    assert [(r["trial_number"], r["trial_state"]) for r in rows] == [(0, "complete")]
    table = ocrq(home, "ls", "--study", "direct")
    assert "#0 complete" in table.stdout
    # the next write to studies.json drops the old copy: nothing left that could disagree
    store.set_study_status(doc["id"], "finished")
    assert "trials" not in json.loads(path.read_text())


@pytest.mark.slow
def test_a_worker_in_another_home_needs_the_baseline_checked_by_sha256(baseline, tmp_path):
    """A worker on another box (here: another home) reaching the study's storage trials on a copy of the
    baseline it is given, checked against the sha256 the study recorded; without one it is refused."""
    from pipeline.study.search import SETTINGS_ATTR, load_study

    home, base = baseline
    space = _space(tmp_path, {"strategy": ["ort-int8-dynamic"]})
    first = ocrq(home, "study", "run", "--from", base, "--study-name", "remote", "--n-trials", "1",
                 "--method", "random_search", "--param-config", space, "--json")  # fmt: skip
    assert first.returncode == 0, first.stderr
    journal = str(home / "studies" / "remote" / "optuna.journal")
    study, settings = load_study("remote", journal)
    model = Store(home).experiment_dir(base) / "model_fp32.pt"
    assert settings.baseline_sha256 == hashlib.sha256(model.read_bytes()).hexdigest()
    settings.n_trials = 2  # room for the second box's worker
    settings.baseline_dir = "/first-box/home/experiments/" + base  # not a path the second box reaches
    study.set_user_attr(SETTINGS_ATTR, settings.to_dict())

    other = tmp_path / "other-box"
    refused = ocrq(other, "study", "worker", "remote", "--storage", journal)
    assert refused.returncode == 2
    assert f"experiment {base[:12]}) is not in this home" in error_line(refused)
    assert "give --baseline FILE" in error_line(refused)
    wrong = tmp_path / "model_fp32.pt"
    changed = bytearray(model.read_bytes())
    changed[len(changed) // 2] ^= 0xFF  # one byte of a weight differs
    wrong.write_bytes(bytes(changed))
    refused = ocrq(other, "study", "worker", "remote", "--storage", journal, "--baseline", str(wrong))
    assert refused.returncode == 2 and "sha256" in error_line(refused)
    assert len(load_study("remote", journal)[0].trials) == 1  # nothing ran

    joined = ocrq(other, "study", "worker", "remote", "--storage", journal, "--baseline", str(model))
    assert joined.returncode == 0, joined.stderr
    assert "worker ran 1 trial(s)" in joined.stderr
    trials = load_study("remote", journal)[0].trials
    assert [t.state.name for t in trials] == ["COMPLETE", "COMPLETE"]
    ran_there = Store(other).list_experiments()
    assert [(e["id"], e["trial_number"]) for e in ran_there] == [(trials[1].user_attrs["experiment_id"], 1)]
    copied = other / "studies" / "remote" / "baseline" / "model_fp32.pt"
    assert copied.read_bytes() == model.read_bytes()
