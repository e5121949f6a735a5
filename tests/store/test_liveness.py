"""A run whose process died without finishing reads as ``crashed`` once its heartbeat is stale."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from store import Store

WORKER = str(Path(__file__).with_name("store_worker.py"))


def _backdate_heartbeat(folder: Path, seconds: float, **changes) -> None:
    path = folder / "heartbeat.json"
    beat = json.loads(path.read_text())
    beat["time"] = (datetime.now(UTC) - timedelta(seconds=seconds)).isoformat(timespec="milliseconds")
    beat.update(changes)
    path.write_text(json.dumps(beat))


def test_a_dead_run_with_a_stale_heartbeat_reads_as_crashed(tmp_path):
    store = Store(tmp_path)
    exp_id = store.create_experiment(name="doomed", template="t", config={}, model="m")["id"]
    subprocess.run([sys.executable, WORKER, "running", str(tmp_path), exp_id], check=True, timeout=60)
    folder = store.experiment_dir(exp_id)
    beat = json.loads((folder / "heartbeat.json").read_text())
    assert beat["pid"] != os.getpid() and beat["stage"] == "train"

    # Fresh heartbeat: still running even though the process is gone (it may just be between beats).
    assert store.get(exp_id)["status"] == "running"

    _backdate_heartbeat(folder, 30)
    assert store.list_experiments()[0]["status"] == "running"

    _backdate_heartbeat(folder, 120)
    assert store.get(exp_id)["status"] == "crashed"
    assert [doc["id"] for doc in store.list_experiments(status="crashed")] == [exp_id]
    assert store.list_experiments(status="running") == []


def test_a_live_process_keeps_running_despite_a_stale_heartbeat(tmp_path):
    store = Store(tmp_path)
    exp_id = store.create_experiment(name="slow", template="t", config={}, model="m")["id"]
    store.set_status(exp_id, "running")
    store.heartbeat(exp_id, stage="export")
    _backdate_heartbeat(store.experiment_dir(exp_id), 600)  # this test process is alive
    assert store.get(exp_id)["status"] == "running"

    # On another host the process cannot be checked: a stale heartbeat alone means crashed.
    _backdate_heartbeat(store.experiment_dir(exp_id), 600, host="some-other-box")
    assert store.get(exp_id)["status"] == "crashed"


def test_finished_runs_are_never_crashed(tmp_path):
    store = Store(tmp_path)
    exp_id = store.create_experiment(name="done", template="t", config={}, model="m")["id"]
    subprocess.run([sys.executable, WORKER, "running", str(tmp_path), exp_id], check=True, timeout=60)
    store.set_status(exp_id, "finished")
    _backdate_heartbeat(store.experiment_dir(exp_id), 3600)
    assert store.get(exp_id)["status"] == "finished"
