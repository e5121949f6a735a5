"""The sharded index: one status change rewrites one small shard, old single-file stores still work."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from unittest import mock

import pytest

import store.storage as storage
import store.store as store_module
from store import SCHEMA_VERSION, SchemaTooNew, Store
from store.records import SUMMARY_FILE, read_summary_copy


def _new(store: Store, name: str, **overrides) -> str:
    arguments = {"name": name, "template": "tiny", "config": {}, "model": "crnn"} | overrides
    return store.create_experiment(**arguments)["id"]


def _shard_mtimes(home: Path) -> dict[str, int]:
    return {path.name: path.stat().st_mtime_ns for path in (home / "index").glob("*.json")}


def _make_legacy(home: Path) -> list[dict]:
    """Turn a sharded home into the single-file layout of schema 1 (what older ocrq wrote)."""
    docs = []
    for path in sorted((home / "index").glob("*.json")):
        docs += json.loads(path.read_text())["experiments"].values()
    docs.sort(key=lambda doc: doc["created_ns"])
    for doc in docs:
        del doc["created_ns"]
    legacy = {"meta": {"1": {"schema": 1}}, "experiments": {str(n): d for n, d in enumerate(docs, 1)}}
    (home / "index.json").write_text(json.dumps(legacy, separators=(",", ":")))
    shutil.rmtree(home / "index")
    return docs


def test_a_status_change_rewrites_only_its_own_shard(tmp_path):
    store = Store(tmp_path)
    ids = [_new(store, f"e{n}") for n in range(40)]
    target = ids[0]
    before = _shard_mtimes(tmp_path)
    signature = store.index_signature()
    assert len(before) > 10  # 40 random ids spread over many of the 256 shards

    store.set_status(target, "running")

    after = _shard_mtimes(tmp_path)
    changed = [name for name in after if after[name] != before[name]]
    assert changed == [f"{target[:2]}.json"]
    assert store.index_signature() != signature  # pollers of index.json still see the change
    assert store.get(target)["status"] == "running"
    assert {doc["id"] for doc in store.list_experiments()} == set(ids)


def test_the_experiment_folder_keeps_a_copy_of_its_summary(tmp_path):
    store = Store(tmp_path)
    exp_id = _new(store, "copied")
    store.set_status(exp_id, "finished")
    store.tag(exp_id, add=["keep"])
    store.set_note(exp_id, "best so far")
    copy = read_summary_copy(store.experiment_dir(exp_id))
    summary = {key: value for key, value in store.get(exp_id).items() if key in copy}
    assert copy == summary
    assert (copy["status"], copy["tags"], copy["note"]) == ("finished", ["keep"], "best so far")


def test_experiments_created_in_the_same_millisecond_list_newest_first(tmp_path):
    store = Store(tmp_path)
    with mock.patch.object(store_module, "now_iso", lambda: "2026-01-01T00:00:00.000+00:00"):
        ids = [_new(store, f"same-{n}") for n in range(30)]
    assert len({exp_id[:2] for exp_id in ids}) > 1
    assert [doc["id"] for doc in store.list_experiments()] == ids[::-1]
    assert [doc["id"] for doc in store.list_experiments(descending=False)] == ids


def test_an_old_single_file_store_is_read_as_is_and_moved_to_shards_on_first_write(tmp_path):
    store = Store(tmp_path)
    ids = [_new(store, f"old-{n}") for n in range(12)]
    store.tag(ids[3], add=["gold"])
    store.set_status(ids[4], "failed", error="out of memory")
    docs = _make_legacy(tmp_path)

    old = Store(tmp_path)
    assert [doc["id"] for doc in old.list_experiments(descending=False)] == ids
    assert old.get(ids[3][:6])["tags"] == ["gold"]
    assert not (tmp_path / "index").exists(), "reading must not change the layout"

    old.record_epoch(ids[0], {"epoch": 1})  # an experiment's own file: no index write either
    assert not (tmp_path / "index").exists()

    old.set_note(ids[5], "moved")
    marker = json.loads((tmp_path / "index.json").read_text())
    assert marker["meta"]["1"]["schema"] == SCHEMA_VERSION and "experiments" not in marker
    listed = {doc["id"]: doc for doc in Store(tmp_path).list_experiments()}
    assert set(listed) == set(ids)
    for doc in docs:
        expected = {**doc, "note": "moved"} if doc["id"] == ids[5] else doc
        assert {key: listed[doc["id"]][key] for key in doc if key != "updated"} == {
            key: value for key, value in expected.items() if key != "updated"
        }
    assert listed[ids[4]]["status"] == "failed" and listed[ids[4]]["error"] == "out of memory"
    assert [doc["id"] for doc in Store(tmp_path).list_experiments(descending=False)] == ids


def test_a_move_killed_before_the_marker_is_redone_from_the_old_index(tmp_path):
    store = Store(tmp_path)
    ids = [_new(store, f"e{n}") for n in range(6)]
    _make_legacy(tmp_path)
    # A half-done move: shard files renamed into place, but index.json still the old index.
    (tmp_path / "index").mkdir()
    (tmp_path / "index" / "00.json").write_text('{"meta":{"1":{"schema":2}},"experiments":{}}')
    reader = Store(tmp_path)
    assert {doc["id"] for doc in reader.list_experiments()} == set(ids)  # the old index is the truth
    reader.update_summary(ids[1], stage="train")
    assert {doc["id"] for doc in Store(tmp_path).list_experiments()} == set(ids)
    assert (tmp_path / "index" / "00.json").exists() == any(exp_id.startswith("00") for exp_id in ids)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".index")] == []


def test_an_older_ocrq_refuses_the_sharded_store(tmp_path):
    """The marker's schema makes a schema-1 ocrq refuse the store (it would write summaries nobody reads)."""
    store = Store(tmp_path)
    _new(store, "new")
    with mock.patch.object(storage, "SCHEMA_VERSION", 1), pytest.raises(SchemaTooNew, match="upgrade ocrq"):
        Store(tmp_path)


def test_a_newer_shard_is_refused(tmp_path):
    store = Store(tmp_path)
    exp_id = _new(store, "x")
    shard = tmp_path / "index" / f"{exp_id[:2]}.json"
    data = json.loads(shard.read_text())
    data["meta"]["1"]["schema"] = SCHEMA_VERSION + 1
    shard.write_text(json.dumps(data))
    with pytest.raises(SchemaTooNew):
        Store(tmp_path).list_experiments()
    with pytest.raises(SchemaTooNew):
        store.set_status(exp_id, "running")


def test_deleting_permanently_removes_summary_and_folder(tmp_path):
    store = Store(tmp_path)
    keep, gone = _new(store, "keep"), _new(store, "gone")
    folder = store.experiment_dir(gone)
    assert (folder / SUMMARY_FILE).exists()
    store.delete_permanently(gone)
    assert not folder.exists()
    assert [doc["id"] for doc in store.list_experiments(include_deleted=True)] == [keep]
    assert os.path.exists(tmp_path / "index.json")
