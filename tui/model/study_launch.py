"""Starting `ocrq study run` detached from the TUI, and stopping a running study. No Textual here.

The study's process runs in its own session with its output in ``HOME/launches/study-NAME.log``, like
a launched run; stopping sends it the graceful signal (it stops starting trials, interrupts the running
one and writes its output files), then kills it after a grace period.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from pipeline.config import TEMPLATES, ConfigError
from pipeline.config.study_options import check_study_options
from store import Store, process_alive, this_host
from tui.model.launch import LAUNCH_DIR, start_detached, stop_process

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,79}$")


@dataclass(frozen=True)
class StudyRequest:
    """What the study form asks for (numbers as the text typed, checked by `validate_study`)."""

    template: str
    method: str = "bayesian"
    target: str = "balanced"
    n_trials: str = "20"
    jobs: str = "1"
    name: str = ""
    dry_run: bool = False


@dataclass(frozen=True)
class LaunchedStudy:
    name: str
    pid: int
    argv: tuple[str, ...]
    log_path: Path

    @property
    def command_line(self) -> str:
        return shlex.join(self.argv)


def _int(flag: str, text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ConfigError(f"{flag} '{text}' is not a whole number") from None


def validate_study(request: StudyRequest, store: Store) -> tuple[int, int]:
    """(n_trials, jobs); ConfigError with the line `ocrq study run` would print."""
    if request.template not in TEMPLATES:
        raise ConfigError(f"template '{request.template}' is not known; allowed {', '.join(TEMPLATES)}")
    n_trials, jobs = _int("--n-trials", request.n_trials), _int("--jobs", request.jobs)
    check_study_options(request.method, request.target, "median", n_trials, jobs)
    name = request.name.strip()
    if not _NAME.match(name):
        raise ConfigError(f"--study-name '{name}' is not allowed; use up to 80 letters, digits, _ . -")
    if any(study.get("name") == name for study in store.list_studies()):
        raise ConfigError(f"--study-name '{name}' is taken; give a new name (`ocrq study run` resumes it)")
    return n_trials, jobs


def study_arguments(request: StudyRequest) -> list[str]:
    args = ["study", "run", request.template, f"--method={request.method}",
            f"--optimization-target={request.target}", f"--n-trials={request.n_trials.strip()}",
            f"--jobs={request.jobs.strip()}", f"--study-name={request.name.strip()}"]  # fmt: skip
    if request.dry_run:
        args.append("--dry-run")
    return args


def launch_study(store: Store, request: StudyRequest) -> LaunchedStudy:
    """Validate and start `ocrq study run` detached; ConfigError (nothing started) for a bad request."""
    validate_study(request, store)
    home = Path(store.home)
    argv = [sys.executable, "-m", "cli.main", "--home", str(home), *study_arguments(request)]
    log_path = home / LAUNCH_DIR / f"study-{request.name.strip()}.log"
    process = start_detached(argv, log_path, env={**os.environ, "OCRQ_HOME": str(home)})
    return LaunchedStudy(request.name.strip(), process.pid, tuple(argv), log_path)


def stop_study(store: Store, study: dict, grace_s: float = 30.0) -> str:
    """Stop a running study's main process (its workers stop with it); a one-line message."""
    pid, host = study.get("pid"), study.get("host")
    if study.get("status") != "running":
        return f"study {study.get('name')} is {study.get('status')}; nothing to stop"
    if host and host != this_host():
        return f"study {study.get('name')} runs on {host}; stop it there"
    if not isinstance(pid, int) or not process_alive(pid, study.get("pid_started")):
        return f"study {study.get('name')} has no live process (pid {pid})"
    outcome = stop_process(pid, grace_s, started=study.get("pid_started"))
    return f"study {study.get('name')}: {outcome} (pid {pid})"
