"""One experiment's screen, driven with Pilot against a real store."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from cli.browse import variants_table
from tests.tui.conftest import wait_for
from tests.tui.store_fixtures import IDS
from tui.screens.experiment import ExperimentScreen
from tui.widgets.experiment.artifacts import ArtifactsTable
from tui.widgets.experiment.epoch_table import EpochTable
from tui.widgets.experiment.log_tail import LogTail
from tui.widgets.experiment.variants_table import BytesByKindTable, VariantsTable

pytestmark = pytest.mark.anyio


async def _open(pilot, exp_id: str) -> ExperimentScreen:
    pilot.app.open_experiment(exp_id)
    await wait_for(
        pilot,
        lambda: isinstance(pilot.app.screen, ExperimentScreen) and pilot.app.screen.document is not None,
        what="the experiment to load",
    )
    return pilot.app.screen


def _number(word: str) -> object:
    try:
        return float(word.rstrip("%x"))
    except ValueError:
        return word


async def test_header_epochs_variants_config_and_log(filled_store, make_app):
    app = make_app(filled_store)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _open(pilot, IDS["baseline"])
        header = str(screen.query_one("#experiment-header").render())
        assert IDS["baseline"] in header and "baseline-fp32" in header and "✓ finished" in header
        assert "tags baseline" in header
        epochs = screen.query_one(EpochTable)
        assert epochs.row_count == 4
        assert [str(c) for c in epochs.cells_of("epoch-0")] == [
            "baseline", "1", "3.2000", "3.5000", "32.40%", "10.0%", "1.00e-03", "12.5",
        ]  # fmt: skip
        await pilot.press("v")
        variants = screen.query_one(VariantsTable)
        assert variants.keys == ["fp32", "ort-fp32", "ort-int8-dynamic", "qat"]
        # The same figures as `ocrq show` prints (the TUI keeps fixed decimals so columns line up).
        shown = io.StringIO()
        Console(file=shown, width=250).print(variants_table(filled_store.get(IDS["baseline"])["variants"]))
        cli_lines = [line.split() for line in shown.getvalue().splitlines()[1:]]
        for cli_words, key in zip(cli_lines, variants.keys, strict=True):
            tui_words = " ".join(str(cell) for cell in variants.cells_of(key)).split()
            assert [_number(word) for word in tui_words] == [_number(word) for word in cli_words]
        assert not screen.query_one(BytesByKindTable).display  # no variant says where its bytes go
        await pilot.press("c")
        titles = [str(t.label) for t in screen.query("#config-view CollapsibleTitle")]
        assert titles == ["model (2)", "train (3)", "deploy (1)"]
        await pilot.press("enter")  # expand the focused section
        await pilot.press("l")
        log = screen.query_one(LogTail)
        assert log.shown[-1].endswith("info run finished")


async def test_variants_tab_shows_where_each_onnx_files_bytes_go(filled_store, make_app):
    variants = {v["name"]: v for v in filled_store.get(IDS["baseline"])["variants"]}
    for name, weights, side, graph in (
        ("ort-fp32", 1_600_000, 20_000, 10_000),
        ("ort-int8-dynamic", 400_000, 31_000, 10_000),
    ):
        anatomy = {"weights_bytes": weights, "side_bytes": side, "graph_bytes": graph}
        filled_store.record_variant(
            IDS["baseline"],
            {**variants[name], "size_anatomy": {**anatomy, "file_bytes": sum(anatomy.values())}},
        )
    app = make_app(filled_store)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _open(pilot, IDS["baseline"])
        await pilot.press("v")
        table = screen.query_one(BytesByKindTable)
        await wait_for(pilot, lambda: table.display and table.region.height > 0, what="the bytes table")
        assert table.keys == ["ort-fp32", "ort-int8-dynamic"]
        assert [str(c) for c in table.cells_of("ort-int8-dynamic")] == [
            "ort-int8-dynamic", "400,000", "31,000", "10,000", "90.7%", "3.70x", "4.08x",
        ]  # fmt: skip
        assert screen.query_one(VariantsTable).region.height > 0  # the comparison stays on screen above it


async def test_failed_run_shows_its_error(filled_store, make_app):
    app = make_app(filled_store)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _open(pilot, IDS["failed"])
        header = str(screen.query_one("#experiment-header").render())
        assert "✗ failed" in header and "error: loss is NaN at step 12; lower learning_rate" in header
        assert [str(c) for c in screen.query_one(EpochTable).cells_of("epoch-0")][2] == "-"  # NaN loss


async def test_running_experiment_shows_stage_and_progress(filled_store, make_app):
    app = make_app(filled_store)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _open(pilot, IDS["running"])
        await wait_for(pilot, lambda: screen.query_one("#progress-row").display, what="the progress row")
        label = str(screen.query_one("#stage-label").render())
        assert label.startswith("train epoch 2/6 · elapsed"), label
        assert "ETA 50s" in label  # four epochs left at 12.5 s each
        bar = screen.query_one("#stage-progress")
        assert (bar.progress, bar.total) == (2, 6)


async def test_artifacts_copy_path_and_preview_a_figure(fresh_store, make_app):
    filled_store = fresh_store
    app = make_app(filled_store)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _open(pilot, IDS["qat"])
        await pilot.press("a")
        table = screen.query_one(ArtifactsTable)
        figure = str(filled_store.experiment_dir(IDS["qat"]) / "training_curves.png")
        assert table.keys[0] == figure
        assert [str(c) for c in table.cells_of(figure)][0] == "training_curves.png"  # shown relative
        await pilot.press("y")
        assert app.clipboard == figure
        await wait_for(
            pilot, lambda: "▀" in str(screen.query_one("#artifact-preview").render()), what="the preview"
        )
        await pilot.press("down")
        await wait_for(
            pilot,
            lambda: "y copies the path" in str(screen.query_one("#artifact-preview").render()),
            what="hint",
        )
        assert str(screen.query_one("#artifact-path").render()).endswith("report.json")


async def test_tag_and_note_from_the_experiment_screen(filled_store, make_app):
    app = make_app(filled_store)
    async with app.run_test(size=(100, 30)) as pilot:
        await _open(pilot, IDS["pruned"])
        await pilot.press("t", *"keep", "enter")
        await wait_for(
            pilot, lambda: filled_store.get(IDS["pruned"])["tags"] == ["pruning", "keep"], what="tags"
        )
        await pilot.press("n", "ctrl+k", "home", "ctrl+k", *"short", "enter")
        await wait_for(pilot, lambda: filled_store.get(IDS["pruned"])["note"] == "short", what="note")
        screen = app.screen
        await wait_for(
            pilot,
            lambda: "note: short" in str(screen.query_one("#experiment-header").render()),
            what="header",
        )
