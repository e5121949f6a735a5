"""A DataTable kept in sync with data by row key: changed cells are updated in place, new rows added,
gone rows removed, and the order fixed by a stable sort, so the cursor stays on its row and only the
cells that changed are redrawn (cheap over SSH).

DataTable measures every cell of every new row, about a millisecond per row: a table of thousands of
rows is filled a chunk at a time, so its first screen paints at once and the rest arrives behind it.
Cells can be made lazily from row data, so only rows that are new or changed are formatted.

Columns fit the terminal: each has a priority, and when the widths of their contents do not fit, the
columns of least value are hidden first (a hidden column takes no width; nothing is rebuilt). Numeric
columns are right-aligned, and a column can cap its width (long values end in an ellipsis).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.widgets import DataTable
from textual.widgets._data_table import Column

# The first chunk fills a tall terminal; later chunks are bigger, so the rest arrives in fewer passes.
FIRST_CHUNK = 120
CHUNK = 400


def _as_cells(values: Sequence[Any]) -> tuple[Any, ...]:
    # Plain strings become Text: DataTable would read them as markup ("[b]" in a run name).
    return tuple(Text(value) if isinstance(value, str) else value for value in values)


@dataclass(frozen=True)
class Col:
    """One column of a :class:`KeyedTable`.

    Attributes:
        key: the column key.
        label: the header text.
        priority: 0 is always shown; when the table is too narrow, the highest numbers are hidden first.
        numeric: right-align the column (header and cells).
        max_width: cells wider than this end in an ellipsis.
    """

    key: str
    label: str
    priority: int = 1
    numeric: bool = False
    max_width: int | None = None


@dataclass
class _FitColumn(Column):
    """A DataTable column that can be hidden: it then takes no width at all."""

    hidden: bool = False

    def get_render_width(self, data_table: DataTable[Any]) -> int:
        return 0 if self.hidden else super().get_render_width(data_table)


def as_columns(columns: Sequence[Col | tuple[str, str]]) -> list[Col]:
    """Columns as :class:`Col` (plain ``(key, label)`` pairs: the first always shown, the rest at 1)."""
    return [
        column if isinstance(column, Col) else Col(column[0], column[1], priority=0 if index == 0 else 1)
        for index, column in enumerate(columns)
    ]


class KeyedTable(DataTable):
    """A row-cursor DataTable with column keys, filled with :meth:`sync`; home and end go to the first and
    last row (DataTable scrolls sideways, which a table that fits never needs).

    Args:
        columns: ``(key, label)`` pairs, in display order.
        follow_tail: keep the cursor on the last row when it was there and rows are appended.
    """

    BINDINGS = [
        Binding(
            "home", "first_row", "First row", show=False, id="table.first", tooltip="Go to the first row"
        ),
        Binding("end", "last_row", "Last row", show=False, id="table.last", tooltip="Go to the last row"),
    ]

    def __init__(
        self, columns: Sequence[Col | tuple[str, str]], *, follow_tail: bool = False, **kwargs: Any
    ) -> None:
        kwargs.setdefault("cursor_type", "row")
        kwargs.setdefault("zebra_stripes", True)
        super().__init__(**kwargs)
        self.specs = as_columns(columns)
        self.column_keys = [column.key for column in self.specs]
        self._labels = [column.label for column in self.specs]
        self.follow_tail = follow_tail
        self.pinned: set[str] = set()  # columns ranked with the most valuable (the sort column)
        self.chosen_off: set[str] = set()  # columns the user chose not to see
        self._cells: dict[str, tuple[Any, ...]] = {}  # what each shown row displays
        self._row_data: dict[str, Any] = {}  # the data each shown row was made from
        self._order: list[str] = []  # shown rows, in display order
        self._row_anchor: dict[str, Text] = {}
        self._wanted: list[tuple[str, Any]] = []  # every row asked for, shown or still to come
        self._make: Callable[[Any], Sequence[Any]] = lambda data: data
        self._limit = FIRST_CHUNK
        self._growing = False

    def _update_dimensions(self, new_rows: Iterable[Any]) -> None:
        super()._update_dimensions(new_rows)
        # DataTable (textual 8.2) caches rendered cells without their column width: rows drawn before
        # they were measured would keep the narrower width until some later update. Drop the caches.
        self._clear_caches()
        self.fit_columns()
        self.refresh()

    def on_mount(self) -> None:
        if not self.columns:
            self.replace_columns(self.specs)

    def replace_columns(self, columns: Sequence[Col | tuple[str, str]]) -> None:
        """Replace every column (and row) with ``columns``."""
        self.specs = as_columns(columns)
        self.column_keys = [column.key for column in self.specs]
        self._labels = [column.label for column in self.specs]
        self.clear(columns=True)
        for spec in self.specs:
            self.add_column(Text(spec.label, justify="right" if spec.numeric else "left"), key=spec.key)
            plain = self.columns[spec.key]  # type: ignore[index]
            self.columns[plain.key] = _FitColumn(
                plain.key, plain.label, plain.width, plain.content_width, plain.auto_width
            )

    def set_label(self, key: str, label: str) -> None:
        """Change a column's header text (redrawn at once, the column widened if needed)."""
        column = self.columns.get(key)  # type: ignore[call-overload]
        if column is None:
            return
        spec = self.specs[self.column_keys.index(key)]
        column.label = Text(label, justify="right" if spec.numeric else "left")
        column.content_width = max(column.content_width, column.label.cell_len)
        self._clear_caches()
        self.fit_columns()
        self.refresh()

    def on_resize(self, event: events.Resize) -> None:
        self.fit_columns()
        # a table made shorter (a header filled in above it) keeps its cursor row in view
        self.call_after_refresh(self._keep_cursor_in_view)

    def _keep_cursor_in_view(self) -> None:
        if self.row_count:  # the row under the cursor now, not at the resize: a key may have moved it
            self.move_cursor(row=self.cursor_row, animate=False)

    def _width_for_columns(self) -> int:
        """The width the columns may take once the rows now in the table are laid out.

        The vertical scrollbar appears only at the next layout after rows outgrow the height; fitting
        to the width before it would overflow for a frame, show a horizontal scrollbar, and hide the
        newest row under it. So the scrollbar's width is taken off as soon as the rows need it.
        """
        width, height = self.container_size
        overflow_y = self.styles.overflow_y
        if overflow_y == "scroll" or (overflow_y == "auto" and self.virtual_size.height > height):
            width -= self.styles.scrollbar_size_vertical
        return width

    def fit_columns(self) -> None:
        """Show the columns that fit the width, in priority order; hide the rest."""
        available = self._width_for_columns()
        if available <= 0 or not self.columns:
            return
        padding = 2 * self.cell_padding
        self._current_specs()
        ranked = sorted(
            range(len(self.specs)),
            key=lambda index: (
                min(1, self.specs[index].priority)
                if self.specs[index].key in self.pinned
                else self.specs[index].priority,
                index,
            ),
        )
        used, shown = 0, set()
        for index in ranked:
            spec = self.specs[index]
            column = self.columns.get(spec.key)  # type: ignore[call-overload]
            if column is None or spec.key in self.chosen_off:
                continue
            width = (column.content_width if column.auto_width else column.width) + padding
            if spec.priority == 0 or used + width <= available:
                shown.add(spec.key)
                used += width
            elif spec.priority > 0:
                used = available  # a lower-value column never takes the place of a higher one
        changed = False
        for key, column in self.columns.items():
            if isinstance(column, _FitColumn) and column.hidden != (key.value not in shown):
                column.hidden = key.value not in shown
                changed = True
        if changed:
            self._clear_caches()
            width = sum(column.get_render_width(self) for column in self.columns.values())
            self.virtual_size = Size(width + self._row_label_column_width, self.virtual_size.height)
            self.scroll_x = 0
            self.refresh()

    @property
    def shown_columns(self) -> list[str]:
        """Keys of the columns shown now (not hidden for lack of width)."""
        return [key.value for key, column in self.columns.items() if not getattr(column, "hidden", False)]

    def _current_specs(self) -> list[Col]:
        # A subclass that sets column_keys itself (plain columns) gets plain specs for them.
        if [spec.key for spec in self.specs] != self.column_keys:
            self.specs = as_columns([(key, key) for key in self.column_keys])
        return self.specs

    def _shape(self, cells: tuple[Any, ...]) -> tuple[Any, ...]:
        """Right-align numeric columns and cap widths."""
        shaped = []
        for spec, cell in zip(self._current_specs(), cells, strict=False):
            if isinstance(cell, Text) and (spec.numeric or spec.max_width):
                cell = cell.copy()
                if spec.numeric:
                    cell.justify = "right"
                if spec.max_width and cell.cell_len > spec.max_width:
                    cell.truncate(spec.max_width, overflow="ellipsis")
            shaped.append(cell)
        shaped.extend(cells[len(shaped) :])
        return tuple(shaped)

    def action_first_row(self) -> None:
        if self.row_count:
            self.move_cursor(row=0, animate=False)
        self.scroll_x = 0

    def action_last_row(self) -> None:
        if self.row_count:
            self.move_cursor(row=self.row_count - 1, animate=False)
        self.scroll_x = 0

    @property
    def keys(self) -> list[str]:
        """Keys of the rows in the table, in display order."""
        return list(self._order)

    @property
    def complete(self) -> bool:
        """Whether every row given to :meth:`sync` is in the table (big tables fill in chunks)."""
        return len(self._wanted) <= self._limit

    @property
    def cursor_key(self) -> str | None:
        """The key of the row under the cursor, or ``None`` when the table is empty."""
        if not self._order or not 0 <= self.cursor_row < len(self._order):
            return None
        return self._order[self.cursor_row]

    def cells_of(self, key: str) -> tuple[Any, ...] | None:
        """What row ``key`` shows, or ``None`` when it is not in the table."""
        return self._cells.get(key)

    def sync(
        self, rows: Iterable[tuple[str, Any]], cells: Callable[[Any], Sequence[Any]] | None = None
    ) -> None:
        """Show exactly ``rows`` in this order, touching only what changed.

        Args:
            rows: ``(key, data)`` pairs; without ``cells`` the data is the row's cells.
            cells: makes a row's cells from its data; called only for new rows and changed data.
        """
        self._wanted = list(rows)
        self._make = cells or (lambda data: data)
        self._apply(self._wanted[: self._limit])
        self._grow_later()

    def _grow_later(self) -> None:
        if not self.complete and not self._growing:
            self._growing = True
            self.call_after_refresh(self._grow)

    def _grow(self) -> None:
        if self.screen is not self.app.screen:  # a hidden table waits: the visible screen gets the time
            self.set_timer(0.25, self._grow)
            return
        self._growing = False
        self._limit += CHUNK
        self._apply(self._wanted[: self._limit])
        self._grow_later()

    def _with_anchor(self, key: str, cells: tuple[Any, ...]) -> tuple[Any, ...]:
        # Each row's first cell is a Text object of its own, so a sort can find the row by identity.
        first = cells[0].copy()
        self._row_anchor[key] = first
        return (first, *cells[1:])

    def _apply(self, rows: list[tuple[str, Any]]) -> None:
        wanted = {key for key, _ in rows}
        cursor_key = self.cursor_key
        at_tail = cursor_key is None or cursor_key == self._order[-1]
        for key in [key for key in self._order if key not in wanted]:
            self.remove_row(key)
            del self._cells[key], self._row_data[key], self._row_anchor[key]
        self._order = [key for key in self._order if key in wanted]
        for key, data in rows:
            if key in self._row_data and self._row_data[key] == data:
                continue
            cells = self._shape(_as_cells(self._make(data)))
            old = self._cells.get(key)
            self._cells[key], self._row_data[key] = cells, data
            if old is None:
                self.add_row(*self._with_anchor(key, cells), key=key)
                self._order.append(key)
                continue
            for index, (column, before, after) in enumerate(zip(self.column_keys, old, cells, strict=True)):
                if before != after:  # widths follow the content: a longer value widens its column
                    value = self._with_anchor(key, cells)[0] if index == 0 else after
                    self.update_cell(key, column, value, update_width=True)
        order = [key for key, _ in rows]
        if order != self._order:
            rank = {id(self._row_anchor[key]): index for index, key in enumerate(order)}
            self.sort(self.column_keys[0], key=lambda cell: rank[id(cell)])
            self._order = order
        if not self._order:
            return
        if self.follow_tail and at_tail:  # a live table keeps showing its newest row
            self.move_cursor(row=len(self._order) - 1, animate=False)
        elif cursor_key in wanted:
            self.move_cursor(row=self._order.index(cursor_key), animate=False, scroll=False)

    def reset(self) -> None:
        """Remove every row (columns stay)."""
        self.clear()
        self._cells.clear()
        self._row_data.clear()
        self._order.clear()
        self._row_anchor.clear()
        self._wanted = []
        self._limit = FIRST_CHUNK
