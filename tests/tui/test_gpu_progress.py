"""A running GPU run's utilisation and memory in the list and the experiment header; nothing on CPU."""

from __future__ import annotations

import pytest

from tests.tui.conftest import wait_for
from tests.tui.store_fixtures import IDS
from tui.model.progress import gpu_text
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
    assert gpu_text([H200]) == "GPU 87% 40.5/139.8 GiB"
    assert gpu_text([{**H200, "util_percent": None}]) == "GPU 40.5/139.8 GiB"  # no NVML on that box
    two = [H200, {**H200, "index": 1, "util_percent": 3}]
    assert gpu_text(two) == "GPU0 87% 40.5/139.8 GiB, GPU1 3% 40.5/139.8 GiB"
    assert gpu_text(None) == "" and gpu_text([{"index": 0}]) == ""


@pytest.mark.parametrize("size", [(100, 30), (80, 24)])
async def test_a_gpu_heartbeat_shows_in_the_list_and_the_header(filled_store, make_app, size):
    filled_store.heartbeat(IDS["running"], stage="train", progress="epoch 2", gpus=[H200])
    app = make_app(filled_store)
    async with app.run_test(size=size) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ExperimentsScreen) and app.screen.loaded)
        cell = str(app.screen.query_one(ExperimentsTable).get_cell(IDS["running"], "progress"))
        assert cell.startswith("train epoch 2/6 · ") and cell.endswith(" · GPU 87% 40.5/139.8 GiB"), cell
        app.open_experiment(IDS["running"])
        await wait_for(pilot, lambda: isinstance(app.screen, ExperimentScreen) and app.screen.document)
        screen = app.screen
        await wait_for(pilot, lambda: screen.query_one("#progress-row").display, what="the progress row")
        label = str(screen.query_one("#stage-label").render())
        assert "GPU 87% 40.5/139.8 GiB" in label, label


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
        assert "GPU" not in str(screen.query_one("#stage-label").render())
