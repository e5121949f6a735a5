"""store.doctor on real homes made by the Store API, each kind of damage made by hand."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from store import SCHEMA_VERSION, SchemaTooNew, Store
from store.doctor import examine, run_doctor

WORKER = str(Path(__file__).with_name("store_worker.py"))
LONG_AGO = time.time() - 3600


def _new(store: Store, name: str, **overrides) -> str:
    arguments = {"name": name, "template": "tiny", "config": {"lr": 0.1}, "model": "crnn"} | overrides
    return store.create_experiment(**arguments)["id"]


def _finished(store: Store, name: str, **fields) -> str:
    exp_id = _new(store, name)
    store.set_status(exp_id, "running")
    store.record_epoch(exp_id, {"epoch": 1, "cer": 0.2})
    store._set_status(exp_id, "finished", fields=fields)
    return exp_id


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _kinds(report) -> list[tuple[str, str]]:
    return sorted((problem.kind, problem.outcome) for problem in report.problems)


def test_a_healthy_store_has_no_problems_and_nothing_is_written(tmp_path):
    store = Store(tmp_path)
    for n in range(5):
        _finished(store, f"ok-{n}")
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    report = run_doctor(tmp_path, fix=True, delete=True)
    assert report.problems == [] and report.healthy
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == before


def test_a_truncated_shard_is_rebuilt_from_the_folders_without_losing_summaries(tmp_path):
    store = Store(tmp_path)
    exp_id = _finished(store, "precious", best_cer=0.031)
    store.tag(exp_id, add=["paper"])
    store.set_note(exp_id, "the one in the paper")
    shard = tmp_path / "index" / f"{exp_id[:2]}.json"
    shard.write_bytes(shard.read_bytes()[:40])  # a full disk, a killed copy: half a file
    with pytest.raises(Exception, match="not valid JSON"):
        store.list_experiments()

    report = examine(Store(tmp_path, verify=False))
    assert [(p.kind, p.subject) for p in report.problems] == [("corrupt-index", f"index/{exp_id[:2]}.json")]
    assert not report.healthy

    report = run_doctor(tmp_path, fix=True)
    assert _kinds(report) == [("corrupt-index", "repaired")] and report.healthy
    summary = Store(tmp_path).get(exp_id)
    assert (summary["status"], summary["tags"], summary["note"], summary["best_cer"]) == (
        "finished", ["paper"], "the one in the paper", 0.031,
    )  # fmt: skip
    assert examine(Store(tmp_path)).problems == []


def test_a_corrupt_old_single_file_index_is_rebuilt_into_shards(tmp_path):
    store = Store(tmp_path)
    kept = _finished(store, "kept")
    bare = _finished(store, "no-copy")
    (store.experiment_dir(bare) / "summary.json").unlink()  # as in stores older than the copies
    shutil_rmtree(tmp_path / "index")
    (tmp_path / "index.json").write_text('{"meta":{"1":{"schema":1}},"experiments":{"1":{"id":"')  # truncated
    with pytest.raises(Exception, match="not valid JSON"):
        Store(tmp_path).list_experiments()

    report = run_doctor(tmp_path, fix=True)
    assert _kinds(report) == [("corrupt-index", "repaired")]
    listed = {doc["id"]: doc for doc in Store(tmp_path).list_experiments()}
    assert listed[kept]["status"] == "finished"
    assert listed[bare]["status"] == "failed" and "status lost" in listed[bare]["error"]
    assert listed[bare]["name"] == "no-copy"
    assert json.loads((tmp_path / "index.json").read_text())["meta"]["1"]["schema"] == SCHEMA_VERSION


def shutil_rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path)


def test_a_deleted_marker_is_rewritten(tmp_path):
    store = Store(tmp_path)
    exp_id = _finished(store, "x")
    (tmp_path / "index.json").unlink()
    report = run_doctor(tmp_path, fix=True)
    assert _kinds(report) == [("corrupt-index", "repaired")]
    assert [doc["id"] for doc in Store(tmp_path).list_experiments()] == [exp_id]


def test_an_orphan_folder_is_put_back_and_an_empty_one_deleted_only_with_yes(tmp_path):
    store = Store(tmp_path)
    orphan = _finished(store, "orphan", best_cer=0.05)
    store._index.remove(orphan)  # the index entry is lost; the folder and its files stay
    junk = tmp_path / "experiments" / "0123456789ab"
    junk.mkdir()
    (junk / "half-deleted.bin").write_bytes(b"x")
    young = tmp_path / "experiments" / "abcdefabcdef"
    young.mkdir()  # being created right now: not an orphan yet
    for folder in (store.experiment_dir(orphan), junk):
        os.utime(folder, (LONG_AGO, LONG_AGO))

    report = run_doctor(tmp_path, fix=True)
    found = {p.subject: p for p in report.problems}
    assert set(found) == {f"experiments/{orphan}", "experiments/0123456789ab"}
    assert found[f"experiments/{orphan}"].outcome == "repaired"
    assert found["experiments/0123456789ab"].outcome == "needs --yes" and not report.healthy
    assert junk.exists()
    back = Store(tmp_path).get(orphan)
    assert (back["status"], back["best_cer"], back["name"]) == ("finished", 0.05, "orphan")

    report = run_doctor(tmp_path, fix=True, delete=True)
    assert _kinds(report) == [("orphan-folder", "repaired")] and report.healthy
    assert not junk.exists() and young.exists()


def test_an_entry_whose_folder_is_gone_is_removed_only_with_yes(tmp_path):
    store = Store(tmp_path)
    keep = _finished(store, "keep")
    gone = _finished(store, "gone")
    shutil_rmtree(store.experiment_dir(gone))
    report = run_doctor(tmp_path, fix=True)
    assert [(p.kind, p.subject, p.outcome) for p in report.problems] == [
        ("missing-folder", gone, "needs --yes")
    ]
    assert {doc["id"] for doc in Store(tmp_path).list_experiments()} == {keep, gone}
    report = run_doctor(tmp_path, fix=True, delete=True)
    assert report.healthy and report.problems[0].outcome == "repaired"
    assert [doc["id"] for doc in Store(tmp_path).list_experiments()] == [keep]


def test_stale_temp_files_old_or_of_a_dead_writer_are_deleted_only_with_yes(tmp_path):
    store = Store(tmp_path)
    exp_id = _finished(store, "t")
    folder = store.experiment_dir(exp_id)
    dead = tmp_path / "index" / f".{exp_id[:2]}.json.{_dead_pid()}.0a0b0c0d.tmp"
    dead.write_text('{"half":')  # fresh, but its writer is gone
    old = folder / "model.onnx.part"
    old.write_bytes(b"\0" * 10)
    os.utime(old, (LONG_AGO, LONG_AGO))
    live = folder / f".experiment.json.{os.getpid()}.01020304.tmp"
    live.write_text("{")  # fresh and its writer (this process) alive: being written
    fresh = folder / "checkpoint.pt.tmp"
    fresh.write_bytes(b"x")

    report = run_doctor(tmp_path, fix=True)
    assert sorted(p.subject for p in report.problems) == sorted(
        [str(dead.relative_to(tmp_path)), str(old.relative_to(tmp_path))]
    )
    assert {p.outcome for p in report.problems} == {"needs --yes"} and dead.exists() and old.exists()
    report = run_doctor(tmp_path, fix=True, delete=True)
    assert report.healthy and not dead.exists() and not old.exists()
    assert live.exists() and fresh.exists()


def _backdate_heartbeat(folder: Path, seconds: float) -> None:
    path = folder / "heartbeat.json"
    beat = json.loads(path.read_text())
    beat["time"] = (datetime.now(UTC) - timedelta(seconds=seconds)).isoformat(timespec="milliseconds")
    path.write_text(json.dumps(beat))


def test_runs_whose_process_is_dead_are_stored_as_crashed_or_failed(tmp_path):
    store = Store(tmp_path)
    crashed = _new(store, "was-running")
    subprocess.run([sys.executable, WORKER, "running", str(tmp_path), crashed], check=True, timeout=60)
    _backdate_heartbeat(store.experiment_dir(crashed), 600)
    never = _new(store, "never-started")
    store.update_summary(never, pid=_dead_pid(), pid_started=None)
    alive_running = _new(store, "alive")
    store.set_status(alive_running, "running")  # this process: alive
    _backdate_heartbeat_after_beat(store, alive_running)
    waiting = _new(store, "just-created")  # created by this live process

    report = run_doctor(tmp_path)
    assert sorted(p.subject for p in report.problems) == sorted([crashed, never])
    assert {p.outcome for p in report.problems} == {"found"} and not report.healthy

    report = run_doctor(tmp_path, fix=True)
    assert report.healthy and {p.outcome for p in report.problems} == {"repaired"}
    after = {doc["id"]: doc for doc in Store(tmp_path).list_experiments()}
    assert after[crashed]["status"] == "crashed" and "is gone" in after[crashed]["error"]
    assert after[never]["status"] == "failed" and "never started" in after[never]["error"]
    assert after[alive_running]["status"] == "running" and after[waiting]["status"] == "created"
    assert examine(Store(tmp_path)).problems == []


def _backdate_heartbeat_after_beat(store: Store, exp_id: str) -> None:
    store.heartbeat(exp_id, stage="train")
    _backdate_heartbeat(store.experiment_dir(exp_id), 600)


def test_a_newer_store_is_refused(tmp_path):
    store = Store(tmp_path)
    _new(store, "x")
    marker = tmp_path / "index.json"
    data = json.loads(marker.read_text())
    data["meta"]["1"]["schema"] = SCHEMA_VERSION + 1
    marker.write_text(json.dumps(data, separators=(",", ":")))
    with pytest.raises(SchemaTooNew):
        run_doctor(tmp_path, fix=True, delete=True)
