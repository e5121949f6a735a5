"""End to end in a real terminal (tmux): start a dry-run study from the launch form in study mode (the
Studies screen's `n`) and watch its trial arrive on the Studies screen."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys

import pytest

from store import Store
from tests.tui.test_e2e_tmux import PROMPT, Tmux, _tui_command
from tui.model.launch import process_alive

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


def test_start_a_study_from_the_tui_and_watch_its_trial(tmp_path):
    home = tmp_path / "home"
    tmux = Tmux(f"ocrq-study-{os.getpid()}")
    tmux.start({"PS1": PROMPT, "TERM": "xterm-256color", "OMP_NUM_THREADS": "1", "PATH": os.environ["PATH"]})
    try:
        tmux.type(_tui_command(home))
        tmux.keys("Enter")
        tmux.wait_for("no experiments yet", timeout=30)
        tmux.keys("2")
        tmux.wait_for("No studies yet", timeout=10)
        tmux.keys("n")
        tmux.wait_for("launch an Optuna study", timeout=10)
        tmux.type("tmuxstudy")  # the name field has the focus
        tmux.keys("Tab", "Tab")  # method, then trials
        tmux.type("1")
        tmux.keys("Tab", "Tab", "Tab", "Enter", "Down", "Enter")  # target, jobs, dry run: yes
        tmux.wait_for("--dry-run", timeout=10)  # the command line below the form says so
        tmux.keys("C-r")
        tmux.wait_for("tmuxstudy", timeout=30)
        screen = tmux.wait_for("complete", timeout=240)
        assert "val CER" in screen or "variant" in screen, screen
        study = Store(home).get_study("tmuxstudy")
        states = json.loads(subprocess.run(
            [sys.executable, "-m", "cli.main", "--home", str(home), "study", "show", "tmuxstudy", "--json"],
            capture_output=True, text=True, check=True,
        ).stdout)["counts"]  # fmt: skip
        assert states == {"complete": 1} and study["status"] in ("running", "finished")
        tmux.keys("q")
    finally:
        tmux.kill()
        for study in Store(home).list_studies() if home.exists() else []:
            if isinstance(study.get("pid"), int) and process_alive(study["pid"]):
                os.kill(study["pid"], signal.SIGKILL)
