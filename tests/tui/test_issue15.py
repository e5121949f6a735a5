"""The 21 key sequences of issue 15, one test each (named ``test_rowNN_...``), against a real store.

Most use the quickstart-sized experiment (six variants, 17 baseline epochs, finetune and QAT phases,
twelve artifacts) in a store copied from elsewhere, at the terminal sizes users reported.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.text import Text
from textual.widgets import OptionList, TabbedContent

import tui.screens.launch as launch_module
from tests.tui.conftest import screen_text, wait_for
from tests.tui.store_fixtures import IDS, QUICK_ID
from tui.model.launch import Launched
from tui.model.plot import Series, line_chart
from tui.screens.compare import CompareScreen
from tui.screens.dialogs import ConfirmDialog
from tui.screens.experiment import ExperimentScreen
from tui.screens.experiments import ExperimentsScreen, ExperimentsTable
from tui.screens.launch import FieldEditor, FieldsTable, LaunchScreen
from tui.widgets.experiment.artifacts import ArtifactsTable
from tui.widgets.experiment.charts import TrainingCharts
from tui.widgets.experiment.epoch_table import EpochTable
from tui.widgets.experiment.variants_table import VariantsTable

pytestmark = pytest.mark.anyio


async def _list(pilot) -> ExperimentsScreen:
    app = pilot.app
    await wait_for(
        pilot, lambda: isinstance(app.screen, ExperimentsScreen) and app.screen.loaded, what="the list"
    )
    return app.screen


async def _open(pilot, exp_id: str) -> ExperimentScreen:
    app = pilot.app
    await _list(pilot)
    app.open_experiment(exp_id)
    await wait_for(
        pilot,
        lambda: isinstance(app.screen, ExperimentScreen) and app.screen.document and app.screen.epochs,
        what="the experiment",
    )
    await pilot.pause(0.05)
    return app.screen


def _on_row(table, key: str) -> None:
    table.move_cursor(row=table.keys.index(key), animate=False)


def _fits(table) -> bool:
    """Every shown column is inside the table: no sideways scrolling needed."""
    return table.virtual_size.width <= table.scrollable_content_region.width


def _header_line(table) -> str:
    return "".join(segment.text for segment in table.render_line(0))


async def test_row01_compare_config_keeps_every_experiment_in_view(quick_store, make_app):
    app = make_app(quick_store)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _list(pilot)
        table = screen.query_one(ExperimentsTable)
        for exp_id in (QUICK_ID, IDS["baseline"], IDS["qat"]):
            _on_row(table, exp_id)
            await pilot.press("space")
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen) and app.screen.experiments)
        await pilot.press("c", "o")
        await pilot.pause(0.1)
        config = app.screen.query_one("#config-table")
        for _ in range(2):
            text = screen_text(app)
            for exp_id in (QUICK_ID, IDS["baseline"], IDS["qat"]):
                assert exp_id[:8] in text, text
            assert "deploy.variants" in text
            assert _fits(config)
            await pilot.press("o")
            await pilot.pause(0.1)
        await pilot.press("end")
        await pilot.pause(0.1)
        assert "field" in screen_text(app) and config.scroll_x == 0


async def test_row02_charts_reach_every_phase(quick_store, make_app):
    app = make_app(quick_store)
    async with app.run_test(size=(100, 30)) as pilot:
        await _open(pilot, QUICK_ID)
        await pilot.press("g")
        charts = app.screen.query_one(TrainingCharts)
        assert charts.phase == "baseline"
        assert "17 epoch" in screen_text(app)
        await pilot.press("p")
        assert charts.phase == "finetune:pruned"
        await pilot.press("p")
        assert charts.phase == "qat:qat"
        await pilot.press("p")
        assert charts.phase == "baseline"


async def test_row03_variants_rows_show_at_60x20(quick_store, make_app):
    app = make_app(quick_store)
    async with app.run_test(size=(60, 20)) as pilot:
        await _open(pilot, QUICK_ID)
        await pilot.press("v")
        await pilot.pause(0.1)
        table = app.screen.query_one(VariantsTable)
        assert table.size.height >= table.row_count + 1  # the header and all six variants
        assert "qat" in screen_text(app)


async def test_row04_g_from_the_variants_tab_opens_charts(quick_store, make_app):
    app = make_app(quick_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(pilot, QUICK_ID)
        for key, tab in (("v", "variants"), ("g", "charts"), ("a", "artifacts"), ("g", "charts")):
            await pilot.press(key)
            await pilot.pause(0.05)
            assert app.screen.query_one(TabbedContent).active == tab


async def test_row05_delete_acts_on_the_cursor_row_and_names_it(filled_store, make_app):
    app = make_app(filled_store)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _list(pilot)
        table = screen.query_one(ExperimentsTable)
        for exp_id in (IDS["baseline"], IDS["qat"]):  # marks left from a compare
            _on_row(table, exp_id)
            await pilot.press("space")
        _on_row(table, IDS["running"])
        await pilot.press("d")
        await pilot.pause(0.1)
        assert not isinstance(app.screen, ConfirmDialog)  # a running run is not deleted
        assert any("running" in n.message for n in app._notifications)
        _on_row(table, IDS["failed"])
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        message = str(app.screen.message)
        assert "too-big-lr" in message and "baseline" not in message
        await pilot.press("y")
        await wait_for(pilot, lambda: filled_store.get(IDS["failed"]).get("deleted"), what="delete")
        assert not filled_store.get(IDS["baseline"]).get("deleted")
        assert not filled_store.get(IDS["running"]).get("deleted")


async def test_row06_escape_after_launch_leaves_the_form(filled_store, make_app, monkeypatch, tmp_path):
    calls = []

    def fake_launch(home, request, exp_id=None):
        calls.append(request)
        return Launched("0123456789ab", 999999, ("ocrq", "run", request.template), tmp_path / "x.log")

    monkeypatch.setattr(launch_module, "launch_run", fake_launch)
    app = make_app(filled_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await _list(pilot)
        app.launch("smoke")
        await wait_for(pilot, lambda: isinstance(app.screen, LaunchScreen))
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: isinstance(app.screen, ExperimentScreen))
        await pilot.press("escape")
        await pilot.pause(0.1)
        assert isinstance(app.screen, ExperimentsScreen)
        await pilot.press("ctrl+r")
        await pilot.pause(0.1)
        assert len(calls) == 1


async def test_row07_launch_filter_enter_edits_the_best_match(filled_store, make_app):
    app = make_app(filled_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await _list(pilot)
        app.launch("smoke")
        await wait_for(pilot, lambda: isinstance(app.screen, LaunchScreen))
        await pilot.press(*["down"] * 30, "slash", *"learning", "enter", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, FieldEditor))
        assert app.screen.field.key == "learning_rate"


async def test_row08_header_shows_epoch_n_of_m_with_bar_and_eta(filled_store, make_app):
    filled_store.heartbeat(IDS["running"], stage="train", progress="epoch 2")
    app = make_app(filled_store)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _open(pilot, IDS["running"])
        label = screen.query_one("#stage-label")
        await wait_for(pilot, lambda: "epoch 2/6" in str(label.render()), what="epoch N/M")
        text = str(label.render())
        assert "ETA" in text and "elapsed" in text
        bar = screen.query_one("#stage-progress")
        assert bar.display and bar.total == 6 and bar.progress == 2


async def test_row09_list_columns_follow_content_after_first_paint(filled_store, make_app):
    app = make_app(filled_store)
    async with app.run_test(size=(200, 30)) as pilot:
        screen = await _list(pilot)
        table = screen.query_one(ExperimentsTable)
        filled_store.tag(IDS["baseline"], add=["smoke-test-long-tag"])
        filled_store.update_summary(IDS["failed"], best_cer=1.0)
        screen.poll_now(force=True)
        await wait_for(pilot, lambda: "smoke-test" in str(table.get_cell(IDS["baseline"], "tags")))
        await pilot.pause(0.1)
        text = screen_text(app)
        assert "baseline,smoke-test-long-tag" in text
        assert "100.00%" in text


async def test_row10_artifact_paths_follow_a_copied_home(quick_store, make_app):
    app = make_app(quick_store)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _open(pilot, QUICK_ID)
        await pilot.press("a")
        await pilot.pause(0.1)
        path_line = str(screen.query_one("#artifact-path").render())
        assert str(quick_store.home) in path_line and "missing" not in path_line
        await pilot.press("y")
        assert app.clipboard.startswith(str(quick_store.home))
        assert Path(app.clipboard).exists()


async def test_row11_enter_on_a_figure_opens_it_full_screen(quick_store, make_app):
    app = make_app(quick_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(pilot, QUICK_ID)
        await pilot.press("a")
        table = app.screen.query_one(ArtifactsTable)
        _on_row(table, next(key for key in table.keys if key.endswith("training_curves.png")))
        await pilot.press("enter")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "FigureScreen", what="the figure view")
        preview = app.screen.query_one("#figure")
        await wait_for(pilot, lambda: "▀" in str(preview.render()), what="the figure")
        assert preview.size.width >= 70 and preview.size.height >= 18
        await pilot.press("escape")
        assert isinstance(app.screen, ExperimentScreen)


@pytest.mark.parametrize("size", [(80, 24), (60, 20)])
async def test_row12_tables_fit_the_terminal_with_the_figures_first(quick_store, make_app, size):
    app = make_app(quick_store)
    async with app.run_test(size=size) as pilot:
        screen = await _list(pilot)
        await pilot.pause(0.1)
        table = screen.query_one(ExperimentsTable)
        assert _fits(table)
        assert "CER" in _header_line(table)
        await _open(pilot, QUICK_ID)
        epochs = app.screen.query_one(EpochTable)
        assert _fits(epochs)
        await pilot.press("v")
        await pilot.pause(0.1)
        variants = app.screen.query_one(VariantsTable)
        assert _fits(variants)
        header = _header_line(variants)
        for label in ("CER", "size×", "speed×"):
            assert label in header, header
        if size[0] >= 80:
            assert "guard" in header and "backend" not in header


async def test_row13_sort_shows_in_the_header(filled_store, make_app):
    app = make_app(filled_store)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _list(pilot)
        table = screen.query_one(ExperimentsTable)
        for _ in range(3):
            await pilot.press("s")
            await pilot.pause(0.05)
            label = {"name": "name", "status": "status", "best_cer": "CER"}.get(screen.query_state.sort)
            arrow = "▼" if screen.query_state.descending else "▲"
            header = _header_line(table)
            if label is not None:
                assert f"{label} {arrow}" in header, header
            shown_columns = getattr(table, "shown_columns", [str(key.value) for key in table.columns])
            shown = screen.query_state.sort in shown_columns
            assert header.count("▲") + header.count("▼") == (1 if shown else 0), header


async def test_row14_numbers_right_aligned_with_fixed_decimals(quick_store, make_app):
    app = make_app(quick_store)
    async with app.run_test(size=(160, 30)) as pilot:
        await _open(pilot, QUICK_ID)
        epochs = app.screen.query_one(EpochTable)
        cell = epochs.get_cell("epoch-0", "train_loss")
        assert isinstance(cell, Text) and cell.justify == "right" and str(cell) == "3.2000"
        await pilot.press("v")
        variants = app.screen.query_one(VariantsTable)
        p50 = variants.get_cell("ort-fp32", "latency_ms_p50")
        assert isinstance(p50, Text) and p50.justify == "right" and str(p50) == "7.50"
        throughput = variants.get_cell("fp32", "throughput")
        assert str(throughput) == "680"


async def test_row15_space_twice_unmarks(filled_store, make_app):
    app = make_app(filled_store)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _list(pilot)
        table = screen.query_one(ExperimentsTable)
        row = table.cursor_row
        await pilot.press("space")
        assert screen.marked and table.cursor_row == row
        await pilot.press("space")
        assert not screen.marked and table.cursor_row == row


async def test_row16_filter_escape_clears_and_keys_are_checked(filled_store, make_app):
    app = make_app(filled_store)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _list(pilot)
        table = screen.query_one(ExperimentsTable)
        await pilot.press("slash", *"tag:x")
        await wait_for(pilot, lambda: table.keys == [], what="the filter")
        await pilot.press("escape")
        await wait_for(pilot, lambda: len(table.keys) == 5, what="the filter to clear")
        assert screen.query_one("#filter-input").value == ""
        await pilot.press("slash", *"status:Finished", "enter")
        await wait_for(pilot, lambda: len(table.keys) == 3, what="status filter, any case")
        filter_input = screen.query_one("#filter-input")
        filter_input.value = "foo:bar"
        await wait_for(
            pilot, lambda: "foo" in str(screen.query_one("#filter-error").render()), what="unknown key"
        )


async def test_row17_first_and_last_row_keys(filled_store, make_app):
    app = make_app(filled_store)
    async with app.run_test(size=(60, 20)) as pilot:
        screen = await _list(pilot)
        table = screen.query_one(ExperimentsTable)
        await pilot.press("G")
        assert table.cursor_row == table.row_count - 1
        await pilot.press("g")
        assert table.cursor_row == 0
        await pilot.press("end")
        assert table.cursor_row == table.row_count - 1 and table.scroll_x == 0
        await pilot.press("home")
        assert table.cursor_row == 0 and table.scroll_x == 0


def test_row18_series_differ_by_marker_without_colour():
    points = [(float(n), 1.0 / n) for n in range(1, 9)]
    chart = line_chart(
        [Series("train", "cyan", points), Series("val", "magenta", [(x, y + 0.2) for x, y in points])], 60, 12
    )
    lines = chart.plain.split("\n")
    legend, plot = lines[0], "\n".join(lines[1:])
    assert "●━ train" in legend and "×━ val" in legend
    assert "●" in plot and "×" in plot


async def test_row18_charts_mark_the_best_epoch_and_log_scale(quick_store, make_app):
    app = make_app(quick_store)
    async with app.run_test(size=(100, 30)) as pilot:
        await _open(pilot, QUICK_ID)
        await pilot.press("g")
        text = screen_text(app)
        assert "best 17" in text
        charts = app.screen.query_one(TrainingCharts)
        await pilot.press("L")
        assert charts.log_scale and "log" in screen_text(app)


async def test_row19_choices_are_picked_and_fast_typing_keeps_every_character(filled_store, make_app):
    app = make_app(filled_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await _list(pilot)
        app.launch("smoke")
        await wait_for(pilot, lambda: isinstance(app.screen, LaunchScreen))
        form = app.screen
        fields = form.query_one(FieldsTable)
        _on_row(fields, "lr_schedule")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, FieldEditor))
        choices = app.screen.query_one(OptionList)  # a pick list: nothing to type, nothing to drop
        assert choices.option_count == 3
        await pilot.press("home", "enter")
        await wait_for(pilot, lambda: app.screen is form)
        assert form.overrides.get("lr_schedule") == "cosine"
        _on_row(fields, "learning_rate")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, FieldEditor))
        editor = app.screen.query_one("#field-input")
        for _ in range(12):
            await pilot.press("end", *["backspace"] * 12, *"0.0015")
            assert editor.value == "0.0015"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is form)
        assert form.overrides.get("learning_rate") == "0.0015"
        assert "--learning-rate=0.0015" in str(form.query_one("#launch-command").render())


async def test_row20_header_wraps_between_items(filled_store, make_app):
    filled_store.tag(IDS["baseline"], add=["alpha-long-tag", "beta-long-tag", "gamma-long-tag", "delta"])
    app = make_app(filled_store)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open(pilot, IDS["baseline"])
        header = screen.query_one("#experiment-header")
        lines = [line.strip() for line in screen_text(app).splitlines()[1 : 1 + header.size.height]]
        items = [item for line in lines for item in line.split(" · ")]
        for expected in ("template smoke", "model crnn_tiny", "created 2026-03-14 09:00"):
            assert expected in items, lines
        assert any(item.startswith("tags ") and item.endswith("delta") for item in items), lines


async def test_row21_artifacts_use_the_height(quick_store, make_app):
    app = make_app(quick_store)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open(pilot, QUICK_ID)
        await pilot.press("a")
        await pilot.pause(0.1)
        table = screen.query_one(ArtifactsTable)
        pane = screen.query_one("#artifacts")
        # the table gets what its rows need, up to what the pane leaves after the path line
        assert table.size.height >= min(table.row_count + 1, pane.size.height - 2), (
            table.size.height,
            pane.size.height,
        )


async def test_clone_fills_the_form_with_changed_fields_and_the_command(filled_store, make_app):
    app = make_app(filled_store)
    async with app.run_test(size=(100, 30)) as pilot:
        await _open(pilot, IDS["qat"])
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, LaunchScreen), what="the cloned form")
        form = app.screen
        await wait_for(pilot, lambda: "weight-decay" in str(form.query_one("#launch-command").render()))
        assert form.template == "ocr_balanced"
        assert form.overrides["weight_decay"] == "0.02" and form.overrides["epochs"] == "4"
        command = str(form.query_one("#launch-command").render())
        assert command.startswith("$ ocrq run ocr_balanced ") and "--tag=qat" in command
        assert "changed" in str(form.query_one("#template-description").render())


async def test_resume_asks_and_starts_ocrq_run_resume(filled_store, make_app, monkeypatch, tmp_path):
    import tui.app as app_module

    started = []

    def fake_resume(home, experiment):
        started.append(experiment["id"])
        return Launched(experiment["id"], 999999, ("ocrq", "run", "--resume"), tmp_path / "r.log")

    monkeypatch.setattr(app_module, "resume_run", fake_resume)
    app = make_app(filled_store)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _list(pilot)
        table = screen.query_one(ExperimentsTable)
        _on_row(table, IDS["baseline"])
        await pilot.press("R")  # finished: nothing to resume
        assert not isinstance(app.screen, ConfirmDialog)
        _on_row(table, IDS["failed"])
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_for(pilot, lambda: started == [IDS["failed"]], what="the resume")


async def test_log_view_follows_pauses_searches_and_wraps(quick_store, make_app):
    from tui.widgets.experiment.log_tail import LogTail

    app = make_app(quick_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(pilot, QUICK_ID)
        await pilot.press("l")
        log = app.screen.query_one(LogTail)
        await wait_for(pilot, lambda: log.line_count >= 10, what="the log")
        assert log.follow and "following" in str(log.border_title)
        await pilot.press("f")
        assert not log.follow and not log.auto_scroll and "paused" in str(log.border_title)
        await pilot.press("slash")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "TextPrompt")
        await pilot.press(*"EPOCH 1", "enter")
        await wait_for(pilot, lambda: "/EPOCH 1 1/" in str(log.border_title), what="the first match")
        first = log.match_index
        await pilot.press("n")
        assert log.match_index == first + 1
        lines = log.line_count
        await pilot.press("w")
        assert log.wrap and "wrap" in str(log.border_title) and log.line_count >= lines


async def test_row14_the_cli_and_the_tui_spell_table_figures_alike(
    quick_store, make_app, monkeypatch, capsys
):
    """`ocrq show` and the TUI print each variant and epoch figure with the same text (fixed decimals)."""
    from cli.main import main
    from tui.model.format import epoch_row, variant_cells

    document = quick_store.get(QUICK_ID)
    monkeypatch.setenv("OCRQ_HOME", str(quick_store.home))
    monkeypatch.setenv("COLUMNS", "250")
    assert main(["show", QUICK_ID]) == 0
    printed = [line.split() for line in capsys.readouterr().out.splitlines()]
    for variant in document["variants"]:
        row = next(words for words in printed if words and words[0] == variant["name"] and len(words) > 8)
        tui_cells = [str(cell) for cell in variant_cells(variant)]
        for column in (5, 8, 9, 10, 12):  # 1-NED, p50, p95, lines/s, cosine
            assert tui_cells[column] in row, (variant["name"], column, tui_cells[column], row)
    epoch = document["epochs"][0]
    cells = epoch_row(epoch)
    assert any(words[:4] == list(cells[:4]) for words in printed), cells
    app = make_app(quick_store)
    async with app.run_test(size=(160, 30)) as pilot:
        await _open(pilot, QUICK_ID)
        assert str(app.screen.query_one(EpochTable).get_cell("epoch-0", "train_loss")) == cells[2]
