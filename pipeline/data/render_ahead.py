"""Render each training epoch's lines up front in worker processes, then train on them from memory.

On a CPU, lines rendered in the training process leave every core but one idle while they are drawn,
and loader workers that render *while* training runs take cores from torch's threads (oversubscribed,
torch slows down far more than the workers gain). Rendering the whole epoch first on every core, then
training on every core, keeps both phases parallel. The workers persist for the run, so each keeps its
glyph cache warm from epoch to epoch. The epoch is held in memory as uint8 pixels, about 11 KB a line
at height 32 (quickstart's 6,000 lines: ~65 MB; cpu_long's 20,000: ~215 MB).
"""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

import torch
from torch.utils.data import Dataset

from pipeline.data.samples import LinePixels, LineSample, pixels_to_tensor

# Lines per task: large enough that sending tasks and results costs little, small enough to share an
# epoch evenly among the workers.
CHUNK_LINES = 200

DatasetFactory = Callable[[int], Dataset]

# In a worker process: what makes an epoch's dataset, and the dataset of the epoch being rendered.
_worker_factory: DatasetFactory | None = None
_worker_dataset: tuple[int, Dataset] | None = None


def _start_worker(factory: DatasetFactory) -> None:
    global _worker_factory
    # Ctrl-C reaches the whole process group: the training process stops the pool, workers just finish.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(1)
    _worker_factory = factory


def _render_lines(epoch: int, start: int, stop: int) -> list[LinePixels]:
    global _worker_dataset
    if _worker_dataset is None or _worker_dataset[0] != epoch:
        assert _worker_factory is not None, "worker started without a dataset factory"
        _worker_dataset = (epoch, _worker_factory(epoch))
    dataset = _worker_dataset[1]
    return [dataset.pixels(index) for index in range(start, stop)]


class RenderedLines(Dataset):
    """An epoch's lines held in memory as uint8 pixels; widths are known without any work."""

    def __init__(self, lines: list[LinePixels]) -> None:
        self.lines = lines

    def __len__(self) -> int:
        return len(self.lines)

    def __getitem__(self, index: int) -> LineSample:
        pixels, label = self.lines[index]
        return pixels_to_tensor(pixels), label

    def width_hint(self, index: int) -> int:
        return int(self.lines[index][0].shape[1])


class EpochRenderer:
    """Renders whole epochs in `processes` persistent worker processes.

    Args:
        make_dataset: epoch -> that epoch's dataset (its items need a `pixels(index)` method); called in
            the workers, so with the "spawn" start method it must pickle.
        processes: Worker processes (>= 1).
        start_method: "fork" or "spawn"; by default fork where it exists (Linux), else spawn (macOS and
            Windows), which pickles `make_dataset` to every worker.
    """

    def __init__(self, make_dataset: DatasetFactory, processes: int, start_method: str | None = None) -> None:
        if processes < 1:
            raise ValueError(f"processes={processes} is not allowed; expected an integer >= 1")
        methods = multiprocessing.get_all_start_methods()
        if start_method is None:
            # fork shares the fonts and caches already loaded
            start_method = "fork" if "fork" in methods else "spawn"
        if start_method not in methods:
            raise ValueError(
                f"start_method={start_method!r} is not available here; allowed {', '.join(methods)}"
            )
        self.make_dataset, self.processes, self.start_method = make_dataset, processes, start_method
        self._executor: ProcessPoolExecutor | None = None

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                self.processes,
                mp_context=multiprocessing.get_context(self.start_method),
                initializer=_start_worker,
                initargs=(self.make_dataset,),
            )
        return self._executor

    def render(self, epoch: int, size: int) -> RenderedLines:
        """Lines 0..size-1 of `epoch`'s dataset, in index order."""
        starts = list(range(0, size, CHUNK_LINES))
        stops = [min(size, start + CHUNK_LINES) for start in starts]
        pool = self._pool()
        try:
            chunks = list(pool.map(_render_lines, [epoch] * len(starts), starts, stops))
        except BaseException:
            self.close()  # interrupted or a worker failed: queued chunks are dropped, workers exit
            raise
        return RenderedLines([line for chunk in chunks for line in chunk])

    def close(self) -> None:
        """Stop the workers (a later `render` starts new ones)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
