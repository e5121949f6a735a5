"""A run whose process died without finishing reads as ``crashed``: at once on this host, on another once its
heartbeat is stale."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import pytest

from store import Store, process_alive, process_started, stop_process

WORKER = str(Path(__file__).with_name("store_worker.py"))


def _backdate_heartbeat(folder: Path, seconds: float, **changes) -> None:
    path = folder / "heartbeat.json"
    beat = json.loads(path.read_text())
    beat["time"] = (datetime.now(UTC) - timedelta(seconds=seconds)).isoformat(timespec="milliseconds")
    beat.update(changes)
    path.write_text(json.dumps(beat))


def test_a_dead_run_of_this_host_reads_as_crashed_at_once(tmp_path):
    """Its process is gone: crashed even with a fresh heartbeat (`--resume` used to wait a minute)."""
    store = Store(tmp_path)
    exp_id = store.create_experiment(name="doomed", template="t", config={}, model="m")["id"]
    subprocess.run([sys.executable, WORKER, "running", str(tmp_path), exp_id], check=True, timeout=60)
    folder = store.experiment_dir(exp_id)
    beat = json.loads((folder / "heartbeat.json").read_text())
    assert beat["pid"] != os.getpid() and beat["stage"] == "train"

    assert store.get(exp_id)["status"] == "crashed"
    _backdate_heartbeat(folder, 120)
    assert store.get(exp_id)["status"] == "crashed"
    assert [doc["id"] for doc in store.list_experiments(status="crashed")] == [exp_id]
    assert store.list_experiments(status="running") == []


def test_a_run_of_another_host_is_crashed_once_its_heartbeat_is_stale(tmp_path):
    store = Store(tmp_path)
    exp_id = store.create_experiment(name="remote", template="t", config={}, model="m")["id"]
    subprocess.run([sys.executable, WORKER, "running", str(tmp_path), exp_id], check=True, timeout=60)
    folder = store.experiment_dir(exp_id)
    _backdate_heartbeat(folder, 0, host="some-other-box")
    assert store.get(exp_id)["status"] == "running"  # its process cannot be checked from here
    _backdate_heartbeat(folder, 30, host="some-other-box")
    assert store.list_experiments()[0]["status"] == "running"
    _backdate_heartbeat(folder, 120, host="some-other-box")
    assert store.get(exp_id)["status"] == "crashed"


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


# -- process liveness (psutil) -------------------------------------------------------------------


def _zombie_child() -> subprocess.Popen:
    """A child that has exited and is not reaped: it keeps its pid and shows as a zombie."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 30
    while psutil.Process(child.pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "the child did not exit"
        time.sleep(0.01)
    return child


def test_a_zombie_child_counts_dead_although_its_pid_exists():
    child = _zombie_child()
    try:
        os.kill(child.pid, 0)  # the old check: the pid still answers
        assert not process_alive(child.pid)
        assert process_started(child.pid) is None
    finally:
        child.wait()


def test_a_live_process_counts_alive_and_a_reaped_one_dead():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert process_alive(child.pid)
        assert process_alive(child.pid, process_started(child.pid))
    finally:
        child.kill()
        child.wait()
    assert not process_alive(child.pid)
    assert process_alive(os.getpid())


def test_a_reused_pid_is_not_the_recorded_process():
    started = process_started(os.getpid())
    assert started is not None and process_alive(os.getpid(), started)
    assert not process_alive(os.getpid(), started - 3600)  # same pid, another process's create time


@pytest.mark.parametrize("pid", [None, 0, -1, True, "123", 2**22 + 12345])
def test_pids_that_cannot_be_a_live_process(pid):
    assert not process_alive(pid)


@pytest.mark.parametrize("step", [-1.0, 1.0])
def test_a_boot_time_that_stepped_a_second_keeps_a_live_run_running(tmp_path, step):
    """psutil adds the kernel's boot time (whole seconds, recomputed at each read) to a process's start
    ticks, so the run and a reader can see its create time a second apart; that is not a reused pid."""
    store = Store(tmp_path)
    exp_id = store.create_experiment(name="alive", template="t", config={}, model="m")["id"]
    store.set_status(exp_id, "running")
    store.heartbeat(exp_id, stage="train")
    beat = json.loads((store.experiment_dir(exp_id) / "heartbeat.json").read_text())
    _backdate_heartbeat(store.experiment_dir(exp_id), 600, pid_started=beat["pid_started"] + step)
    assert store.get(exp_id)["status"] == "running"


def test_a_running_experiment_whose_pid_was_reused_reads_as_crashed(tmp_path):
    store = Store(tmp_path)
    exp_id = store.create_experiment(name="reused", template="t", config={}, model="m")["id"]
    store.set_status(exp_id, "running")
    store.heartbeat(exp_id, stage="train")
    beat = json.loads((store.experiment_dir(exp_id) / "heartbeat.json").read_text())
    # the kernel's boot time is whole seconds and can step by one between two reads
    assert beat["pid"] == os.getpid() and beat["pid_started"] == pytest.approx(
        process_started(os.getpid()), abs=1
    )
    _backdate_heartbeat(store.experiment_dir(exp_id), 600)
    assert store.get(exp_id)["status"] == "running"  # this process, alive
    # The pid now names this test process, but the recorded run started an hour earlier.
    _backdate_heartbeat(store.experiment_dir(exp_id), 600, pid_started=beat["pid_started"] - 3600)
    assert store.get(exp_id)["status"] == "crashed"


_SIGINT_EXITS = "import signal, sys, time\nsignal.signal(signal.SIGINT, lambda *a: sys.exit(3))\n"
_IGNORES_SIGINT = "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"


@pytest.mark.parametrize(
    ("code", "outcome"),
    [(_SIGINT_EXITS, "interrupted"), (_IGNORES_SIGINT, "killed")],
    ids=["obeys", "ignores"],
)
def test_stop_process_interrupts_then_kills_and_reaps_its_child(tmp_path, code, outcome):
    ready = tmp_path / "ready"
    script = code + f"open({str(ready)!r}, 'w').close()\ntime.sleep(60)\n"
    child = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 30
    while not ready.exists():
        assert time.monotonic() < deadline and child.poll() is None
        time.sleep(0.01)
    assert stop_process(child.pid, grace_s=1.0, started=process_started(child.pid)) == outcome
    assert not process_alive(child.pid)
    assert not psutil.pid_exists(child.pid) or psutil.Process(child.pid).status() != psutil.STATUS_ZOMBIE
    child.wait(timeout=5)
    assert stop_process(child.pid, grace_s=1.0) == "gone"


def test_stop_process_leaves_a_process_with_another_create_time_alone():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        started = process_started(child.pid)
        assert stop_process(child.pid, grace_s=0.5, started=started - 3600) == "gone"
        assert process_alive(child.pid, started)
    finally:
        child.kill()
        child.wait()
