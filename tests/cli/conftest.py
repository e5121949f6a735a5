from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cli.main import main


class Ocrq:
    """Runs `ocrq ...` in-process through the real entry point; returns (exit code, stdout, stderr)."""

    def __init__(self, capsys):
        self.capsys = capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = main(list(args))
        captured = self.capsys.readouterr()
        return code, captured.out, captured.err


@pytest.fixture
def ocrq(capsys, ocrq_home):
    return Ocrq(capsys)


def snapshot(home: Path) -> dict[str, str]:
    """Every file under the home with a hash of its bytes (to prove a command wrote nothing)."""
    if not home.exists():
        return {}
    return {
        str(p.relative_to(home)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(home.rglob("*"))
        if p.is_file() and not p.name.endswith(".lock")
    }


def installed_ocrq() -> Path:
    """The `ocrq` console script of the environment running the tests (what a shell would run)."""
    path = Path(sys.executable).parent / "ocrq"
    if not path.is_file():
        pytest.skip(f"no installed ocrq next to {sys.executable}; pip install -e . first")
    return path


class Shell:
    """Runs the installed `ocrq` in a subprocess, as a shell would, with OCRQ_HOME set to a tmp folder."""

    def __init__(self, home: Path, cwd: Path) -> None:
        self.home, self.cwd, self.bin = home, cwd, installed_ocrq()

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("OCRQ_DEBUG", "OCRQ_HOME")}
        return {**env, "OCRQ_HOME": str(self.home), "NO_COLOR": "1", "OMP_NUM_THREADS": "1"}

    def __call__(
        self, *args: str, stdin: str | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(self.bin), *args],
            input=stdin if stdin is not None else "",
            capture_output=True,
            text=True,
            env=self.env(),
            cwd=self.cwd,
            timeout=timeout,
        )

    def popen(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(
            [str(self.bin), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env(),
            cwd=self.cwd,
            preexec_fn=_interactive_signals,
        )


def _interactive_signals() -> None:
    # A test run started as a script's background job hands its children SIGINT ignored, and Python then
    # keeps it ignored; a user's shell runs `ocrq` in the foreground with SIGINT at its default.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def shell(ocrq_home, tmp_path) -> Shell:
    return Shell(ocrq_home, tmp_path)


def error_line(result: subprocess.CompletedProcess) -> str:
    """The single `ocrq: error: ...` line of a failed command (asserting there is exactly one)."""
    lines = [line for line in result.stderr.splitlines() if line.startswith("ocrq: error: ")]
    assert len(lines) == 1, (result.returncode, result.stdout, result.stderr)
    return lines[0]
