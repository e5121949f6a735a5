"""Suite-wide settings: one torch thread (a busy 2-core machine makes oversubscribed torch ~10x slower)
and an isolated ocrq home per test."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")


@pytest.fixture(autouse=True)
def _one_torch_thread():
    import sys

    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
    yield


@pytest.fixture
def ocrq_home(tmp_path, monkeypatch):
    """A fresh, empty ocrq home that every store and CLI call in the test uses."""
    home = tmp_path / "ocrq-home"
    monkeypatch.setenv("OCRQ_HOME", str(home))
    return home
