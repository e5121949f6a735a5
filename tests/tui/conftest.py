"""Fixtures for the TUI tests: a store filled through the real store API, the app, and waiting helpers."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from store import Store
from tests.tui.store_fixtures import fill_quickstart, fill_store
from tui.app import OcrqApp


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def filled_template(tmp_path_factory) -> Path:
    """The filled store, built once per session (its writes are fsynced: about a second)."""
    home = tmp_path_factory.mktemp("template") / "ocrq-home"
    fill_store(home)
    return home


@pytest.fixture
def filled_store(filled_template, tmp_path) -> Store:
    """A private copy of the filled store for one test (artifact paths still point into the template)."""
    home = tmp_path / "ocrq-home"
    shutil.copytree(filled_template, home)
    return Store(home)


@pytest.fixture(scope="session")
def quick_template(tmp_path_factory) -> Path:
    """The filled store plus a quickstart-sized experiment, built once per session."""
    home = tmp_path_factory.mktemp("quick") / "ocrq-home"
    fill_quickstart(fill_store(home))
    return home


@pytest.fixture
def quick_store(quick_template, tmp_path) -> Store:
    """A private copy of the quickstart store, as if copied from another machine (artifact paths recorded
    there point into the template's folders)."""
    home = tmp_path / "ocrq-home"
    shutil.copytree(quick_template, home)
    return Store(home)


@pytest.fixture
def fresh_store(tmp_path) -> Store:
    """The filled store built in this test's folder (artifact paths point into it)."""
    return fill_store(tmp_path / "ocrq-home")


@pytest.fixture
def make_app() -> Callable[..., OcrqApp]:
    def make(store: Store, **kwargs) -> OcrqApp:
        return OcrqApp(store, cursor_blink=False, **kwargs)

    return make


async def wait_for(
    pilot, predicate: Callable[[], object], timeout: float = 5.0, what: str = "condition"
) -> None:
    """Let the app run until ``predicate()`` is true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.02)  # lets the app run; pilot.pause would force a full redraw each time
    await pilot.pause(0)


def screen_text(app) -> str:
    """What the terminal shows now, as plain text (one line per terminal row)."""
    import io

    from rich.console import Console

    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True, legacy_windows=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()
