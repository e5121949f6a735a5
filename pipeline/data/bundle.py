"""The data an experiment trains, validates, calibrates and tests on, built from its config.

Synthetic lines are deterministic per (seed, split, index), so every variant of an experiment, and a
resumed run, sees exactly the same lines without storing images.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import torch

from pipeline.config import ExperimentConfig
from pipeline.core.charset import Charset
from pipeline.data.blocks import BlockLines, epoch_blocks
from pipeline.data.loader import make_loader
from pipeline.data.mixed import MixedDataset
from pipeline.data.real_sources import open_real_dataset
from pipeline.data.render_ahead import EpochRenderer, RenderedLines
from pipeline.data.samples import LinePixels
from pipeline.data.synthetic import SyntheticLineDataset

# Training batches are padded to a multiple of 32 px, not just the model's stride: each distinct input width
# costs PyTorch's CPU kernels set-up work, and quickstart's lines come in ~80 widths at a 4-px step against
# ~28 at 32 px. For ~4% more pixels a training step ran 1.29x (one thread) and 1.40x (two) faster
# (bench/batch_width_bench.py). Evaluation keeps the stride step, so measured CERs see no extra padding.
TRAIN_WIDTH_STEP = 32

# Seeds of the fixed evaluation streams, apart from training seeds so no test line is ever trained on.
_EPOCH_SEED_STRIDE = 1_000_003


@dataclass
class DataBundle:
    """Loaders for every stage of one experiment."""

    config: ExperimentConfig
    charset: Charset
    width_multiple: int
    real_train: object | None = None
    real_val: object | None = None
    real_test: object | None = None
    problems: list[str] = field(default_factory=list)
    _renderer: EpochRenderer | None = field(default=None, init=False, repr=False)
    # Rendered blocks of synthetic training lines, by block: the ones the next epoch trains on again.
    _rendered: dict[int, list[LinePixels]] = field(default_factory=dict, init=False, repr=False)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_renderer"] = None  # worker processes never render ahead themselves
        state["_rendered"] = {}
        return state

    def drop_rendered(self) -> None:
        """Let go of the rendered blocks kept for the next epoch (training is over)."""
        self._rendered = {}

    def close(self) -> None:
        """Stop the processes that render epochs ahead, if any were started, and drop their lines."""
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        self.drop_rendered()

    @property
    def lines_per_epoch(self) -> int:
        return (
            self.config.data.num_train
            if self.real_train is None
            else max(self.config.data.num_train, len(self.real_train))
        )

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(self.lines_per_epoch / self.config.train.batch_size)

    @property
    def test_size(self) -> int:
        return len(self.real_test) if self.real_test is not None else self.config.data.num_test

    @property
    def has_held_out_fonts(self) -> bool:
        synthetic = self.config.synthetic
        return self.real_test is None and bool(synthetic.held_out_fonts or synthetic.held_out_families)

    def _synthetic(self, split: str, size: int, seed: int, fonts: str = "train") -> SyntheticLineDataset:
        return SyntheticLineDataset(
            self.config.synthetic,
            self.config.augment,
            self.charset,
            size=size,
            seed=seed,
            split=split,
            font_pool=fonts,
        )

    def _loader(
        self,
        dataset,
        *,
        shuffle: bool,
        epoch: int = 0,
        workers: int | None = None,
        width_step: int | None = None,
    ) -> Iterable:
        # Evaluation batches say where each line comes from (the path column of predictions.tsv).
        return make_loader(
            dataset,
            self.config.train.batch_size,
            charset=self.charset,
            width_multiple=self.width_multiple,
            width_step=width_step,
            shuffle=shuffle,
            seed=self.config.train.seed,
            epoch=epoch,
            num_workers=self.config.data.num_workers if workers is None else workers,
            with_sources=not shuffle,
        )

    def _train_blocks(self, epoch: int) -> list[tuple[int, int]]:
        """(block, lines) of the synthetic lines `epoch` trains on (see pipeline.data.blocks)."""
        data = self.config.data
        if not data.fresh_data_each_epoch:
            return [(0, data.num_train)]
        return epoch_blocks(epoch, data.num_train, data.epochs_per_line)

    def _block_seed(self, block: int) -> int:
        return self.config.train.seed + block * _EPOCH_SEED_STRIDE

    def _train_block(self, block: int):
        """Block `block` of the synthetic training lines (seeded as epoch `block` of one-block epochs)."""
        lines = dict(self._train_blocks(block))[block]
        return self._synthetic("train", lines, self._block_seed(block))

    def train_dataset(self, epoch: int):
        blocks = self._train_blocks(epoch)
        if self.real_train is None:
            parts = [self._train_block(block) for block, _ in blocks]
            return parts[0] if len(parts) == 1 else BlockLines(parts)
        ratio = self.config.data.real_ratio
        if ratio >= 1.0:
            return self.real_train
        ((block, _),) = blocks  # one block: with train_data, epochs_per_line is 1
        return MixedDataset(
            self._train_block(block),
            self.real_train,
            real_fraction=ratio,
            size=self.lines_per_epoch,
            seed=self._block_seed(block),
        )

    def train_batches(self, epoch: int) -> Iterable:
        """The batches of one training epoch, in a deterministic order for (seed, epoch).

        With `render_ahead` and two or more torch threads, the epoch's lines are rendered now, in one
        process per thread, and the batches come from memory: the same batches, in the same order, as
        rendering them one by one. (With one thread, one process rendering ahead would gain nothing.)
        Synthetic blocks the previous epoch rendered are kept, not drawn again (`epochs_per_line`).
        """
        step = math.lcm(self.width_multiple, TRAIN_WIDTH_STEP)
        processes = torch.get_num_threads()
        if not self.config.data.render_ahead or processes < 2:
            dataset = self.train_dataset(epoch)
            return self._loader(dataset, shuffle=True, epoch=epoch, width_step=step)
        if self.real_train is not None:  # mixed or real lines: the whole epoch, rendered afresh
            if self._renderer is None:
                self._renderer = EpochRenderer(self.train_dataset, processes=processes)
            rendered = self._renderer.render(epoch, len(self.train_dataset(epoch)))
            return self._loader(rendered, shuffle=True, epoch=epoch, width_step=step, workers=0)
        if self._renderer is None:
            self._renderer = EpochRenderer(self._train_block, processes=processes)
        blocks = self._train_blocks(epoch)
        self._rendered = {
            block: self._rendered.get(block) or self._renderer.render(block, lines).lines
            for block, lines in blocks
        }
        lines = RenderedLines([line for block, _ in blocks for line in self._rendered[block]])
        return self._loader(lines, shuffle=True, epoch=epoch, width_step=step, workers=0)

    def val_batches(self) -> Iterable:
        dataset = self.real_val
        if dataset is None:  # training fonts: held-out fonts are measured apart, on the test set
            dataset = self._synthetic("val", self.config.data.num_val, self.config.train.seed)
        return self._loader(dataset, shuffle=False)

    def test_batches(self, fonts: str = "train") -> Iterable:
        """The shared test set; `fonts="held_out"` gives the same count of lines in fonts never trained on."""
        if self.real_test is not None:
            return self._loader(self.real_test, shuffle=False)
        return self._loader(
            self._synthetic("test", self.config.data.num_test, self.config.train.seed, fonts), shuffle=False
        )

    def calibration_batches(self, count: int) -> list:
        """`count` batches of training-distribution lines for quantization calibration (never test lines)."""
        dataset = self._synthetic("train", count * self.config.train.batch_size, self.config.train.seed + 7)
        return list(self._loader(dataset, shuffle=False, workers=0))


def build_data(config: ExperimentConfig, charset: Charset, width_multiple: int) -> DataBundle:
    """Check fonts and label files now (a bad input fails before any work) and return the bundle."""
    bundle = DataBundle(config=config, charset=charset, width_multiple=width_multiple)
    # Building one synthetic dataset resolves the fonts: a missing or unreadable font fails here.
    bundle._synthetic("val", 1, config.train.seed)
    data = config.data
    for attr, path in (
        ("real_train", data.train_data),
        ("real_val", data.val_data),
        ("real_test", data.test_data),
    ):
        if path is None:
            continue
        real = open_real_dataset(
            path,
            charset,
            image_height=config.synthetic.image_height,
            max_image_width=config.synthetic.max_image_width,
            width_scale=config.synthetic.width_scale,
            skip_bad=data.skip_bad_samples,
            too_wide="error",
        )
        bundle.problems.extend(problems_as_text(real.problems))
        setattr(bundle, attr, real.dataset)
    return bundle


def problems_as_text(problems) -> list[str]:
    return [str(p) for p in problems]
