from __future__ import annotations

import hashlib
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
