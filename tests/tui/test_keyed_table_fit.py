"""A live table that grows past its height gets a vertical scrollbar: its columns must refit to the
narrower width, or a horizontal scrollbar appears and hides the newest row under it."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Static

from tui.widgets.common.keyed_table import Col, KeyedTable

pytestmark = pytest.mark.anyio

COLUMNS = (Col("name", "name", 0), Col("a", "a", 1, numeric=True), Col("b", "b", 2, numeric=True))


class _TableApp(App):
    CSS = "KeyedTable { height: 8; width: 100%; }"

    def compose(self) -> ComposeResult:
        yield KeyedTable(COLUMNS, follow_tail=True)


def _row(index: int, name_width: int) -> tuple[str, str, str]:
    return (f"{index:0{name_width}d}", f"{index * 1.5:8.2f}", f"{index:6d}")


@pytest.mark.parametrize("width", [36, 37, 38, 39, 40])
async def test_growing_table_refits_under_its_vertical_scrollbar_and_keeps_the_tail_in_view(width):
    # name + a + b with one-cell padding each side: every column fits only while no scrollbar is shown
    name_width = width - (8 + 2) - (6 + 2) - 2
    app = _TableApp()
    async with app.run_test(size=(width, 12)) as pilot:
        table = app.query_one(KeyedTable)
        rows: list[tuple[str, tuple[str, str, str]]] = []
        for index in range(15):
            rows.append((f"r{index}", _row(index, name_width)))
            table.sync(list(rows))
            await pilot.pause()
            # at every frame, not only once it settles: a screenshot or a user may catch any of them
            assert table.virtual_size.width <= table.scrollable_content_region.width, index
            assert not table.show_horizontal_scrollbar, index
        await pilot.pause(0.1)
        assert table.show_vertical_scrollbar
        assert not table.show_horizontal_scrollbar, "a column should have been hidden instead"
        assert table.virtual_size.width <= table.scrollable_content_region.width
        assert table.shown_columns == ["name", "a"]
        assert table.cursor_row == len(rows) - 1
        last_line = table.header_height + len(rows)  # lines of content, header included
        assert table.scroll_y + table.scrollable_content_region.height >= last_line, "newest row hidden"


async def test_columns_hidden_for_the_scrollbar_come_back_when_rows_go():
    width = 38
    name_width = width - (8 + 2) - (6 + 2) - 2
    app = _TableApp()
    async with app.run_test(size=(width, 12)) as pilot:
        table = app.query_one(KeyedTable)
        table.sync([(f"r{index}", _row(index, name_width)) for index in range(15)])
        await pilot.pause(0.1)
        assert table.shown_columns == ["name", "a"]
        table.sync([(f"r{index}", _row(index, name_width)) for index in range(3)])
        await pilot.pause(0.1)
        assert not table.show_vertical_scrollbar
        assert table.shown_columns == ["name", "a", "b"]
        assert not table.show_horizontal_scrollbar


class _HeaderAndTableApp(App):
    CSS = "#header { height: 1; } KeyedTable { height: 1fr; }"

    def compose(self) -> ComposeResult:
        yield Static("header", id="header")
        yield KeyedTable(COLUMNS, follow_tail=True)


async def test_table_made_shorter_keeps_its_newest_row_in_view():
    # a screen's header fills in after its table has scrolled to the tail: the table loses height
    app = _HeaderAndTableApp()
    async with app.run_test(size=(40, 16)) as pilot:
        table = app.query_one(KeyedTable)
        table.sync([(f"r{index}", _row(index, 10)) for index in range(30)])
        await pilot.pause(0.1)
        assert table.cursor_row == 29
        app.query_one("#header").styles.height = 4
        await pilot.pause(0.1)
        last_line = table.header_height + 30
        assert table.scroll_y + table.scrollable_content_region.height >= last_line, "newest row hidden"
