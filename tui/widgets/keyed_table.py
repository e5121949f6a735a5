"""A DataTable kept in sync with data by row key: changed cells are updated in place, new rows added,
gone rows removed, and the order fixed by a stable sort, so the cursor stays on its row and only the
cells that changed are redrawn (cheap over SSH)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from rich.text import Text
from textual.widgets import DataTable


class KeyedTable(DataTable):
    """A row-cursor DataTable with column keys, filled with :meth:`sync`.

    Args:
        columns: ``(key, label)`` pairs, in display order.
        follow_tail: keep the cursor on the last row when it was there and rows are appended.
    """

    def __init__(self, columns: Sequence[tuple[str, str]], *, follow_tail: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("cursor_type", "row")
        kwargs.setdefault("zebra_stripes", True)
        super().__init__(**kwargs)
        self.column_keys = [key for key, _ in columns]
        self._labels = [label for _, label in columns]
        self._cells: dict[str, tuple[Any, ...]] = {}
        self._order: list[str] = []
        self._row_anchor: dict[str, Text] = {}
        self.follow_tail = follow_tail

    def on_mount(self) -> None:
        if not self.columns:
            for key, label in zip(self.column_keys, self._labels, strict=True):
                self.add_column(label, key=key)

    @property
    def keys(self) -> list[str]:
        """Row keys in display order."""
        return list(self._order)

    @property
    def cursor_key(self) -> str | None:
        """The key of the row under the cursor, or ``None`` when the table is empty."""
        if not self._order or not 0 <= self.cursor_row < len(self._order):
            return None
        return self._order[self.cursor_row]

    def cells_of(self, key: str) -> tuple[Any, ...] | None:
        return self._cells.get(key)

    def _with_anchor(self, key: str, cells: Sequence[Any]) -> tuple[Any, ...]:
        # The first cell of each row is a distinct Text object, so a sort can find the row by identity.
        first = cells[0] if isinstance(cells[0], Text) else Text(str(cells[0]))
        first = first.copy()
        self._row_anchor[key] = first
        return (first, *cells[1:])

    def sync(self, rows: Iterable[tuple[str, Sequence[Any]]]) -> None:
        """Show exactly ``rows`` (``(key, cells)`` in display order), touching only what changed."""
        rows = list(rows)
        wanted = {key for key, _ in rows}
        cursor_key = self.cursor_key
        at_tail = cursor_key is None or cursor_key == self._order[-1]
        for key in [key for key in self._order if key not in wanted]:
            self.remove_row(key)
            del self._cells[key], self._row_anchor[key]
        self._order = [key for key in self._order if key in wanted]
        for key, cells in rows:
            cells = tuple(cells)
            old = self._cells.get(key)
            if old is None:
                anchored = self._with_anchor(key, cells)
                self.add_row(*anchored, key=key)
                self._cells[key] = cells
                self._order.append(key)
                continue
            if old == cells:
                continue
            for index, (column, before, after) in enumerate(zip(self.column_keys, old, cells, strict=True)):
                if before != after:
                    value = self._with_anchor(key, cells)[0] if index == 0 else after
                    self.update_cell(key, column, value)
            self._cells[key] = cells
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

    def set_cell(self, key: str, column: str, value: Any) -> None:
        """Change one cell of row ``key`` in place."""
        cells = list(self._cells[key])
        index = self.column_keys.index(column)
        cells[index] = value
        self._cells[key] = tuple(cells)
        self.update_cell(key, column, self._with_anchor(key, cells)[0] if index == 0 else value)

    def reset(self) -> None:
        """Remove every row (columns stay)."""
        self.clear()
        self._cells.clear()
        self._order.clear()
        self._row_anchor.clear()
