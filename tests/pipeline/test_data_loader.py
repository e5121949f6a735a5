"""Batches: padded to the stride (training: a coarser step), grouped by width, deterministic; mixing synthetic and real lines."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import Subset

from pipeline.config import resolve_config
from pipeline.config.data_sections import AugmentationConfig, SyntheticDataConfig
from pipeline.core.charset import Charset
from pipeline.data.bundle import TRAIN_WIDTH_STEP, build_data
from pipeline.data.labelled import LabelledLineDataset
from pipeline.data.loader import LineCollator, WidthBucketBatchSampler, dataset_widths, make_loader
from pipeline.data.mixed import MixedDataset
from pipeline.data.preview import write_contact_sheet
from pipeline.data.synthetic import SyntheticLineDataset

ASCII = Charset.from_spec("ascii")


@pytest.fixture(scope="module")
def synthetic():
    return SyntheticLineDataset(SyntheticDataConfig(), AugmentationConfig.light(), ASCII, 240, seed=3)


def test_collate_pads_to_width_multiple_with_background():
    white_line = torch.full((1, 32, 50), 0.8)
    white_line[:, 10:20, 5:40] = -1.0
    samples = [(white_line, "ab"), (torch.full((1, 32, 9), -0.2), ""), (torch.full((1, 32, 70), 0.5), "xyz")]
    batch = LineCollator(ASCII, width_multiple=8)(samples)
    assert batch.images.shape == (3, 1, 32, 72)
    assert batch.widths.tolist() == [50, 32, 70]  # the 9-px line is padded to the minimum 4 * 8
    assert torch.allclose(batch.images[0, :, :, 50:], torch.tensor(0.8))  # padding continues the paper
    assert torch.equal(batch.images[0, :, :, :50], white_line)
    assert batch.target_lengths.tolist() == [2, 0, 3]
    assert batch.targets.dtype == torch.long and batch.targets.tolist() == ASCII.encode("ab") + ASCII.encode(
        "xyz"
    )
    assert batch.texts == ["ab", "", "xyz"]


def test_collate_pads_to_a_coarser_width_step_keeping_true_widths():
    samples = [(torch.full((1, 32, 50), 0.8), "ab"), (torch.full((1, 32, 70), 0.5), "xyz")]
    batch = LineCollator(ASCII, width_multiple=4, width_step=32)(samples)
    assert batch.images.shape == (2, 1, 32, 96)
    assert batch.widths.tolist() == [50, 70]  # CTC lengths still come from the lines, not the padding
    assert torch.allclose(batch.images[1, :, :, 70:], torch.tensor(0.5))
    with pytest.raises(ValueError, match="width_step=30 is not allowed; expected a multiple of 4"):
        LineCollator(ASCII, width_multiple=4, width_step=30)


def test_training_batches_come_in_few_widths_and_evaluation_batches_in_stride_steps():
    config = resolve_config(
        "quickstart", overrides={"num_train": "160", "num_val": "160", "num_workers": "0"}
    )
    data = build_data(config, ASCII, width_multiple=4)
    train_widths = {batch.images.shape[3] for batch in data.train_batches(0)}
    val_widths = {batch.images.shape[3] for batch in data.val_batches()}
    assert all(width % TRAIN_WIDTH_STEP == 0 for width in train_widths)
    # evaluation pads only to the stride, so the measured CER sees no padding training alone adds
    assert all(width % 4 == 0 for width in val_widths)
    assert any(width % TRAIN_WIDTH_STEP for width in val_widths)


def test_collate_rejects_mixed_heights():
    with pytest.raises(ValueError, match="must all be"):
        LineCollator(ASCII)([(torch.zeros(1, 32, 40), "a"), (torch.zeros(1, 48, 40), "b")])


def test_loader_batches_are_multiples_and_grouped_by_width(synthetic):
    widths = dataset_widths(synthetic)
    loader = make_loader(synthetic, 16, charset=ASCII, width_multiple=4, seed=1)
    seen, padded, useful = [], 0, 0
    for batch in loader:
        assert batch.images.shape[3] % 4 == 0 and batch.images.shape[2] == 32
        assert (batch.widths <= batch.images.shape[3]).all()
        padded += batch.images.shape[0] * batch.images.shape[3]
        useful += int(batch.widths.sum())
        seen.extend(batch.texts)
    assert len(seen) == len(synthetic)
    random_order = WidthBucketBatchSampler(None, len(synthetic), 16, seed=1)
    unbucketed = sum(len(b) * max(widths[b]) for b in random_order.batches())
    assert padded / useful < 1.2, (padded / useful, unbucketed / useful)
    assert padded < 0.8 * unbucketed


def test_sampler_is_deterministic_and_covers_every_index_once():
    widths = np.random.default_rng(0).integers(40, 600, size=1000)
    sampler = WidthBucketBatchSampler(widths, 1000, 32, seed=5, epoch=0)
    first = [list(b) for b in sampler]
    again = [list(b) for b in WidthBucketBatchSampler(widths, 1000, 32, seed=5, epoch=0)]
    assert first == again
    assert sorted(i for b in first for i in b) == list(range(1000))
    sampler.set_epoch(1)
    assert [list(b) for b in sampler] != first
    assert len(sampler) == 32
    spreads = [np.ptp(widths[b]) for b in first]
    assert np.median(spreads) < 60  # neighbours in a sorted chunk of ~1600 widths over 560 px
    dropped = WidthBucketBatchSampler(widths, 1000, 32, drop_last=True)
    assert all(len(b) == 32 for b in dropped) and len(list(dropped)) == len(dropped) == 31


def test_worker_processes_give_the_same_batches(synthetic):
    small = Subset(synthetic, list(range(24)))
    plain = list(make_loader(small, 8, charset=ASCII, seed=2, num_workers=0))
    workers = list(make_loader(small, 8, charset=ASCII, seed=2, num_workers=2))
    assert [b.texts for b in plain] == [b.texts for b in workers]
    assert all(torch.equal(a.images, b.images) for a, b in zip(plain, workers, strict=True))


def _real_dataset(tmp_path):
    lines = []
    for i in range(5):
        pixels = np.full((40, 100 + 20 * i), 230, np.uint8)
        pixels[15:25, 10:-10] = 20
        Image.fromarray(pixels).save(tmp_path / f"r{i}.png")
        lines.append(f"r{i}.png\treal {i}")
    (tmp_path / "labels.txt").write_text("\n".join(lines), encoding="utf-8")
    return LabelledLineDataset.from_label_file(tmp_path / "labels.txt", ASCII)


def test_mixed_dataset_mixes_at_ratio_reproducibly(tmp_path, synthetic):
    real = _real_dataset(tmp_path)
    mixed = MixedDataset(synthetic, real, real_fraction=0.3, seed=4)
    assert len(mixed) == len(synthetic)
    labels = [mixed.label(i) for i in range(len(mixed))]
    share = sum(label.startswith("real ") for label in labels) / len(labels)
    assert 0.2 < share < 0.4
    again = MixedDataset(synthetic, real, real_fraction=0.3, seed=4)
    assert labels == [again.label(i) for i in range(len(again))]
    assert list(mixed.width_hints()) == [mixed.width_hint(i) for i in range(len(mixed))]
    batch = next(iter(make_loader(mixed, 12, charset=ASCII, seed=0)))
    assert batch.images.shape[0] == 12
    with pytest.raises(ValueError, match="real_fraction=1.5"):
        MixedDataset(synthetic, real, real_fraction=1.5)


def test_evaluation_batches_name_the_source_of_every_line(tmp_path, synthetic):
    real = _real_dataset(tmp_path)
    mixed = MixedDataset(synthetic, real, real_fraction=0.5, size=40, seed=1)
    for workers in (0, 2):
        batches = list(
            make_loader(mixed, 8, charset=ASCII, shuffle=False, num_workers=workers, with_sources=True)
        )
        for batch in batches:
            assert len(batch.sources) == len(batch.texts)
            for source, text in zip(batch.sources, batch.texts, strict=True):
                if text.startswith("real "):  # a real line names its image file
                    assert source == str(tmp_path / f"r{text.split()[1]}.png")
                else:  # a synthetic line names what renders it again
                    split, fonts, seed, index = source.split(":")[1:]
                    line = SyntheticLineDataset(
                        SyntheticDataConfig(), AugmentationConfig.light(), ASCII, 240, int(seed), split, fonts
                    )
                    assert line.label(int(index)) == text
    assert all(b.sources is None for b in make_loader(mixed, 8, charset=ASCII, shuffle=False))
    subset = make_loader(Subset(synthetic, [7, 5]), 2, charset=ASCII, shuffle=False, with_sources=True)
    assert sorted(next(iter(subset)).sources) == ["synthetic:train:train:3:5", "synthetic:train:train:3:7"]


def test_contact_sheet_is_written(tmp_path, synthetic):
    path = write_contact_sheet(synthetic, tmp_path / "preview" / "sheet.png", n=6)
    with Image.open(path) as sheet:
        assert sheet.format == "PNG" and sheet.width > 200 and sheet.height > 6 // 2 * 32
        pixels = np.asarray(sheet.convert("L"))
    assert (pixels < 80).sum() > 500  # labels and ink were drawn, not an empty canvas
