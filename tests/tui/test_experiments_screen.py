"""The experiments list, driven with Pilot against a real store."""

from __future__ import annotations

import pytest

from tests.tui.conftest import wait_for
from tests.tui.store_fixtures import IDS
from tui.screens.compare import CompareScreen
from tui.screens.dialogs import ConfirmDialog, TextPrompt
from tui.screens.experiment import ExperimentScreen
from tui.screens.experiments import ExperimentsScreen, ExperimentsTable

pytestmark = pytest.mark.anyio


def _table(app) -> ExperimentsTable:
    return app.screen.query_one(ExperimentsTable)


async def _loaded(pilot) -> ExperimentsScreen:
    await wait_for(
        pilot,
        lambda: isinstance(pilot.app.screen, ExperimentsScreen) and pilot.app.screen.loaded,
        what="the list",
    )
    return pilot.app.screen


def _status_cell(table: ExperimentsTable, exp_id: str) -> str:
    return str(table.get_cell(exp_id, "status"))


async def test_lists_experiments_newest_first_with_status_and_figures(filled_store, make_app):
    app = make_app(filled_store)
    async with app.run_test(size=(100, 30)) as pilot:
        await _loaded(pilot)
        table = _table(app)
        expected = [IDS["running"], IDS["failed"], IDS["pruned"], IDS["qat"], IDS["baseline"]]
        assert table.keys == expected  # deleted one hidden
        assert _status_cell(table, IDS["running"]) == "▶ running"
        assert _status_cell(table, IDS["failed"]) == "✗ failed"
        assert str(table.get_cell(IDS["baseline"], "best_cer")) == "8.10%"
        assert str(table.get_cell(IDS["qat"], "tags")) == "qat,int4"


async def test_sort_keys_reorder_rows_and_keep_the_cursor_on_its_row(filled_store, make_app):
    app = make_app(filled_store)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _loaded(pilot)
        table = _table(app)
        await pilot.press("down", "down")  # on pruned-30
        assert table.cursor_key == IDS["pruned"]
        while screen.query_state.sort != "best_cer":
            await pilot.press("s")
        await wait_for(pilot, lambda: table.keys[0] == IDS["baseline"], what="sorting by CER")
        assert table.keys[:3] == [IDS["baseline"], IDS["qat"], IDS["pruned"]]  # lowest CER first, no CER last
        assert table.cursor_key == IDS["pruned"]
        await pilot.press("S")
        await wait_for(pilot, lambda: table.keys[0] == IDS["pruned"], what="reversed sort")
        assert table.keys[2] == IDS["baseline"]


async def test_filter_by_status_tag_and_text(filled_store, make_app):
    app = make_app(filled_store)
    async with app.run_test(size=(100, 30)) as pilot:
        await _loaded(pilot)
        table = _table(app)
        await pilot.press("slash", *"status:failed")
        await wait_for(pilot, lambda: table.keys == [IDS["failed"]], what="status filter")
        filter_input = app.screen.query_one("#filter-input")
        filter_input.value = "tag:qat"
        await wait_for(pilot, lambda: table.keys == [IDS["qat"]], what="tag filter")
        filter_input.value = "status:bogus"
        await wait_for(
            pilot, lambda: "not a status" in str(app.screen.query_one("#filter-error").render()), what="error"
        )
        filter_input.value = "pruned"
        await wait_for(pilot, lambda: table.keys == [IDS["pruned"]], what="text filter")
        await pilot.press("escape")
        assert app.focused is table


async def test_enter_opens_the_experiment(filled_store, make_app):
    app = make_app(filled_store)
    async with app.run_test(size=(100, 30)) as pilot:
        await _loaded(pilot)
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ExperimentScreen), what="the experiment screen")
        assert app.screen.exp_id == IDS["failed"]
        await pilot.press("escape")
        assert isinstance(app.screen, ExperimentsScreen)


async def test_space_marks_and_c_compares(filled_store, make_app):
    app = make_app(filled_store)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _loaded(pilot)
        await pilot.press("c")  # nothing marked: a warning, no screen
        assert app.screen is screen
        await pilot.press("down", "down", "space", "down", "space")  # marks pruned, then qat
        assert screen.marked == [IDS["pruned"], IDS["qat"]]
        assert str(_table(app).get_cell(IDS["pruned"], "mark")) == "●"
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen), what="the compare screen")
        assert app.screen.exp_ids == [IDS["pruned"], IDS["qat"]]


async def test_delete_asks_first_then_soft_deletes_and_u_restores(filled_store, make_app):
    app = make_app(filled_store)
    async with app.run_test(size=(100, 30)) as pilot:
        await _loaded(pilot)
        table = _table(app)
        await pilot.press("down", "down", "d")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("n")  # no: nothing changes
        assert not filled_store.get(IDS["pruned"])["deleted"]
        await pilot.press("delete")
        await pilot.press("y")
        await wait_for(pilot, lambda: IDS["pruned"] not in table.keys, what="the row to disappear")
        assert filled_store.get(IDS["pruned"])["deleted"]
        await pilot.press("a")  # show deleted ones
        await wait_for(pilot, lambda: IDS["pruned"] in table.keys, what="deleted rows to show")
        assert "(deleted)" in _status_cell(table, IDS["pruned"])
        table.move_cursor(row=table.keys.index(IDS["pruned"]))
        await pilot.press("u")
        await wait_for(pilot, lambda: not filled_store.get(IDS["pruned"])["deleted"], what="restore")


async def test_tag_and_note_from_the_keyboard(filled_store, make_app):
    app = make_app(filled_store)
    async with app.run_test(size=(100, 30)) as pilot:
        await _loaded(pilot)
        table = _table(app)
        await pilot.press("down", "down", "down", "t")  # qat-int4
        assert isinstance(app.screen, TextPrompt)
        await pilot.press(*"night -int4", "enter")
        await wait_for(pilot, lambda: filled_store.get(IDS["qat"])["tags"] == ["qat", "night"], what="tags")
        await wait_for(
            pilot, lambda: str(table.get_cell(IDS["qat"], "tags")) == "qat,night", what="the tags cell"
        )
        await pilot.press("n", *"best so far", "enter")
        await wait_for(pilot, lambda: filled_store.get(IDS["qat"])["note"] == "best so far", what="the note")


async def test_new_and_changed_experiments_show_without_a_keypress(filled_store, make_app):
    app = make_app(filled_store)
    async with app.run_test(size=(100, 30)) as pilot:
        await _loaded(pilot)
        table = _table(app)
        await pilot.press("down")
        new = filled_store.create_experiment(name="arrived", template="smoke", config={}, model="crnn_tiny")[
            "id"
        ]
        filled_store.update_summary(IDS["failed"], best_cer=0.5)
        await wait_for(pilot, lambda: table.keys[:1] == [new], timeout=6, what="the new experiment")
        await wait_for(
            pilot, lambda: str(table.get_cell(IDS["failed"], "best_cer")) == "50.00%", timeout=6, what="cell"
        )
        assert table.cursor_key == IDS["failed"]  # updated in place: the cursor stayed on its row
