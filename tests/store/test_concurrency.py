"""Several real processes writing one store at once, a reader polling it, and a writer killed with -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from store import Store

WORKER = str(Path(__file__).with_name("store_worker.py"))
WRITERS = 4
RECORDS = 200


def _spawn(*arguments: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, WORKER, *arguments], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_parallel_writers_lose_nothing_while_a_reader_polls(tmp_path):
    home = tmp_path / "home"
    store = Store(home)
    shared = store.create_experiment(name="shared", template="t", config={}, model="m")["id"]
    own = [
        store.create_experiment(name=f"w{n}", template="t", config={}, model="m")["id"]
        for n in range(WRITERS)
    ]
    stop_file = tmp_path / "stop"
    reader = _spawn("reader", str(home), shared, str(stop_file))
    writers = [_spawn("writer", str(home), shared, own[n], str(n), str(RECORDS)) for n in range(WRITERS)]
    for process in writers:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        assert out.split("\n")[-2] == f"ack {RECORDS - 1}"
    stop_file.touch()
    out, err = reader.communicate(timeout=60)
    assert reader.returncode == 0, err
    polls = int(out.split()[1])
    assert polls > 0

    epochs, cursor = store.epochs(shared)
    assert cursor == WRITERS * RECORDS
    assert sorted((epoch["writer"], epoch["i"]) for epoch in epochs) == [
        (writer, index) for writer in range(WRITERS) for index in range(RECORDS)
    ]
    summaries = {doc["id"]: doc for doc in store.list_experiments()}
    assert len(summaries) == WRITERS + 1
    for exp_id in own:
        assert [summaries[exp_id].get(f"r{index:03d}") for index in range(RECORDS)] == list(range(RECORDS))


def _read_acks(process: subprocess.Popen, wanted: int) -> list[str]:
    lines = []
    while len(lines) < wanted:
        line = process.stdout.readline()
        assert line, process.stderr.read()
        lines.append(line.strip())
    return lines


def test_a_writer_killed_mid_write_leaves_every_acknowledged_record(tmp_path):
    home = tmp_path / "home"
    store = Store(home)
    exp_id = store.create_experiment(name="victim", template="t", config={}, model="m")["id"]
    acked_epochs: set[int] = set()
    acked_summaries: set[int] = set()
    for round_number, delay in enumerate((0.0, 0.013, 0.031)):  # different instants, to hit a write
        process = _spawn("forever", str(home), exp_id, str(round_number * 1_000_000))
        lines = _read_acks(process, 20)
        time.sleep(delay)
        os.kill(process.pid, signal.SIGKILL)
        rest, _ = process.communicate(timeout=30)
        assert process.returncode == -signal.SIGKILL
        for line in lines + rest.splitlines():
            _, what, index = line.split()
            (acked_epochs if what == "epoch" else acked_summaries).add(int(index))
        reopened = Store(home)
        epochs, cursor = reopened.epochs(exp_id)
        stored = [epoch["i"] for epoch in epochs]
        assert cursor == len(stored)
        assert acked_epochs <= set(stored)
        assert len(stored) == len(set(stored))
        summary = reopened.get(exp_id)
        assert all(summary.get(f"k{index}") == index for index in acked_summaries)
    # After the kills the store still takes writes, and they remove any temp file a kill left behind.
    assert store.record_epoch(exp_id, {"i": -1}) == len(store.epochs(exp_id)[0])
    store.update_summary(exp_id, stage="after")
    leftovers = [
        p.name
        for p in [*home.iterdir(), *(home / "index").iterdir(), *store.experiment_dir(exp_id).iterdir()]
        if p.suffix == ".tmp"
    ]
    assert leftovers == []
