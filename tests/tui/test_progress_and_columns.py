"""Readable progress (epoch N/M, variant k/n, elapsed, ETA) and choosing the list's columns."""

from __future__ import annotations

import pytest

from tests.tui.conftest import wait_for
from tests.tui.store_fixtures import IDS
from tui.model.progress import describe, fmt_duration, list_progress
from tui.screens.dialogs import ColumnsDialog
from tui.screens.experiments import ExperimentsScreen, ExperimentsTable

CONFIG = {
    "train": {"epochs": 30},
    "quantization": {"qat_epochs": 3},
    "finetune": {"finetune_epochs": 2},
    "deploy": {"variants": ["ort-fp32", "ort-int8-dynamic", "ptq", "qat", "pruned", "distilled"]},
}


def _document(**more) -> dict:
    return {"status": "running", "config": CONFIG, "started": "2026-03-14T09:00:00+00:00", **more}


def test_baseline_epochs_read_as_n_of_m_with_elapsed_and_eta():
    epochs = [{"phase": "baseline", "epoch": n, "seconds": 10.0} for n in range(1, 7)]
    now = 1773478800.0 + 250  # 09:04:10
    progress = describe(_document(), {"stage": "train", "progress": "epoch 6"}, epochs, now)
    assert progress.label == "train epoch 6/30" and (progress.completed, progress.total) == (6, 30)
    assert progress.text() == "train epoch 6/30 · elapsed 4m10s · ETA 4m00s"


def test_compression_steps_name_the_variant_and_the_phase():
    variants = [{"name": "fp32"}, {"name": "ort-fp32"}, {"name": "ort-int8-dynamic"}]
    epochs = [{"phase": "qat:qat", "epoch": 1, "seconds": 20.0}]
    progress = describe(_document(variants=variants), {"stage": "qat:qat", "progress": "epoch 2"}, epochs, 0)
    assert progress.label == "variant 3/6: qat epoch 2/3"
    assert progress.eta_s == 20.0
    fraction = describe(
        _document(variants=variants), {"stage": "qat:qat", "progress": "1.5/3 loss 0.4"}, [], 0
    )
    assert fraction.label == "variant 3/6: qat epoch 1.5/3" and fraction.detail == "loss 0.4"


def test_durations_and_list_cells():
    assert [fmt_duration(s) for s in (42, 250, 7500)] == ["42s", "4m10s", "2h05m"]
    assert list_progress({"status": "finished"}, 0) == ""
    row = {**_document(), "heartbeat": {"stage": "train", "progress": "epoch 2"}, "epochs": []}
    assert list_progress(row, 1773478800.0 + 60) == "train epoch 2/30 · 1m00s"


@pytest.mark.anyio
async def test_running_rows_show_progress_and_f2_chooses_columns(filled_store, make_app):
    filled_store.heartbeat(IDS["running"], stage="train", progress="epoch 2")
    app = make_app(filled_store)
    async with app.run_test(size=(200, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ExperimentsScreen) and app.screen.loaded)
        table = app.screen.query_one(ExperimentsTable)
        assert str(table.get_cell(IDS["running"], "progress")).startswith("train epoch 2/6 · ")
        assert "tags" in table.shown_columns
        await pilot.press("f2")
        await wait_for(pilot, lambda: isinstance(app.screen, ColumnsDialog))
        options = app.screen.query_one("#columns")
        options.deselect("tags")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ExperimentsScreen))
        assert "tags" not in table.shown_columns and "model" in table.shown_columns
