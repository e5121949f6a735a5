"""The experiment store's public API on a real home folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from store import SCHEMA_VERSION, STATUSES, AmbiguousId, ExperimentNotFound, SchemaTooNew, Store, StoreError


def _new(store: Store, name: str = "exp", **overrides) -> str:
    arguments = {"name": name, "template": "tiny", "config": {"lr": 0.001}, "model": "crnn"} | overrides
    return store.create_experiment(**arguments)["id"]


def _files(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


def test_reading_an_empty_home_writes_nothing(tmp_path):
    home = tmp_path / "home"
    store = Store(home)
    assert store.list_experiments() == []
    assert store.list_studies() == []
    with pytest.raises(ExperimentNotFound):
        store.get("abcd")
    assert not home.exists()

    home.mkdir()
    Store(home).list_experiments(status="running", text="x")
    assert _files(home) == []


def test_home_defaults_to_the_environment_variable(ocrq_home):
    store = Store()
    assert store.home == ocrq_home
    _new(store)
    assert (ocrq_home / "index.json").is_file()


def test_create_and_get_round_trip_with_json_native_values(tmp_path):
    store = Store(tmp_path)
    summary = store.create_experiment(
        name="baseline",
        template="tiny",
        config={
            "size": (32, 128),
            "loss": float("nan"),
            "path": Path("/data"),
            "nested": {"inf": float("inf")},
        },
        model="crnn",
        command=["ocrq", "run", "tiny"],
    )
    assert len(summary["id"]) == 12 and set(summary["id"]) <= set("0123456789abcdef")
    assert summary["status"] == "created" and summary["tags"] == [] and summary["deleted"] is False
    document = store.get(summary["id"])
    assert document["config"] == {"size": [32, 128], "loss": None, "path": "/data", "nested": {"inf": None}}
    assert document["command"] == ["ocrq", "run", "tiny"]
    assert (
        document["epochs"] == document["variants"] == document["artifacts"] == document["evaluations"] == []
    )
    assert store.experiment_dir(summary["id"]) == tmp_path / "experiments" / summary["id"]
    assert store.experiment_dir(summary["id"]).is_dir()
    with pytest.raises(TypeError, match="set is not JSON-native"):
        store.create_experiment(name="x", template="t", config={"bad": {1, 2}}, model="m")


def test_epochs_are_tailed_with_a_cursor(tmp_path):
    store = Store(tmp_path)
    exp_id = _new(store)
    assert store.epochs(exp_id) == ([], 0)
    assert store.record_epoch(exp_id, {"epoch": 1, "cer": 0.5}) == 1
    assert store.record_epoch(exp_id, {"epoch": 2, "cer": float("nan")}) == 2
    new, cursor = store.epochs(exp_id)
    assert [epoch["epoch"] for epoch in new] == [1, 2] and new[1]["cer"] is None and cursor == 2
    assert store.record_epoch(exp_id, {"epoch": 3, "cer": 0.2}) == 3
    new, cursor = store.epochs(exp_id, since=cursor)
    assert [epoch["epoch"] for epoch in new] == [3] and cursor == 3
    assert store.epochs(exp_id, since=3) == ([], 3)
    with pytest.raises(ValueError, match="since=-1"):
        store.epochs(exp_id, since=-1)


def test_variants_and_artifacts_are_upserted_evaluations_appended(tmp_path):
    store = Store(tmp_path)
    exp_id = _new(store)
    store.record_variant(exp_id, {"name": "fp32", "cer": 0.10, "stale": 1})
    store.record_variant(exp_id, {"name": "int8", "cer": 0.11})
    store.record_variant(exp_id, {"name": "fp32", "cer": 0.09})
    store.record_artifact(exp_id, kind="onnx", path="a.onnx", bytes=100, variant="fp32")
    store.record_artifact(exp_id, kind="onnx", path="a.onnx", bytes=120, variant="fp32")
    store.record_artifact(exp_id, kind="figure", path="plot.png", bytes=5)
    store.record_evaluation(exp_id, {"dataset": "real", "cer": 0.2})
    store.record_evaluation(exp_id, {"dataset": "real", "cer": 0.2})
    document = store.get(exp_id)
    variants = {variant["name"]: variant for variant in document["variants"]}
    assert (
        list(variants) == ["fp32", "int8"]
        and variants["fp32"]["cer"] == 0.09
        and "stale" not in variants["fp32"]
    )
    folder = store.experiment_dir(exp_id)  # relative records are read in the experiment's folder
    assert [(a["path"], a["bytes"]) for a in document["artifacts"]] == [
        (str(folder / "a.onnx"), 120), (str(folder / "plot.png"), 5),
    ]  # fmt: skip
    assert len(document["evaluations"]) == 2
    with pytest.raises(ValueError, match="name"):
        store.record_variant(exp_id, {"cer": 0.1})
    with pytest.raises(ValueError, match="bytes=-1"):
        store.record_artifact(exp_id, kind="onnx", path="b", bytes=-1)


def test_log_lines_and_tail(tmp_path):
    store = Store(tmp_path)
    exp_id = _new(store)
    assert store.log_tail(exp_id) == []
    for number in range(120):
        store.append_log(exp_id, "info", f"line {number}")
    store.append_log(exp_id, "error", "two\nlines")
    tail = store.log_tail(exp_id, lines=3)
    assert [line.split(" ", 2)[1:] for line in tail] == [
        ["info", "line 119"],
        ["error", "two"],
        ["error", "lines"],
    ]
    assert len(tail[0].split(" ")[0]) == len("2026-11-23T16:40:01")
    assert len(store.log_tail(exp_id)) == 50
    with pytest.raises(ValueError, match="level='loud'"):
        store.append_log(exp_id, "loud", "x")


def test_summary_updates_and_guarded_fields(tmp_path):
    store = Store(tmp_path)
    exp_id = _new(store)
    before = store.get(exp_id)["updated"]
    time.sleep(0.002)
    store.update_summary(exp_id, best_cer=0.12, size_ratio=0.25, speedup=float("inf"), stage="export")
    summary = store.list_experiments()[0]
    assert (summary["best_cer"], summary["size_ratio"], summary["speedup"], summary["stage"]) == (
        0.12,
        0.25,
        None,
        "export",
    )
    assert summary["updated"] > before
    with pytest.raises(ValueError, match="use set_status"):
        store.update_summary(exp_id, status="finished")
    with pytest.raises(ValueError, match="status='crashed'"):
        store.set_status(exp_id, "crashed")
    store.set_status(exp_id, "failed", error="out of memory")
    assert store.get(exp_id)["status"] == "failed" and store.get(exp_id)["error"] == "out of memory"


def test_resolve_by_id_prefix_and_name(tmp_path):
    store = Store(tmp_path)
    first = _new(store, "alpha", experiment_id="abcd11112222")
    second = _new(store, "beta", experiment_id="abcd33334444")
    _new(store, "twin", experiment_id="ffff00000001")
    _new(store, "twin", experiment_id="ffff00000002")
    assert store.resolve_id(first) == first
    assert store.resolve_id("abcd1") == first
    assert store.resolve_id("beta") == second
    with pytest.raises(AmbiguousId) as ambiguous:
        store.resolve_id("abcd")
    assert "abcd11112222 (alpha)" in str(ambiguous.value) and "abcd33334444 (beta)" in str(ambiguous.value)
    assert ambiguous.value.candidates == [first, second]
    with pytest.raises(AmbiguousId, match="2 experiments"):
        store.get("twin")
    with pytest.raises(ExperimentNotFound, match="at least 4 characters"):
        store.resolve_id("abc")
    with pytest.raises(ExperimentNotFound, match="no experiment matches 'nothing'"):
        store.get("nothing")
    with pytest.raises(ExperimentNotFound):
        store.record_epoch("0123456789ab", {"epoch": 1})
    with pytest.raises(StoreError, match="already exists"):
        _new(store, experiment_id=first)


def test_paths_never_leave_the_home(tmp_path):
    store = Store(tmp_path / "home")
    _new(store)
    for bad in ("../../etc", "/etc/passwd", "ABCDEF123456"):
        with pytest.raises((ValueError, ExperimentNotFound)):
            store.record_epoch(bad, {"epoch": 1})
    with pytest.raises(ValueError, match="experiment_id='../x'"):
        _new(store, experiment_id="../x")
    assert not (tmp_path / "etc").exists()


def test_tags_notes_and_deletion(tmp_path):
    store = Store(tmp_path)
    exp_id = _new(store, "keeper")
    other = _new(store, "other")
    assert store.tag(exp_id, add=["int8", "best", "int8"]) == ["int8", "best"]
    assert store.tag("keeper", add=["paper"], remove=["best"]) == ["int8", "paper"]
    with pytest.raises(ValueError, match="tag 'two words'"):
        store.tag(exp_id, add=["two words"])
    store.set_note(exp_id, "use this one")
    assert store.get(exp_id)["note"] == "use this one"

    store.soft_delete(exp_id)
    assert [doc["id"] for doc in store.list_experiments()] == [other]
    assert {doc["id"] for doc in store.list_experiments(include_deleted=True)} == {exp_id, other}
    assert store.get(exp_id)["deleted"] is True
    store.restore(exp_id)
    assert {doc["id"] for doc in store.list_experiments()} == {exp_id, other}

    folder = store.experiment_dir(other)
    (folder / "model.onnx").write_bytes(b"onnx")
    store.delete_permanently(other)
    assert not folder.exists()
    assert [doc["id"] for doc in store.list_experiments(include_deleted=True)] == [exp_id]
    with pytest.raises(ExperimentNotFound):
        store.get(other)


def test_sorting_puts_none_last_and_filters_combine(tmp_path):
    store = Store(tmp_path)
    ids = {}
    for name, cer, template in (
        ("a", 0.3, "tiny"),
        ("b", None, "tiny"),
        ("c", 0.1, "small"),
        ("d", 0.2, "tiny"),
    ):
        ids[name] = _new(store, name, template=template)
        if cer is not None:
            store.update_summary(ids[name], best_cer=cer)
    names = lambda docs: [doc["name"] for doc in docs]  # noqa: E731
    assert names(store.list_experiments(sort="best_cer", descending=False)) == ["c", "d", "a", "b"]
    assert names(store.list_experiments(sort="best_cer")) == ["a", "d", "c", "b"]
    assert names(store.list_experiments()) == ["d", "c", "b", "a"]  # newest first
    assert names(store.list_experiments(sort="name", descending=False, template="tiny")) == ["a", "b", "d"]
    store.tag(ids["d"], add=["keep"])
    store.set_note(ids["a"], "Learning-rate SWEEP")
    assert names(store.list_experiments(tag="keep")) == ["d"]
    assert names(store.list_experiments(text="sweep")) == ["a"]
    assert names(store.list_experiments(text=ids["c"][:6])) == ["c"]
    store.set_status(ids["b"], "finished")
    assert names(store.list_experiments(status="finished")) == ["b"]
    assert names(
        store.list_experiments(status="created", template="tiny", sort="name", descending=False)
    ) == ["a", "d"]
    with pytest.raises(ValueError, match="allowed: created, running"):
        store.list_experiments(status="done")
    with pytest.raises(ValueError, match="sort='colour'.*best_cer"):
        store.list_experiments(sort="colour")
    assert "crashed" in STATUSES


def test_a_newer_schema_is_refused_with_a_clear_message(tmp_path):
    store = Store(tmp_path)
    exp_id = _new(store)
    newer = SCHEMA_VERSION + 1
    index, shards = tmp_path / "index.json", sorted((tmp_path / "index").glob("*.json"))
    assert len(shards) == 1
    for path in (index, *shards):
        data = json.loads(path.read_text())
        data["meta"]["1"]["schema"] = newer
        path.write_text(json.dumps(data))
    expected = (
        f"store at {tmp_path} has schema {newer}; this ocrq reads schema <= {SCHEMA_VERSION} — upgrade ocrq"
    )
    with pytest.raises(SchemaTooNew) as refused:
        Store(tmp_path)
    assert str(refused.value) == expected
    with pytest.raises(SchemaTooNew):
        store.update_summary(exp_id, stage="x")  # a store opened before the upgrade checks each file
    with pytest.raises(SchemaTooNew):
        store.list_experiments()
    assert json.loads(shards[0].read_text())["meta"]["1"]["schema"] == newer  # nothing was written over it

    # Written by a foreign tool with spaces: the head check misses, the full parse still refuses.
    index.write_text(json.dumps({"experiments": {}, "meta": {"1": {"schema": 7}}}, indent=2))
    with pytest.raises(SchemaTooNew, match="schema 7"):
        Store(tmp_path)


def test_a_newer_experiment_file_is_refused(tmp_path):
    store = Store(tmp_path)
    exp_id = _new(store)
    path = store.experiment_dir(exp_id) / "experiment.json"
    data = json.loads(path.read_text())
    data["meta"]["1"]["schema"] = 3
    path.write_text(json.dumps(data))
    with pytest.raises(SchemaTooNew, match="has schema 3"):
        store.get(exp_id)
    with pytest.raises(SchemaTooNew):
        store.record_epoch(exp_id, {"epoch": 1})


def test_stale_temp_files_are_ignored_then_cleaned(tmp_path):
    store = Store(tmp_path)
    exp_id = _new(store)
    folder = store.experiment_dir(exp_id)
    shards = tmp_path / "index"
    (shards / f".{exp_id[:2]}.json.dead1234.tmp").write_text('{"half": ')
    (folder / ".experiment.json.dead5678.tmp").write_text("{")
    assert [doc["id"] for doc in Store(tmp_path).list_experiments()] == [exp_id]
    assert store.epochs(exp_id) == ([], 0)
    store.record_epoch(exp_id, {"epoch": 1})
    store.update_summary(exp_id, stage="train")
    assert not any(path.suffix == ".tmp" for path in [*shards.iterdir(), *folder.iterdir()])


def test_store_imports_no_ui_torch_or_pipeline():
    code = "import sys, store, store.recorder; print(sorted(m for m in ('torch', 'pipeline', 'textual', 'typer', 'rich') if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[2],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}, check=True,
    )  # fmt: skip
    assert result.stdout.strip() == "[]"
