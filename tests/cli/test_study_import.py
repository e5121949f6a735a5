"""`ocrq study` over an imported ONNX model, through the installed command: trials are imported experiments
made from the import's copy of the model, the best reproduces as a plain `ocrq run`, a space a foreign
model cannot build is refused, and a worker in another home trials on a checked copy of the file."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import optuna
import pytest

from pipeline.config.variant_specs import parse_variant
from store import Store
from tests.cli.conftest import error_line, snapshot
from tests.cli.test_study_cli import OCRQ, _journal, _space, ocrq
from tests.import_models import tiny_recognizer

pytestmark = pytest.mark.skipif(
    not OCRQ.exists(), reason=f"the ocrq command is not installed beside {sys.executable}"
)


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> tuple[Path, str]:
    """(home, id of a tiny hand-built recognizer imported on synthetic lines); the original file is
    deleted afterwards: everything below works from the experiment's copy."""
    folder = tmp_path_factory.mktemp("study-import")
    model = tiny_recognizer(folder / "tiny.onnx")
    home = folder / "home"
    result = ocrq(home, "import", str(model), "--data", "synthetic", "--lines", "16", "--calibration-lines", "8",
                  "--sensitivity-lines", "8", "--hard-lines", "0", "--variants", "ort-int8-static,ort-int8-mixed",
                  "--json", timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stderr
    model.unlink()
    return home, json.loads(result.stdout)["id"]


@pytest.mark.slow
def test_a_study_over_an_import_runs_import_trials_and_reproduces_the_best(imported, tmp_path):
    home, base = imported
    result = ocrq(home, "study", "run", "--from", base, "--study-name", "foreign", "--n-trials", "4", "--json",
                  timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["counts"] == {"complete": 4}
    store = Store(home)
    trials = [e for e in store.list_experiments(study_id=store.get_study("foreign")["id"])]
    assert sorted(e["trial_number"] for e in trials) == [0, 1, 2, 3]  # no baseline trained: the import is it
    study = optuna.load_study(
        study_name="foreign", storage=_journal(home / "studies" / "foreign" / "optuna.journal")
    )
    kinds = [t.params["strategy"] for t in study.trials]
    assert kinds[:2] == ["ort-int8-static", "ort-int8-mixed"]  # the import's own variants first
    assert set(kinds) <= {"ort-int8-static", "ort-int8-mixed", "ort-int8-dynamic", "ort-int4-weight"}
    source_fp32 = next(v for v in store.get(base)["variants"] if v["name"] == "fp32")
    for trial in trials:
        shown = store.get(trial["id"])
        assert (shown["template"], shown["model"], shown["status"]) == (
            "import",
            "import:tiny.onnx",
            "finished",
        )
        rows = {v["name"]: v for v in shown["variants"]}
        assert rows["fp32"]["import"]["derived_from"] == base
        assert rows["fp32"]["cer"] == source_fp32["cer"]  # the same measured lines as the import
        assert len(rows) == 3  # fp32, the prepared graph, the trial's variant
    best = study.best_trial
    assert best.value == max(t.value for t in study.trials)
    reproduce = out["reproduce"]
    assert reproduce.startswith(f"ocrq run --from {base} --mode compress --variants ")
    variant = best.user_attrs["variant"]
    again = ocrq(
        home, "run", "--from", base, "--mode", "compress", "--variants", variant, "--json", timeout=600
    )
    assert again.returncode == 0, again.stderr
    rows = {v["name"]: v for v in store.get(json.loads(again.stdout)["id"])["variants"]}
    assert rows[parse_variant(variant).name]["cer"] == best.user_attrs["metrics"]["cer"]  # the same lines


def test_a_space_an_import_cannot_build_is_refused_before_anything_runs(imported, tmp_path):
    home, base = imported
    before = snapshot(home / "studies")
    experiments = len(Store(home).list_experiments())
    space = _space(tmp_path, {"strategy": ["ort-int8-static", "qat"]})
    result = ocrq(home, "study", "run", "--from", base, "--study-name", "bad", "--param-config", space)
    assert result.returncode == 2, result.stderr
    assert "strategy qat cannot be built from an imported ONNX model; allowed ort-int8-dynamic" in (
        error_line(result)
    )
    assert not any(s["name"] == "bad" for s in Store(home).list_studies())
    assert len(Store(home).list_experiments()) == experiments
    assert snapshot(home / "studies") == before


@pytest.mark.slow
def test_a_worker_in_another_home_trials_on_a_checked_copy_of_the_imported_model(imported, tmp_path):
    from pipeline.study.search import SETTINGS_ATTR, load_study
    from pipeline.variants.import_reopen import imported_model_file

    home, base = imported
    space = _space(tmp_path, {"strategy": ["ort-int8-static"], "observer_type": ["min_max", "percentile"]})
    first = ocrq(home, "study", "run", "--from", base, "--study-name", "remote-import", "--n-trials", "1",
                 "--method", "grid_search", "--param-config", space, "--json", timeout=600)  # fmt: skip
    assert first.returncode == 0, first.stderr
    journal = str(home / "studies" / "remote-import" / "optuna.journal")
    study, settings = load_study("remote-import", journal)
    model = imported_model_file(Store(home).experiment_dir(base))
    assert settings.baseline_sha256 == hashlib.sha256(model.read_bytes()).hexdigest()
    assert settings.baseline_import["characters"] == "abcdefghijklmnopqrstuvwxyz"
    settings.n_trials = 2
    settings.baseline_dir = "/first-box/home/experiments/" + base
    study.set_user_attr(SETTINGS_ATTR, settings.to_dict())

    other = tmp_path / "other-box"
    refused = ocrq(other, "study", "worker", "remote-import", "--storage", journal)
    assert refused.returncode == 2 and "copy its imported model tiny.onnx" in error_line(refused)
    joined = ocrq(other, "study", "worker", "remote-import", "--storage", journal, "--baseline", str(model),
                  timeout=600)  # fmt: skip
    assert joined.returncode == 0, joined.stderr
    trials = load_study("remote-import", journal)[0].trials
    assert [t.state.name for t in trials] == ["COMPLETE", "COMPLETE"]
    assert {t.params["observer_type"] for t in trials} == {"min_max", "percentile"}  # the whole grid
    ran_there = Store(other).list_experiments()
    assert [e["template"] for e in ran_there] == ["import"]
    copied = other / "studies" / "remote-import" / "baseline" / "variants" / "imported-tiny.onnx"
    assert copied.read_bytes() == model.read_bytes()
