"""Synthetic and real lines mixed at a fixed ratio (real data keeps a synthetic-trained model honest)."""

from __future__ import annotations

import numpy as np
from torch.utils.data import Dataset

from pipeline.data.samples import LinePixels, LineSample


class MixedDataset(Dataset):
    """Each item comes from `real` with probability `real_fraction`, else from `synthetic`.

    The choice for every index is drawn once from `seed`, so the mix is reproducible; item `i` taken from
    the synthetic set is synthetic line `i` (each synthetic line is used at most once), and a real item is
    a real line drawn uniformly (real sets are usually smaller and are repeated).

    Args:
        synthetic: A dataset of `(image, label)` samples, e.g. `SyntheticLineDataset`.
        real: Another one, e.g. `LabelledLineDataset`.
        real_fraction: Share of items taken from `real`, 0..1.
        size: Number of items (default: the synthetic set's length).
        seed: Fixes which items are real and which real line each is.
    """

    def __init__(
        self, synthetic: Dataset, real: Dataset, real_fraction: float, size: int | None = None, seed: int = 0
    ):
        if not 0.0 <= real_fraction <= 1.0:
            raise ValueError(f"real_fraction={real_fraction!r} is out of range; allowed 0..1")
        size = len(synthetic) if size is None else size
        if size < 0:
            raise ValueError(f"size={size!r} is not allowed; expected an integer >= 0")
        if real_fraction > 0 and len(real) == 0:
            raise ValueError("real_fraction > 0 but the real dataset is empty")
        if real_fraction < 1 and size > len(synthetic):
            raise ValueError(f"size={size} is larger than the synthetic dataset ({len(synthetic)} lines)")
        self.synthetic, self.real, self.real_fraction, self.size = synthetic, real, real_fraction, size
        rng = np.random.default_rng((seed, 7))
        self.is_real = rng.random(size) < real_fraction
        self.real_index = rng.integers(0, max(len(real), 1), size=size)

    def __len__(self) -> int:
        return self.size

    def _source(self, index: int) -> tuple[Dataset, int]:
        if not 0 <= index < self.size:
            raise IndexError(f"index {index} is out of range for a dataset of {self.size} lines")
        if self.is_real[index]:
            return self.real, int(self.real_index[index])
        return self.synthetic, index

    def __getitem__(self, index: int) -> LineSample:
        dataset, inner = self._source(index)
        return dataset[inner]

    def pixels(self, index: int) -> LinePixels:
        """Item `index` as uint8 (H, W) pixels with its label (both sources must offer `pixels`)."""
        dataset, inner = self._source(index)
        return dataset.pixels(inner)

    def label(self, index: int) -> str:
        """The label of item `index`."""
        dataset, inner = self._source(index)
        return dataset.label(inner) if hasattr(dataset, "label") else dataset[inner][1]

    def describe(self, index: int) -> str:
        """Where item `index` comes from, for previews."""
        dataset, inner = self._source(index)
        note = dataset.describe(inner) if hasattr(dataset, "describe") else ""
        return ("real " if self.is_real[index] else "synthetic ") + note

    def source(self, index: int) -> str:
        """Where item `index` comes from, as its own dataset names it."""
        dataset, inner = self._source(index)
        return dataset.source(inner) if hasattr(dataset, "source") else ""

    def width_hints(self) -> np.ndarray:
        """Pixel widths of all items, from the sources' hints."""
        synthetic = (
            _hints(self.synthetic)[: self.size] if not self.is_real.all() else np.zeros(self.size, np.int64)
        )
        if not self.is_real.any():
            return synthetic.copy()
        real = _hints(self.real)
        return np.where(self.is_real, real[self.real_index], np.resize(synthetic, self.size))

    def width_hint(self, index: int) -> int:
        """Pixel width of item `index` from its source's hint."""
        dataset, inner = self._source(index)
        return int(dataset.width_hint(inner))


def _hints(dataset: Dataset) -> np.ndarray:
    if hasattr(dataset, "width_hints"):
        return np.asarray(dataset.width_hints(), dtype=np.int64)
    return np.array([dataset.width_hint(i) for i in range(len(dataset))], dtype=np.int64)
