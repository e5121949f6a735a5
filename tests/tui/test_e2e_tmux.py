"""End to end: `ocrq tui` in a real terminal (tmux), driven with send-keys and read with capture-pane.

Launches a real `ocrq run` of the smoke template from the TUI, watches it appear and train, quits the
TUI (the run keeps going: it is detached), opens the TUI again on that experiment and stops it.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from store import Store
from tui.model.launch import process_alive

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]
# `ocrq tui` whether or not cli/main.py registers the command yet.
TUI_ENTRY = (
    "import sys; from cli import main, tui_command; "
    "'tui' in {c.name for c in main.app.registered_commands} or tui_command.register(main.app); "
    "sys.exit(main.main())"
)


PROMPT = "ocrq-e2e> "


class Tmux:
    """One tmux server of our own (its own socket), holding one 100x30 window running bash."""

    def __init__(self, socket: str) -> None:
        self.socket = socket

    def run(self, *args: str) -> str:
        result = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=20
        )
        return result.stdout

    def start(self, env: dict[str, str]) -> None:
        exports = " ".join(f"{key}={shlex.quote(value)}" for key, value in env.items())
        self.run("-f", "/dev/null", "new-session", "-d", "-s", "e2e", "-x", "100", "-y", "30",
                 f"env {exports} bash --norc --noprofile")  # fmt: skip
        self.run("set-option", "-g", "escape-time", "0")

    def keys(self, *keys: str) -> None:
        for key in keys:
            self.run("send-keys", "-t", "e2e", key)
            time.sleep(0.15)

    def type(self, text: str) -> None:
        self.run("send-keys", "-t", "e2e", "-l", text)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "e2e")

    def wait_for(self, text: str, timeout: float, count: int = 1) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if screen.count(text) >= count:
                return screen
            time.sleep(0.25)
        raise AssertionError(f"'{text}' did not appear within {timeout} s; the screen:\n{self.screen()}")

    def wait_for_pattern(self, pattern: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if re.search(pattern, screen):
                return screen
            time.sleep(0.25)
        raise AssertionError(f"/{pattern}/ did not appear within {timeout} s; the screen:\n{self.screen()}")

    def kill(self) -> None:
        self.run("kill-server")


def _tui_command(home: Path, *args: str) -> str:
    argv = [sys.executable, "-c", TUI_ENTRY, "--home", str(home), "tui", *args]
    return shlex.join(argv)


def test_launch_watch_survive_quit_and_stop_a_smoke_run(tmp_path):
    home = tmp_path / "home"
    tmux = Tmux(f"ocrq-e2e-{os.getpid()}")
    env = {
        "PS1": PROMPT,
        "TERM": "xterm-256color",
        "COLORTERM": "truecolor",
        "OMP_NUM_THREADS": "1",
        "PATH": os.environ["PATH"],
    }
    tmux.start(env)
    try:
        tmux.type(_tui_command(home))
        tmux.keys("Enter")
        tmux.wait_for("no experiments yet", timeout=30)
        tmux.keys("C-p")
        tmux.wait_for("Search for commands", timeout=10)
        tmux.type("template smoke")
        tmux.wait_for("run: launch from template smoke", timeout=10)
        tmux.keys("Enter")
        tmux.wait_for("smoke: a tiny, fast run", timeout=10)
        tmux.keys("C-r")
        screen = tmux.wait_for("Epochs", timeout=15)
        store = Store(home)
        launches = list((home / "launches").glob("*.log"))
        assert len(launches) == 1, screen
        exp_id = launches[0].stem
        assert exp_id in screen
        tmux.wait_for("▶ running", timeout=90)  # the run recorded itself and shows live
        # its first epoch arrived in the epoch table (numbers are right-aligned in their column)
        tmux.wait_for_pattern(r"baseline +1 ", timeout=150)
        pid = store.get(exp_id)["pid"]
        tmux.keys("q")
        tmux.wait_for(PROMPT.strip(), timeout=15, count=2)  # back at the shell
        assert (
            process_alive(pid) and store.get(exp_id)["status"] == "running"
        )  # quitting the TUI left it alone
        tmux.type(_tui_command(home, exp_id[:6]))
        tmux.keys("Enter")
        tmux.wait_for("▶ running", timeout=30)
        tmux.keys("x")
        tmux.wait_for("Stop run", timeout=10)
        tmux.keys("y")
        tmux.wait_for("■ interrupted", timeout=60)
        assert store.get(exp_id)["status"] == "interrupted"
        deadline = time.monotonic() + 15
        while process_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not process_alive(pid)
        tmux.keys("q")
    finally:
        tmux.kill()
        for summary in Store(home).list_experiments() if home.exists() else []:
            if isinstance(summary.get("pid"), int) and process_alive(summary["pid"]):
                os.kill(summary["pid"], signal.SIGKILL)
