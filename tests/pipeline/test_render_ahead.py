"""Rendering training epochs ahead in worker processes: the same batches, workers that go away."""

from __future__ import annotations

from collections import Counter

import numpy as np
import psutil
import pytest
import torch

from pipeline.config import resolve_config
from pipeline.core.charset import Charset
from pipeline.data.bundle import build_data
from pipeline.data.render_ahead import EpochRenderer

ASCII = Charset.from_spec("ascii")


def _bundle(tmp_path=None, **overrides):
    values = {"num_train": "450", "num_workers": "0", **overrides}
    return build_data(resolve_config("quickstart", overrides=values), ASCII, width_multiple=4)


def _children(before: set[int] = frozenset()) -> list[psutil.Process]:
    """This process's live children, leaving out those in `before` (e.g. an earlier test's loader workers)."""
    return [c for c in psutil.Process().children() if c.is_running() and c.pid not in before]


def _pids() -> set[int]:
    return {child.pid for child in _children()}


def _gone(processes: list[psutil.Process]) -> bool:
    return psutil.wait_procs(processes, timeout=10)[1] == []


def test_rendering_ahead_gives_the_batches_rendering_one_by_one_gives():
    torch.set_num_threads(2)  # two render processes
    before = _pids()
    one_by_one, ahead = _bundle(render_ahead="false"), _bundle(render_ahead="true")
    try:
        for epoch in (0, 1):  # the second epoch's fresh lines come from the same (persistent) workers
            expected, got = list(one_by_one.train_batches(epoch)), list(ahead.train_batches(epoch))
            assert [b.texts for b in got] == [b.texts for b in expected]
            assert all(torch.equal(a.images, b.images) for a, b in zip(expected, got, strict=True))
            assert all(torch.equal(a.widths, b.widths) for a, b in zip(expected, got, strict=True))
            workers = _children(before)
            assert len(workers) == 2
        assert [b.texts for b in ahead.train_batches(0)] != [b.texts for b in expected]
    finally:
        ahead.close()
    assert _gone(workers)


def test_with_one_torch_thread_lines_are_rendered_one_by_one():
    torch.set_num_threads(1)  # one process rendering ahead would only add the cost of sending lines back
    before = _pids()
    ahead = _bundle(render_ahead="true")
    try:
        assert len(list(ahead.train_batches(0))) == 29  # 450 lines, batch 16
        assert _children(before) == []
    finally:
        ahead.close()


def test_spawned_workers_render_the_lines_the_training_process_would():
    # spawn is what macOS and Windows get: the bundle travels to each worker pickled, without its fonts'
    # caches or any renderer of its own, and must still draw exactly the lines of that epoch
    bundle = _bundle()
    renderer = EpochRenderer(bundle.train_dataset, processes=2, start_method="spawn")
    before = _pids()
    try:
        lines = renderer.render(2, 450)
        # spawn also starts multiprocessing's resource tracker, which is not a worker
        workers = [c for c in _children(before) if "resource_tracker" not in " ".join(c.cmdline())]
        assert len(workers) == 2
    finally:
        renderer.close()
    assert _gone(workers)
    expected = bundle.train_dataset(2)
    for index in (0, 199, 200, 449):  # the edges of the chunks (200 lines each) the two workers drew
        pixels, label = expected.pixels(index)
        assert lines[index][1] == label
        assert np.array_equal(lines.lines[index][0], pixels)


def test_an_unknown_start_method_is_refused_by_name():
    with pytest.raises(ValueError, match="start_method='thread' is not available here; allowed"):
        EpochRenderer(_FailsAtLine, processes=1, start_method="thread")


class _FailsAtLine:
    """A dataset whose line 7 cannot be read, as a real line with a damaged image."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return 300

    def pixels(self, index: int):
        if index == 7:
            raise ValueError("line 7: image 'x.png' cannot be read (truncated)")
        return np.full((32, 40 + index % 5), self.epoch, np.uint8), str(index)


def test_a_line_that_fails_in_a_worker_fails_the_epoch_with_its_message_and_stops_the_workers():
    before = _pids()
    renderer = EpochRenderer(_FailsAtLine, processes=2)
    with pytest.raises(ValueError, match="line 7: image 'x.png' cannot be read") as failed:
        renderer.render(0, 300)
    assert type(failed.value) is ValueError
    assert renderer._executor is None and _children(before) == []


def test_rendered_lines_come_in_index_order_with_their_widths():
    renderer = EpochRenderer(_FailsAtLine, processes=2)
    try:
        lines = renderer.render(3, 7)  # lines 0..6: the failing line is not asked for
    finally:
        renderer.close()
    assert [lines[i][1] for i in range(len(lines))] == [str(i) for i in range(7)]
    assert [lines.width_hint(i) for i in range(7)] == [40 + i % 5 for i in range(7)]
    image, label = lines[2]
    assert label == "2" and image.shape == (1, 32, 42)
    assert float(image[0, 0, 0]) == pytest.approx(3 / 127.5 - 1)  # epoch 3's dataset drew it


def test_a_run_with_render_ahead_trains_and_leaves_no_worker_behind(tmp_path):
    from pipeline.core.events import EpochEnded
    from pipeline.runner import prepare_experiment, run_experiment

    torch.set_num_threads(2)
    before = _pids()
    config = resolve_config(
        "smoke", overrides={"render_ahead": "true", "mode": "train", "epochs": "2", "variants": "ort-fp32"}
    )
    events = []
    outcome = run_experiment(prepare_experiment(config), events.append, tmp_path / "exp")
    assert outcome.status == "finished", outcome.error
    epochs = [e for e in events if isinstance(e, EpochEnded) and e.phase == "baseline"]
    assert [e.epoch for e in epochs] == [1, 2]
    assert _children(before) == []


def test_with_epochs_per_line_2_each_epoch_renders_half_its_lines_and_trains_on_the_rest_again():
    torch.set_num_threads(2)
    one_by_one = _bundle(render_ahead="false", epochs_per_line="2")
    ahead = _bundle(render_ahead="true", epochs_per_line="2")
    rendered: list[int] = []
    try:
        ahead.train_batches(0)  # starts the workers
        real_render = ahead._renderer.render

        def counting_render(block: int, size: int):
            rendered.append(size)
            return real_render(block, size)

        ahead._renderer.render = counting_render
        epochs = []
        for epoch in (1, 2):
            expected, got = list(one_by_one.train_batches(epoch)), list(ahead.train_batches(epoch))
            assert [b.texts for b in got] == [b.texts for b in expected]
            assert all(torch.equal(a.images, b.images) for a, b in zip(expected, got, strict=True))
            epochs.append(sorted(text for batch in got for text in batch.texts))
        assert rendered == [225, 225]  # one new block of the 450 lines an epoch, not the whole epoch
    finally:
        ahead.close()
    # epoch 1 trains on blocks 1 and 2, epoch 2 on blocks 2 and 3: block 2's 225 lines in both
    shared = Counter(one_by_one._train_block(2).label(i) for i in range(225))
    assert shared <= Counter(epochs[0]) and shared <= Counter(epochs[1])
    assert Counter(epochs[0]) != Counter(epochs[1])
    assert len(epochs[0]) == len(epochs[1]) == 450
