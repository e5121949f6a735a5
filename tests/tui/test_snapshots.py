"""Snapshots of every screen at 100x30, 80x24 and 60x20 (pytest-textual-snapshot; update with
--snapshot-update), and of the quickstart-sized experiment's tabs (six variants, three phases).

The store is filled with fixed ids and timestamps, so a snapshot changes only when the UI does.
"""

from __future__ import annotations

import pytest
from textual.widgets import DataTable

from tests.tui.conftest import wait_for
from tests.tui.store_fixtures import IDS, QUICK_ID
from tui.app import OcrqApp
from tui.screens.compare import CompareScreen
from tui.screens.experiment import ExperimentScreen
from tui.screens.experiments import ExperimentsScreen
from tui.screens.help import HelpScreen
from tui.screens.launch import LaunchScreen
from tui.screens.studies import StudiesScreen

SIZES = [
    pytest.param((100, 30), id="100x30"),
    pytest.param((80, 24), id="80x24"),
    pytest.param((60, 20), id="60x20"),
]


async def _settled(pilot) -> None:
    """Wait until every table has measured its rows (DataTable does it when the app is idle)."""
    tables = lambda: pilot.app.screen.query(DataTable)  # noqa: E731
    await wait_for(
        pilot, lambda: not any(t._require_update_dimensions for t in tables()), what="table widths"
    )
    await pilot.pause(0.05)


def _snap(snap_compare, store, size, run_before) -> bool:
    async def prepare(pilot) -> None:
        await _list_loaded(pilot)
        await _settled(pilot)
        if run_before is not None:
            await run_before(pilot)
        await _settled(pilot)

    return snap_compare(_app(store), terminal_size=size, run_before=prepare)


def _app(store) -> OcrqApp:
    app = OcrqApp(store, cursor_blink=False)
    app.animation_level = "none"
    return app


async def _list_loaded(pilot) -> None:
    await wait_for(
        pilot,
        lambda: isinstance(pilot.app.screen, ExperimentsScreen) and pilot.app.screen.loaded,
        what="list",
    )


@pytest.mark.parametrize("size", SIZES)
def test_experiments_screen(snap_compare, filled_store, size):
    assert _snap(snap_compare, filled_store, size, None)


@pytest.mark.parametrize("size", SIZES)
def test_experiment_screen(snap_compare, filled_store, size):
    async def run_before(pilot) -> None:
        pilot.app.open_experiment(IDS["qat"])
        await wait_for(
            pilot,
            lambda: isinstance(pilot.app.screen, ExperimentScreen) and pilot.app.screen.epochs,
            what="epochs",
        )

    assert _snap(snap_compare, filled_store, size, run_before)


@pytest.mark.parametrize("size", SIZES)
def test_experiment_charts(snap_compare, filled_store, size):
    async def run_before(pilot) -> None:
        pilot.app.open_experiment(IDS["baseline"])
        await wait_for(
            pilot,
            lambda: isinstance(pilot.app.screen, ExperimentScreen) and pilot.app.screen.epochs,
            what="epochs",
        )
        await pilot.press("g")

    assert _snap(snap_compare, filled_store, size, run_before)


@pytest.mark.parametrize("size", SIZES)
def test_compare_screen(snap_compare, filled_store, size):
    async def run_before(pilot) -> None:
        pilot.app.compare([IDS["baseline"], IDS["qat"]])
        await wait_for(
            pilot,
            lambda: isinstance(pilot.app.screen, CompareScreen) and pilot.app.screen.experiments,
            what="compare",
        )

    assert _snap(snap_compare, filled_store, size, run_before)


@pytest.mark.parametrize("size", SIZES)
def test_studies_screen(snap_compare, filled_store, size):
    async def run_before(pilot) -> None:
        await pilot.press("2")
        await wait_for(
            pilot,
            lambda: isinstance(pilot.app.screen, StudiesScreen) and pilot.app.screen.study,
            what="studies",
        )

    assert _snap(snap_compare, filled_store, size, run_before)


@pytest.mark.parametrize("size", SIZES)
def test_launch_screen(snap_compare, filled_store, size):
    async def run_before(pilot) -> None:
        pilot.app.launch("smoke")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, LaunchScreen), what="the launch form")

    assert _snap(snap_compare, filled_store, size, run_before)


@pytest.mark.parametrize("size", SIZES)
def test_help_screen(snap_compare, filled_store, size):
    async def run_before(pilot) -> None:
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, HelpScreen), what="the help")
        await pilot.pause(0.2)

    assert _snap(snap_compare, filled_store, size, run_before)


def _quick_tab(key: str | None):
    async def run_before(pilot) -> None:
        pilot.app.open_experiment(QUICK_ID)
        await wait_for(
            pilot,
            lambda: (
                isinstance(pilot.app.screen, ExperimentScreen)
                and pilot.app.screen.document
                and pilot.app.screen.epochs
            ),
            what="the quickstart experiment",
        )
        if key is not None:
            await pilot.press(key)

    return run_before


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("tab", ["e", "g", "v"], ids=["epochs", "charts", "variants"])
def test_quickstart_tabs(snap_compare, quick_store, size, tab):
    assert _snap(snap_compare, quick_store, size, _quick_tab(tab))


@pytest.mark.parametrize("size", SIZES)
def test_quickstart_list(snap_compare, quick_store, size):
    assert _snap(snap_compare, quick_store, size, None)
