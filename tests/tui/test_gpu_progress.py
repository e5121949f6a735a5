"""A running GPU run's utilisation and memory in the list and the experiment header; nothing on CPU."""

from __future__ import annotations

import pytest

from tests.tui.conftest import screen_text, wait_for
from tests.tui.store_fixtures import IDS
from tui.model.progress import gpu_details, gpu_text
from tui.screens.experiment import ExperimentScreen
from tui.screens.experiments import ExperimentsScreen, ExperimentsTable

pytestmark = pytest.mark.anyio

GIB = 1024**3
H200 = {
    "index": 0, "name": "NVIDIA H200", "util_percent": 87, "memory_used_bytes": int(40.5 * GIB),
    "memory_total_bytes": int(139.8 * GIB), "allocated_bytes": 30 * GIB, "reserved_bytes": 36 * GIB,
    "peak_allocated_bytes": 33 * GIB,
}  # fmt: skip


def test_gpu_text_spells_utilisation_and_device_memory():
    assert gpu_text([H200]) == "GPU 87% 40/140 GiB"
    assert gpu_text([{**H200, "util_percent": None}]) == "GPU 40/140 GiB"  # no NVML on that box
    two = [
        H200,
        {**H200, "index": 1, "util_percent": 3, "memory_used_bytes": GIB // 2, "memory_total_bytes": 8 * GIB},
    ]
    assert gpu_text(two) == "GPU0 87% 40/140 GiB, GPU1 3% 0.5/8.0 GiB"
    assert gpu_text(None) == "" and gpu_text([{"index": 0}]) == ""
    assert gpu_details([H200]) == [
        "GPU 87%",
        "memory 40.5/139.8 GiB",
        "run 30.0 GiB allocated, peak 33.0 GiB",
    ]
    assert gpu_details([{"index": 0, "util_percent": None}]) == ["GPU utilisation unknown (no NVML)"]


@pytest.mark.parametrize("size", [(160, 30), (100, 30), (80, 24), (60, 20)])
async def test_a_gpu_heartbeat_shows_in_the_list_and_the_header(filled_store, make_app, size):
    filled_store.heartbeat(IDS["running"], stage="train", progress="epoch 2", gpus=[H200])
    app = make_app(filled_store)
    async with app.run_test(size=size) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ExperimentsScreen) and app.screen.loaded)
        table = app.screen.query_one(ExperimentsTable)
        cell = str(table.get_cell(IDS["running"], "progress"))
        assert cell.startswith("train epoch 2/6 · ") and cell.endswith(" · GPU 87% 40/140 GiB"), cell
        if size[0] >= 160:  # narrower lists hide the progress column first (F2 brings it back)
            assert "GPU 87% 40/140 GiB" in screen_text(app)
        app.open_experiment(IDS["running"])
        await wait_for(pilot, lambda: isinstance(app.screen, ExperimentScreen) and app.screen.document)
        screen = app.screen
        await wait_for(pilot, lambda: screen.query_one("#gpu-line").display, what="the GPU line")
        line = screen.query_one("#gpu-line")
        assert "GPU 87%" in str(line.render()) and "memory 40.5/139.8 GiB" in str(line.render())
        assert line.size.height == (1 if size[0] >= 80 else 2)  # wrapped between items when narrow
        # every item is on screen, whole (wrapped between items at 60 columns)
        shown = screen_text(app)
        for item in gpu_details([H200]):
            assert item in shown, (item, size)


async def test_a_cpu_heartbeat_shows_no_gpu(filled_store, make_app):
    filled_store.heartbeat(IDS["running"], stage="train", progress="epoch 2")
    app = make_app(filled_store)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ExperimentsScreen) and app.screen.loaded)
        assert "GPU" not in str(app.screen.query_one(ExperimentsTable).get_cell(IDS["running"], "progress"))
        app.open_experiment(IDS["running"])
        await wait_for(pilot, lambda: isinstance(app.screen, ExperimentScreen) and app.screen.document)
        screen = app.screen
        await wait_for(pilot, lambda: screen.query_one("#progress-row").display, what="the progress row")
        assert not screen.query_one("#gpu-line").display and "GPU" not in screen_text(app)
