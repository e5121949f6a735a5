"""An epoch of synthetic training lines made of blocks, each block trained on in consecutive epochs.

With `epochs_per_line` k, every epoch trains on k blocks of num_train / k lines: block b is new in epoch
b - k + 1 (the first epoch draws k blocks) and last trained on in epoch b. Rendering ahead then draws one
block an epoch, 1/k of its lines, and keeps the others from the epochs before. A block is a synthetic
dataset of its own seed, so an epoch's lines stay a pure function of (seed, epoch), resumable as before.
"""

from __future__ import annotations

import bisect
from itertools import accumulate

import numpy as np
from torch.utils.data import Dataset

from pipeline.data.samples import LinePixels, LineSample


def epoch_blocks(epoch: int, num_train: int, epochs_per_line: int) -> list[tuple[int, int]]:
    """(block, lines) pairs of `epoch`: blocks epoch .. epoch + k - 1, sizes summing to `num_train`.

    A block's size depends on the block alone (the first num_train % k residues get one more line), so a
    block holds the same lines in every epoch that trains on it."""
    k = epochs_per_line
    return [(block, num_train // k + (block % k < num_train % k)) for block in range(epoch, epoch + k)]


class BlockLines(Dataset):
    """Datasets laid end to end; every method of a synthetic dataset, by index into the whole."""

    def __init__(self, blocks: list[Dataset]) -> None:
        self.blocks = blocks
        self._ends = list(accumulate(len(block) for block in blocks))

    def __len__(self) -> int:
        return self._ends[-1] if self._ends else 0

    def _find(self, index: int) -> tuple[Dataset, int]:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} is out of range for {len(self)} lines")
        at = bisect.bisect_right(self._ends, index)
        return self.blocks[at], index - (self._ends[at - 1] if at else 0)

    def __getitem__(self, index: int) -> LineSample:
        block, inner = self._find(index)
        return block[inner]

    def pixels(self, index: int) -> LinePixels:
        block, inner = self._find(index)
        return block.pixels(inner)

    def label(self, index: int) -> str:
        block, inner = self._find(index)
        return block.label(inner)

    def describe(self, index: int) -> str:
        block, inner = self._find(index)
        return block.describe(inner)

    def source(self, index: int) -> str:
        block, inner = self._find(index)
        return block.source(inner)

    def width_hint(self, index: int) -> int:
        block, inner = self._find(index)
        return int(block.width_hint(inner))

    def width_hints(self) -> np.ndarray:
        return np.concatenate([np.asarray(block.width_hints(), dtype=np.int64) for block in self.blocks])
