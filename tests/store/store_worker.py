"""Store worker processes for the multi-process tests (run as a script, not collected by pytest).

Modes:
    writer HOME SHARED_ID OWN_ID WRITER COUNT   epochs into SHARED_ID + one new summary field per record
                                                into OWN_ID; prints ``ack <i>`` after each returned pair
    reader HOME SHARED_ID STOP_FILE             polls listings and tails epochs until STOP_FILE exists
    forever HOME EXP_ID START                   writes epochs and summary fields from START until killed
    running HOME EXP_ID                         marks the experiment running, heartbeats, exits
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from store import Store  # noqa: E402


def writer(home: str, shared_id: str, own_id: str, writer_number: str, count: str) -> None:
    store = Store(home)
    for index in range(int(count)):
        store.record_epoch(shared_id, {"writer": int(writer_number), "i": index})
        store.update_summary(own_id, **{f"r{index:03d}": index})
        print(f"ack {index}", flush=True)


def reader(home: str, shared_id: str, stop_file: str) -> None:
    store = Store(home)
    cursor, seen, polls = 0, [], 0
    while not Path(stop_file).exists():
        listed = store.list_experiments()
        if len(listed) < 5:
            raise AssertionError(f"listing lost experiments: {len(listed)}")
        new, new_cursor = store.epochs(shared_id, cursor)
        if new_cursor < cursor or len(new) != new_cursor - cursor:
            raise AssertionError(f"cursor went from {cursor} to {new_cursor} with {len(new)} new epochs")
        seen += [(epoch["writer"], epoch["i"]) for epoch in new]
        cursor = new_cursor
        polls += 1
        time.sleep(0.01)  # a TUI-like poll rate that leaves the 2 CPU cores to the writers
    if len(set(seen)) != len(seen):
        raise AssertionError("an epoch was seen twice while tailing")
    print(f"polls {polls} cursor {cursor}", flush=True)


def forever(home: str, exp_id: str, start: str) -> None:
    store = Store(home)
    index = int(start)
    while True:
        store.record_epoch(exp_id, {"i": index, "payload": "x" * 200})
        print(f"ack epoch {index}", flush=True)
        store.update_summary(exp_id, **{f"k{index}": index})
        print(f"ack summary {index}", flush=True)
        index += 1


def running(home: str, exp_id: str) -> None:
    store = Store(home)
    store.set_status(exp_id, "running")
    store.heartbeat(exp_id, stage="train", progress="epoch 1")


if __name__ == "__main__":
    mode, *arguments = sys.argv[1:]
    {"writer": writer, "reader": reader, "forever": forever, "running": running}[mode](*arguments)
