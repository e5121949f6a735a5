"""Is a run's process alive, and stopping it: psutil rather than ``os.kill(pid, 0)``.

``os.kill(pid, 0)`` succeeds for a zombie (a child that exited and was not reaped yet) and for an
unrelated process that got the pid after the run's process ended. psutil reads the process state
(a zombie counts as dead) and its create time, which the store records beside the pid, so a reused
pid is not taken for the run's process.
"""

from __future__ import annotations

import signal
import time
from typing import Any

import psutil

# psutil derives create times from the boot time + start ticks (10 ms resolution). The kernel gives the
# boot time in whole seconds, worked out from the clock at each read, so it steps by one now and then:
# the same process can read 1 s apart. A reused pid belongs to a process started well after that.
CREATE_TIME_TOLERANCE_S = 1.5
STOP_GRACE_S = 10.0
_KILL_WAIT_S = 5.0


def _valid_pid(pid: object) -> bool:
    return isinstance(pid, int) and not isinstance(pid, bool) and pid > 0


def process_started(pid: object) -> float | None:
    """The create time (seconds since the epoch) of a live process, ``None`` when there is none."""
    if not _valid_pid(pid):
        return None
    try:
        process = psutil.Process(pid)
        return None if process.status() == psutil.STATUS_ZOMBIE else process.create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def process_alive(pid: object, started: object = None) -> bool:
    """Whether ``pid`` is a live process on this machine (a zombie counts as dead).

    Args:
        pid: the process id to check; anything but a positive int is dead.
        started: the create time recorded with the pid (:func:`process_started`); when given, a
            process with this pid that was started at another time is a reused pid and counts as dead.
    """
    if not _valid_pid(pid):
        return False
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        if isinstance(started, int | float) and not isinstance(started, bool):
            return abs(process.create_time() - started) < CREATE_TIME_TOLERANCE_S
        return True
    except psutil.ZombieProcess:
        return False
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True  # it exists but belongs to another user


def process_command(pid: object) -> list[str] | None:
    """The command line of a live process; ``None`` when it is gone or cannot be read."""
    if not _valid_pid(pid):
        return None
    try:
        return psutil.Process(pid).cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def looks_like_ocrq(pid: object) -> bool:
    """Whether ``pid`` runs ocrq (guards against signalling a recycled pid); True where it cannot tell."""
    command = process_command(pid)
    if command is None:
        return True
    text = " ".join(command)
    return "ocrq" in text or "cli.main" in text


def stop_process(
    pid: int,
    grace_s: float = STOP_GRACE_S,
    *,
    started: float | None = None,
    graceful: int = signal.SIGINT,
    reap: bool = True,
) -> str:
    """Send ``graceful`` to ``pid``, then SIGKILL if it is still alive after ``grace_s``.

    A child of this process is reaped while waiting, so it does not linger as a zombie.

    Args:
        pid: the process to stop.
        grace_s: seconds to wait for a graceful exit.
        started: the recorded create time; a process with another one is not the run's, and is left alone.
        graceful: the first signal (`ocrq run` turns SIGINT into a graceful interrupt).
        reap: wait for a child of this process (reaping it); False leaves that to the caller's own
            `Popen`, which then still learns the exit code.

    Returns:
        ``"interrupted"`` (it exited within the grace period), ``"killed"`` or ``"gone"`` (not running).
    """
    if not process_alive(pid, started):
        return "gone"
    try:
        process = psutil.Process(pid)
        process.send_signal(graceful)
    except psutil.NoSuchProcess:
        return "gone"
    if _wait_gone(process, grace_s, reap):
        return "interrupted"
    try:
        process.kill()
    except psutil.NoSuchProcess:
        return "interrupted"
    _wait_gone(process, _KILL_WAIT_S, reap)
    return "killed"


def _wait_gone(process: Any, timeout_s: float, reap: bool = True) -> bool:
    """Wait until the process exits (reaping it when it is our child and `reap`); whether it did in time."""
    if not reap:
        deadline = time.monotonic() + timeout_s
        while process_alive(process.pid):  # a zombie counts as gone
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True
    try:
        process.wait(timeout=timeout_s)
    except psutil.TimeoutExpired:
        return not process_alive(process.pid)  # a zombie of another parent counts as gone
    except psutil.NoSuchProcess:
        pass
    return True
