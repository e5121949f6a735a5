"""Two or more experiments side by side: metrics (best and last), config differences, variants."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, Static, TabbedContent, TabPane

from tui.messages import ComparisonLoaded
from tui.model.format import config_differences, metric_rows, value_text
from tui.polling import PollingScreen
from tui.widgets.common.keyed_table import Col, KeyedTable
from tui.widgets.experiment.variants_table import VariantsTable


class CompareTable(KeyedTable):
    """A comparison table whose columns are the experiments; rebuilt only when they change.

    Every experiment stays in view: a value too long for its share of the width ends in an ellipsis
    (the line under the table shows the highlighted row in full), and the first column is frozen.
    """

    FIRST_WIDTH = 24

    def set_experiments(
        self, first: tuple[str, str], experiments: list[dict[str, Any]], *, numeric: bool = False
    ) -> None:
        """One column per experiment after the frozen ``first``; ``numeric`` right-aligns them (figures)."""
        count = max(1, len(experiments))
        available = max(20, self.app.size.width - 4) - (self.FIRST_WIDTH + 2)
        share = max(10, available // count - 2)
        columns = [Col(first[0], first[1], 0, max_width=self.FIRST_WIDTH)] + [
            Col(
                e["id"],
                f"{e['id'][:8]} {e.get('name') or ''}".strip()[:share],
                0,
                max_width=share,
                numeric=numeric,
            )
            for e in experiments
        ]
        if [column.key for column in columns] != self.column_keys or columns != self.specs:
            self.reset()
            self.replace_columns(columns)
            self.fixed_columns = 1


class CompareScreen(PollingScreen):
    """Compares experiments; refreshed while any of them changes (a running one, a new tag).

    Args:
        exp_ids: two or more full experiment ids, in column order.
    """

    POLL_INTERVAL = 2.0
    BINDINGS = [
        Binding("escape,backspace", "back", "Back", id="compare.back", tooltip="Back to the previous screen"),
        Binding("m", "tab('metrics')", "Metrics", id="compare.metrics", tooltip="Best and last metrics"),
        Binding("c", "tab('config')", "Config", id="compare.config", tooltip="Config side by side"),
        Binding(
            "v",
            "tab('variants')",
            "Variants",
            id="compare.variants",
            tooltip="Every variant of every experiment",
        ),
        Binding(
            "o",
            "only_changed",
            "Only changed",
            id="compare.only_changed",
            tooltip="Show only config fields that differ",
        ),
    ]

    def __init__(self, exp_ids: list[str]) -> None:
        super().__init__()
        self.exp_ids = list(exp_ids)
        self.experiments: list[dict[str, Any]] = []
        self.only_changed = True
        self._signature: tuple | None = None
        self._config_rows: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield Static("", id="compare-header", classes="status-line")
        with TabbedContent(initial="metrics", id="compare-tabs"):
            with TabPane("Metrics", id="metrics"):
                yield CompareTable((("metric", "metric"),), id="metrics-table", zebra_stripes=True)
            with TabPane("Config", id="config"):
                yield CompareTable((("field", "field"),), id="config-table")
                yield Static("", id="config-value", classes="path-line")
            with TabPane("Variants", id="variants"):
                yield VariantsTable(per_experiment=True, id="compare-variants")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"compare {len(self.exp_ids)} experiments"
        self.query_one("#metrics-table", CompareTable).focus()

    def read_store(self, force: bool) -> Message | None:
        store = self.app.store
        signature = (store.index_signature(), *(store.experiment_signature(i) for i in self.exp_ids))
        running = any(e.get("status") == "running" for e in self.experiments)
        if not force and signature == self._signature and not running:
            return None
        experiments = store.compare(self.exp_ids)
        self._signature = signature
        return ComparisonLoaded(experiments)

    def on_comparison_loaded(self, message: ComparisonLoaded) -> None:
        self.experiments = message.experiments
        metrics = self.query_one("#metrics-table", CompareTable)
        # right-aligned like `ocrq compare`: the figures' decimal points line up
        metrics.set_experiments(("metric", "metric"), self.experiments, numeric=True)
        metrics.sync((label, (label, *values)) for label, values in metric_rows(self.experiments))
        self._show_config()
        self.query_one(VariantsTable).show_experiments(self.experiments)
        names = ", ".join(f"{e['id'][:8]} {e.get('name') or ''}".strip() for e in self.experiments)
        self.query_one("#compare-header", Static).update(Text(names))

    def _show_config(self) -> None:
        table = self.query_one("#config-table", CompareTable)
        table.set_experiments(("field", "field"), self.experiments)
        rows = config_differences(self.experiments, only_changed=self.only_changed)
        self._config_rows = rows
        cells = []
        for row in rows:
            style = "yellow" if row["changed"] else ""
            cells.append(
                (
                    row["field"],
                    (
                        Text(row["field"], style=style),
                        *(Text(value_text(v), style=style) for v in row["values"]),
                    ),
                )
            )
        table.sync(cells)
        tabs = self.query_one(TabbedContent)
        label = f"Config ({len(rows)} {'changed' if self.only_changed else 'fields'})"
        tabs.get_tab("config").label = label

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """The highlighted config row in full (values too long for their column end in an ellipsis)."""
        if event.data_table.id != "config-table" or event.row_key.value is None:
            return
        row = next((r for r in self._config_rows if r["field"] == event.row_key.value), None)
        if row is None:
            return
        text = Text(f"{row['field']}: ", style="bold")
        for experiment, value in zip(self.experiments, row["values"], strict=False):
            text.append(f"{experiment['id'][:8]} {value_text(value)}  ")
        self.query_one("#config-value", Static).update(text)

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        target = {"metrics": "#metrics-table", "config": "#config-table", "variants": "#compare-variants"}[
            tab
        ]
        self.query_one(target, DataTable).focus()

    def action_only_changed(self) -> None:
        self.only_changed = not self.only_changed
        self._show_config()
        self.query_one(TabbedContent).active = "config"
        self.notify(
            "config: only fields that differ" if self.only_changed else "config: every field", timeout=3
        )
