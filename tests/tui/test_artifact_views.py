"""Artifacts: paths that follow a copied home, the full-screen figure and the text viewer."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tui.conftest import screen_text, wait_for
from tests.tui.store_fixtures import QUICK_ID
from tui.model.artifacts import read_text_artifact, shown_path
from tui.screens.artifact_view import TextArtifactScreen
from tui.screens.experiment import ExperimentScreen
from tui.widgets.common.keyed_table import KeyedTable
from tui.widgets.experiment.artifacts import ArtifactsTable

pytestmark = pytest.mark.anyio


def test_paths_show_relative_to_the_experiment_folder(tmp_path):
    folder = tmp_path / "home" / "experiments" / "abcdefabcdef"
    assert shown_path(folder / "a/b.png", folder) == "a/b.png"
    assert shown_path(Path("/data/elsewhere.txt"), folder) == "/data/elsewhere.txt"


def test_predictions_show_wrong_lines_first(tmp_path):
    path = tmp_path / "predictions.tsv"
    path.write_text("label\tprediction\nab\tab\ncd\tcb\nef\tef\ngh\tgk\n")
    artifact = read_text_artifact(path)
    assert artifact.kind == "table" and artifact.wrong == 2
    assert [row[0] for row in artifact.rows] == ["cd", "gh", "ab", "ef"]
    assert "2 wrong of 4" in artifact.note


@pytest.mark.parametrize(
    ("name", "expected"), [("comparison.md", "comparison"), ("quantization_report.json", '"ok": true')]
)
async def test_text_artifacts_open_in_the_viewer(quick_store, make_app, name, expected):
    app = make_app(quick_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.screen.loaded, what="the list")
        app.open_experiment(QUICK_ID)
        await wait_for(pilot, lambda: isinstance(app.screen, ExperimentScreen) and app.screen.document)
        await pilot.press("a")
        table = app.screen.query_one(ArtifactsTable)
        table.move_cursor(row=next(i for i, key in enumerate(table.keys) if key.endswith(name)))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, TextArtifactScreen), what="the viewer")
        await wait_for(pilot, lambda: expected in screen_text(app), what="the text")
        assert name in screen_text(app)  # the title names the file, relative to the experiment


async def test_predictions_open_as_a_table_wrong_first(quick_store, make_app):
    app = make_app(quick_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.screen.loaded, what="the list")
        app.open_experiment(QUICK_ID)
        await wait_for(pilot, lambda: isinstance(app.screen, ExperimentScreen) and app.screen.document)
        await pilot.press("a")
        table = app.screen.query_one(ArtifactsTable)
        table.move_cursor(row=next(i for i, key in enumerate(table.keys) if key.endswith("predictions.tsv")))
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen.query(KeyedTable), what="the predictions table")
        rows = app.screen.query_one(KeyedTable)
        assert str(rows.get_cell("0", "c0")) == "quick fox" and str(rows.get_cell("1", "c0")) == "ocr line"
        assert "2 wrong of 4 lines" in screen_text(app)


@pytest.mark.parametrize("old_absolute", [False, True], ids=["relative", "old-absolute"])
async def test_a_moved_home_shows_and_opens_its_files(tmp_path, make_app, old_absolute):
    from store import Store
    from tests.cli.fakes import EXP_ID, moved_home
    from tui.screens.artifact_view import FigureScreen

    home = moved_home(tmp_path, old_absolute=old_absolute)
    app = make_app(Store(home))
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_experiment(EXP_ID)
        await wait_for(pilot, lambda: isinstance(app.screen, ExperimentScreen) and app.screen.document)
        await pilot.press("a")
        table = app.screen.query_one(ArtifactsTable)
        folder = home / "experiments" / EXP_ID
        assert sorted(table.keys) == [
            str(folder / "accuracy_vs_size.png"),
            str(folder / "variants/ort-fp32.onnx"),
        ]
        table.move_cursor(row=table.keys.index(str(folder / "accuracy_vs_size.png")), animate=False)
        await pilot.pause(0.05)
        line = str(app.screen.query_one("#artifact-path").render())
        assert line.startswith(str(folder)) and "missing" not in line
        await pilot.press("y")
        assert app.clipboard == str(folder / "accuracy_vs_size.png")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, FigureScreen), what="the figure view")
