"""Batches of text lines for CTC training: width-padded images, concatenated targets, lines grouped by width.

A dataset item is `(image, label)`: a float32 tensor (1, H, W) in [-1, 1] with ink dark, and a str.
Lines of similar width are batched together (sorted within chunks of ~50 batches, then the batches are
shuffled) so little of each batch is padding. Everything is deterministic given seed and epoch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler, Subset

from pipeline.core.charset import Charset
from pipeline.data.samples import LineSample


@dataclass
class LineBatch:
    """A batch of lines.

    Attributes:
        images: (B, 1, H, W) float32, W a multiple of the model stride; padding continues each image's
            background value.
        targets: All labels' class ids concatenated (long), as `torch.nn.functional.ctc_loss` takes them.
        target_lengths: (B,) label lengths (0 for blank lines).
        widths: (B,) width of each image before padding (at least the loader's minimum width).
        texts: The labels.
        sources: Where each line comes from (an image path, or `synthetic:split:fonts:seed:index`), when
            the loader was asked for them (evaluation); None otherwise.
    """

    images: torch.Tensor
    targets: torch.Tensor
    target_lengths: torch.Tensor
    widths: torch.Tensor
    texts: list[str]
    sources: list[str] | None = None

    def __len__(self) -> int:
        return len(self.texts)

    def to(self, device: torch.device | str, non_blocking: bool = False) -> LineBatch:
        """The batch with its tensors moved to `device`."""
        return LineBatch(
            self.images.to(device, non_blocking=non_blocking),
            self.targets.to(device, non_blocking=non_blocking),
            self.target_lengths.to(device, non_blocking=non_blocking),
            self.widths.to(device, non_blocking=non_blocking),
            self.texts,
            self.sources,
        )

    def pin_memory(self) -> LineBatch:
        """Page-locked copies (used by DataLoader's `pin_memory=True`)."""
        return LineBatch(
            self.images.pin_memory(),
            self.targets.pin_memory(),
            self.target_lengths.pin_memory(),
            self.widths.pin_memory(),
            self.texts,
            self.sources,
        )


def background_value(image: torch.Tensor) -> float:
    """The median of an image's border pixels: what padding should look like to continue it."""
    plane = image[0]
    border = torch.cat([plane[:, 0], plane[:, -1], plane[0, :], plane[-1, :]])
    return float(border.median())


class LineCollator:
    """Turns a list of `(image, label)` or `(image, label, source)` samples into a `LineBatch`.

    Args:
        charset: Encodes the labels.
        width_multiple: The model's horizontal stride; batch widths are padded up to a multiple of it.
        min_width: Narrower images are padded to it (default `4 * width_multiple`).
        width_step: Pad batch widths to a multiple of this instead (a multiple of `width_multiple`), so
            fewer distinct shapes reach the model.
    """

    def __init__(
        self,
        charset: Charset,
        width_multiple: int = 4,
        min_width: int | None = None,
        width_step: int | None = None,
    ) -> None:
        if width_multiple < 1:
            raise ValueError(f"width_multiple={width_multiple} is not allowed; expected an integer >= 1")
        step = width_multiple if width_step is None else width_step
        if step < 1 or step % width_multiple:
            raise ValueError(f"width_step={step} is not allowed; expected a multiple of {width_multiple}")
        self.charset = charset
        self.width_multiple = width_multiple
        self.width_step = step
        self.min_width = min_width if min_width is not None else 4 * width_multiple

    def __call__(self, samples: Sequence[LineSample]) -> LineBatch:
        if not samples:
            raise ValueError("cannot collate an empty batch")
        images = [sample[0] for sample in samples]
        texts = [sample[1] for sample in samples]
        sources = [sample[2] for sample in samples] if len(samples[0]) > 2 else None
        height = images[0].shape[1]
        if any(image.dim() != 3 or image.shape[0] != 1 or image.shape[1] != height for image in images):
            shapes = sorted({tuple(image.shape) for image in images})
            raise ValueError(f"batch images must all be (1, {height}, W); got shapes {shapes[:5]}")
        widths = [max(image.shape[2], self.min_width) for image in images]
        batch_width = int(math.ceil(max(widths) / self.width_step) * self.width_step)
        batch = torch.empty((len(images), 1, height, batch_width), dtype=torch.float32)
        for i, image in enumerate(images):
            width = image.shape[2]
            if width < batch_width:
                batch[i, :, :, width:] = background_value(image)
            batch[i, :, :, :width] = image
        encoded = [self.charset.encode(text) for text in texts]
        targets = torch.tensor([c for ids in encoded for c in ids], dtype=torch.long)
        lengths = torch.tensor([len(ids) for ids in encoded], dtype=torch.long)
        return LineBatch(batch, targets, lengths, torch.tensor(widths, dtype=torch.long), texts, sources)


def dataset_widths(dataset: Dataset) -> np.ndarray | None:
    """Width of every item if the dataset can tell without loading images (`width_hints`/`width_hint`)."""
    if isinstance(dataset, Subset):
        parent = dataset_widths(dataset.dataset)
        return None if parent is None else parent[np.asarray(dataset.indices, dtype=np.int64)]
    if hasattr(dataset, "width_hints"):
        return np.asarray(dataset.width_hints(), dtype=np.int64)
    if hasattr(dataset, "width_hint"):
        return np.array([dataset.width_hint(i) for i in range(len(dataset))], dtype=np.int64)
    return None


WidthLookup = Callable[[np.ndarray], np.ndarray]


def source_lookup(dataset: Dataset) -> Callable[[int], str] | None:
    """A function naming where item `i` comes from (the dataset's `source(i)`), or None if it cannot tell."""
    if isinstance(dataset, Subset):
        parent = source_lookup(dataset.dataset)
        return None if parent is None else lambda index: parent(int(dataset.indices[index]))
    return getattr(dataset, "source", None)


class _WithSources(Dataset):
    """Items `(image, label, source)`: the wrapped dataset's samples with where each comes from."""

    def __init__(self, dataset: Dataset, source: Callable[[int], str]) -> None:
        self.dataset, self.source = dataset, source

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, str, str]:
        image, label = self.dataset[index]
        return image, label, self.source(index)


def width_lookup(dataset: Dataset) -> WidthLookup | None:
    """A function giving the widths of some item indices, asked lazily (chunk by chunk) so the first batch
    does not wait for every line of a large synthetic set to be laid out; None if the dataset cannot tell."""
    if isinstance(dataset, Subset):
        parent = width_lookup(dataset.dataset)
        if parent is None:
            return None
        indices = np.asarray(dataset.indices, dtype=np.int64)
        return lambda items: parent(indices[items])
    if not hasattr(dataset, "width_hint"):
        return None
    hint = dataset.width_hint
    return lambda items: np.fromiter((hint(int(i)) for i in items), dtype=np.int64, count=len(items))


class WidthBucketBatchSampler(Sampler[list[int]]):
    """Index batches of similar width: shuffle, sort by width inside chunks of `chunk_batches` batches,
    cut into batches, shuffle the batches of each chunk. Call `set_epoch` before each epoch for a new order.

    Args:
        widths: Width of every item, a function giving the widths of an index array (asked once per chunk),
            or None to batch without grouping.
        num_items: Number of items.
        batch_size: Items per batch.
        shuffle: Shuffle items and batches (False keeps a fixed order, still grouped by width).
        seed: With the epoch, fixes the order.
        epoch: The first epoch.
        drop_last: Drop incomplete batches.
        chunk_batches: How many batches' worth of items are sorted together.
    """

    def __init__(
        self,
        widths: np.ndarray | WidthLookup | None,
        num_items: int,
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        epoch: int = 0,
        drop_last: bool = False,
        chunk_batches: int = 50,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size} is not allowed; expected an integer >= 1")
        if isinstance(widths, np.ndarray | list | tuple):
            if len(widths) != num_items:
                raise ValueError(f"got {len(widths)} widths for {num_items} items")
            array = np.asarray(widths, dtype=np.int64)
            widths = lambda items: array[items]  # noqa: E731 - one lookup type inside the sampler
        self.widths, self.num_items, self.batch_size = widths, num_items, batch_size
        self.shuffle, self.seed, self.epoch = shuffle, seed, epoch
        self.drop_last, self.chunk_batches = drop_last, chunk_batches

    def set_epoch(self, epoch: int) -> None:
        """Use the order of `epoch` from the next iteration on."""
        self.epoch = epoch

    def iter_batches(self) -> Iterator[np.ndarray]:
        """The batches of the current epoch, as index arrays, produced chunk by chunk.

        Widths are asked only when a chunk is reached, so a large synthetic set starts at once. Batches
        are shuffled within their chunk; each chunk is a random sample of the whole set, so batch order is
        as random as a global shuffle would make it.
        """
        rng = np.random.default_rng((self.seed, self.epoch))
        order = rng.permutation(self.num_items) if self.shuffle else np.arange(self.num_items)
        chunk = self.batch_size * self.chunk_batches
        for start in range(0, self.num_items, chunk):
            part = order[start : start + chunk]
            if self.widths is not None:
                part = part[np.argsort(self.widths(part), kind="stable")]
            batches = [part[i : i + self.batch_size] for i in range(0, len(part), self.batch_size)]
            if self.drop_last:
                batches = [b for b in batches if len(b) == self.batch_size]
            if self.shuffle and self.widths is not None:
                batches = [batches[i] for i in rng.permutation(len(batches))]
            yield from batches

    def batches(self) -> list[np.ndarray]:
        """All batches of the current epoch (see `iter_batches`)."""
        return list(self.iter_batches())

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self.iter_batches():
            yield batch.tolist()

    def __len__(self) -> int:
        if self.drop_last:
            return self.num_items // self.batch_size
        return math.ceil(self.num_items / self.batch_size)


def make_loader(
    dataset: Dataset,
    batch_size: int,
    *,
    charset: Charset,
    width_multiple: int = 4,
    width_step: int | None = None,
    shuffle: bool = True,
    seed: int = 0,
    epoch: int = 0,
    num_workers: int = 0,
    bucket_by_width: bool = True,
    drop_last: bool = False,
    pin_memory: bool = False,
    with_sources: bool = False,
) -> DataLoader:
    """A DataLoader of `LineBatch`es, grouped by width and deterministic given seed and epoch.

    With `num_workers > 0`, lines are rendered/loaded in persistent worker processes; batches still come
    in sampler order. For later epochs call `loader.batch_sampler.set_epoch(epoch)` and iterate again.

    Args:
        dataset: Items `(image (1, H, W), label)`; widths for grouping come from its `width_hint(i)`, asked
            chunk by chunk as batches are drawn.
        batch_size: Lines per batch.
        charset: Encodes labels into targets.
        width_multiple: Batch widths are padded to a multiple of this (the model's stride).
        width_step: Pad batch widths to a multiple of this coarser step instead (see `LineCollator`).
        shuffle: Shuffle (training) or keep a fixed order (evaluation).
        seed: Seed of the order.
        epoch: Epoch of the first iteration.
        num_workers: Worker processes (0: load in this process).
        bucket_by_width: Group lines of similar width (needs width hints; otherwise ignored).
        drop_last: Drop the incomplete last batches.
        pin_memory: Page-locked batches for faster copies to a GPU.
        with_sources: Fill each batch's `sources` (for predictions files) when the dataset has `source(i)`.
    """
    widths = width_lookup(dataset) if bucket_by_width else None
    sampler = WidthBucketBatchSampler(widths, len(dataset), batch_size, shuffle, seed, epoch, drop_last)
    source = source_lookup(dataset) if with_sources else None
    return DataLoader(
        dataset if source is None else _WithSources(dataset, source),
        batch_sampler=sampler,
        collate_fn=LineCollator(charset, width_multiple, width_step=width_step),
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
        pin_memory=pin_memory,
    )
