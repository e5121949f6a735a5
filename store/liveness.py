"""Heartbeats and the ``crashed`` status derived from them.

A running experiment rewrites ``heartbeat.json`` every few seconds (atomically, without a lock: the
last writer wins and a reader sees one whole file). A reader that finds an experiment stored as
``running`` whose process is gone (or a zombie, or its pid now belongs to a process started at another
time) shows it as ``crashed`` at once when the run's host is this machine; a run on another machine
(a shared home) is ``crashed`` once its heartbeat is stale.
"""

from __future__ import annotations

import json
import os
import socket
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from .files import atomic_write_bytes, encode_json
from .processes import process_alive, process_started
from .values import now_iso, parse_iso

HEARTBEAT_FILE = "heartbeat.json"
STALE_AFTER_S = 60.0


@cache
def this_host() -> str:
    """This machine's host name, as recorded in heartbeats."""
    return socket.gethostname()


@cache
def this_process_started() -> float | None:
    """This process's create time, recorded beside its pid so that a reused pid is not taken for it."""
    return process_started(os.getpid())


def write_heartbeat(
    folder: Path, *, stage: str | None, progress: str | None, gpus: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Replace the heartbeat file of an experiment folder and return what was written.

    ``gpus`` (a GPU run's utilisation and memory, one dict a device) is written only when given.
    """
    beat: dict[str, Any] = {
        "time": now_iso(),
        "pid": os.getpid(),
        "pid_started": this_process_started(),
        "host": this_host(),
        "stage": stage,
        "progress": progress,
    }
    if gpus:
        beat["gpus"] = gpus
    # Not fsynced: a heartbeat lost in a power cut only makes the run look crashed, which it then is.
    atomic_write_bytes(folder / HEARTBEAT_FILE, encode_json(beat), durable=False)
    return beat


def read_heartbeat(folder: Path) -> dict[str, Any] | None:
    """The last heartbeat of an experiment folder; ``None`` when there is none or it is unreadable."""
    try:
        with open(folder / HEARTBEAT_FILE, "rb") as handle:
            beat = json.loads(handle.read())
    except (OSError, ValueError):
        return None
    return beat if isinstance(beat, dict) else None


def derive_status(summary: dict[str, Any], folder: Path, now: datetime | None = None) -> str:
    """The status to show for an experiment: the stored one, or ``crashed`` for a dead ``running`` one.

    A ``running`` run of this host is alive exactly while its recorded process is; one of another host
    while its heartbeat is fresh.

    Args:
        summary: the experiment's index document (its ``status``, ``updated``, ``pid``, ``host``).
        folder: the experiment's folder, where the heartbeat file lives.
        now: the reference time (tests pass one); defaults to the current time.
    """
    status = summary.get("status")
    if status != "running":
        return status
    beat = read_heartbeat(folder) or {}
    host = beat.get("host", summary.get("host"))
    # The create time goes with the pid it was recorded beside (older heartbeats have none).
    source = beat if "pid" in beat else summary
    pid, started = source.get("pid"), source.get("pid_started")
    if host == this_host() and pid is not None:
        # On this machine the process itself answers: a run SIGKILLed a second ago is crashed now,
        # not after its heartbeat goes stale (`--resume` used to be refused for a minute).
        return "running" if process_alive(pid, started) else "crashed"
    last = parse_iso(beat.get("time")) or parse_iso(summary.get("updated"))
    now = now or datetime.now(UTC)
    if last is not None and (now - last).total_seconds() <= STALE_AFTER_S:
        return "running"  # another machine's run: only its heartbeat can say
    return "crashed"
