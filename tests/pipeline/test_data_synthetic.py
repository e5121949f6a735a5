"""The synthetic dataset: reproducible per (seed, split, index), held-out fonts, blanks, width caps."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from pipeline.config import resolve_config
from pipeline.config.data_sections import DEFAULT_HELD_OUT_FAMILIES, AugmentationConfig, SyntheticDataConfig
from pipeline.core.charset import Charset
from pipeline.data.blocks import epoch_blocks
from pipeline.data.bundle import build_data
from pipeline.data.fonts import font_coverage
from pipeline.data.synthetic import SyntheticLineDataset

ROOT = Path(__file__).resolve().parents[2]
ASCII = Charset.from_spec("ascii")


def _dataset(size: int = 64, seed: int = 7, split: str = "train", **kwargs) -> SyntheticLineDataset:
    return SyntheticLineDataset(
        SyntheticDataConfig(), AugmentationConfig(), ASCII, size, seed=seed, split=split, **kwargs
    )


def _digest(tensor: torch.Tensor) -> str:
    return hashlib.sha256(tensor.numpy().tobytes()).hexdigest()


def test_item_is_normalised_tensor_and_label_in_charset():
    dataset = _dataset()
    for i in range(12):
        image, label = dataset[i]
        assert image.dtype == torch.float32 and image.shape[:2] == (1, 32)
        assert -1.0 <= image.min() and image.max() <= 1.0
        assert not ASCII.missing(label)


def test_same_index_gives_identical_pixels_in_any_order():
    forward = [_digest(_dataset()[i][0]) for i in range(6)]
    dataset = _dataset()
    backward = [_digest(dataset[i][0]) for i in reversed(range(6))][::-1]
    assert forward == backward
    assert len(set(forward)) == 6


def test_same_index_gives_identical_pixels_in_a_fresh_process():
    indices = [0, 5, 33]
    code = (
        "import hashlib, json; from pipeline.core.charset import Charset;"
        "from pipeline.config.data_sections import AugmentationConfig, SyntheticDataConfig;"
        "from pipeline.data.synthetic import SyntheticLineDataset;"
        "d = SyntheticLineDataset(SyntheticDataConfig(), AugmentationConfig(), Charset.from_spec('ascii'), 64, seed=7);"
        f"print(json.dumps([[hashlib.sha256(d[i][0].numpy().tobytes()).hexdigest(), d[i][1]] for i in {indices}]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    dataset = _dataset()
    assert json.loads(result.stdout) == [[_digest(dataset[i][0]), dataset[i][1]] for i in indices]


def test_splits_and_seeds_are_different_streams():
    train, val, other = _dataset(split="train"), _dataset(split="val"), _dataset(seed=8)
    labels = [train.label(i) for i in range(40)]
    assert labels != [val.label(i) for i in range(40)]
    assert labels != [other.label(i) for i in range(40)]
    assert sum(_digest(train[i][0]) == _digest(val[i][0]) for i in range(10)) == 0


def test_held_out_fonts_never_used_in_train_split():
    train = _dataset(size=300)
    used = {train.describe(i) for i in range(300)}
    held_out = {p.stem for p in train.pools.held_out}
    assert used and not used & held_out
    assert len(used) >= 8
    val = _dataset(size=60, split="val", font_pool="held_out")
    assert {val.describe(i) for i in range(60)} <= held_out
    assert train.pools.pool_families("held_out") == sorted(DEFAULT_HELD_OUT_FAMILIES)
    with pytest.raises(ValueError, match="not allowed for the train split"):
        _dataset(font_pool="all")


def test_font_selection_and_unknown_font():
    config = SyntheticDataConfig(
        fonts=["DejaVuSansMono.ttf", "LiberationMono-Regular.ttf"], held_out_fonts=[]
    )
    dataset = SyntheticLineDataset(config, AugmentationConfig(), ASCII, 50)
    assert {dataset.describe(i) for i in range(50)} == {"DejaVuSansMono", "LiberationMono-Regular"}
    with pytest.raises(ValueError, match="font 'Comic.ttf' was not found"):
        SyntheticLineDataset(SyntheticDataConfig(fonts=["Comic.ttf"]), AugmentationConfig(), ASCII, 5)
    everything_held = SyntheticDataConfig(fonts=["DejaVuSans.ttf"], held_out_fonts=["DejaVuSans.ttf"])
    with pytest.raises(ValueError, match="no training font left"):
        SyntheticLineDataset(everything_held, AugmentationConfig(), ASCII, 5)


def test_user_font_dir_adds_fonts(tmp_path):
    (tmp_path / "MyFont.ttf").write_bytes(
        (Path(__file__).resolve().parents[2] / "fonts" / "DejaVuSerif.ttf").read_bytes()
    )
    config = SyntheticDataConfig(fonts=["MyFont.ttf"], held_out_fonts=[], font_dirs=[str(tmp_path)])
    dataset = SyntheticLineDataset(config, AugmentationConfig(), ASCII, 10)
    assert dataset.describe(3) == "MyFont" and dataset[3][0].shape[1] == 32


def test_fonts_that_cannot_draw_the_charset_are_excluded(tmp_path):
    path = tmp_path / "braille.txt"
    path.write_text("\n".join(chr(0x2801 + i) for i in range(10)), encoding="utf-8")
    charset = Charset.from_spec(str(path))
    dataset = SyntheticLineDataset(SyntheticDataConfig(held_out_fonts=[]), AugmentationConfig(), charset, 40)
    assert dataset.pools.excluded and all("Liberation" not in p.name for p in dataset.fonts)
    for i in range(40):
        label = dataset.label(i)
        assert not charset.missing(label)
        font = next(p for p in dataset.fonts if p.stem == dataset.describe(i))
        assert set(label) <= font_coverage(str(font))


def test_blank_ratio_is_honoured():
    config = SyntheticDataConfig(blank_ratio=0.2)
    dataset = SyntheticLineDataset(config, AugmentationConfig(), ASCII, 1000, seed=1)
    blanks = [i for i in range(1000) if dataset.label(i) == ""]
    assert 0.16 < len(blanks) / 1000 < 0.24
    image, label = dataset[blanks[0]]
    assert label == "" and image.shape[2] >= 64


def test_sample_params_match_rendered_sample():
    aug = replace(AugmentationConfig.none(), rotation_prob=1.0, rotation_max_degrees=5.0, jpeg_prob=1.0)
    dataset = SyntheticLineDataset(SyntheticDataConfig(), aug, ASCII, 50, seed=2)
    for i in range(20):
        params = dataset.sample_params(i)
        sample = dataset.sample(i)
        assert sample.params == params
        assert abs(params.rotation_degrees) <= 5.0 and 30 <= params.jpeg_quality <= 95
        assert np.array_equal(np.asarray(sample.image), ((dataset[i][0][0].numpy() + 1) * 127.5).round())


def test_width_hint_is_exact_and_max_width_is_enforced():
    config = SyntheticDataConfig(max_length=200, long_text_ratio=1.0, max_image_width=256)
    dataset = SyntheticLineDataset(config, AugmentationConfig(), ASCII, 30, seed=4)
    for i in range(30):
        image, label = dataset[i]
        assert image.shape[2] == dataset.width_hint(i) <= 256
        assert len(label) < 60
    assert list(dataset.width_hints()) == [dataset[i][0].shape[2] for i in range(30)]


def test_digits_charset_lines_are_digits():
    digits = Charset.from_spec("digits")
    dataset = SyntheticLineDataset(SyntheticDataConfig(blank_ratio=0.0), AugmentationConfig(), digits, 80)
    labels = [dataset.label(i) for i in range(80)]
    assert all(label.isdigit() for label in labels)


def test_bad_arguments():
    with pytest.raises(ValueError, match="split='dev' is unknown"):
        _dataset(split="dev")
    with pytest.raises(IndexError):
        _dataset(size=3)[3]


def test_one_epoch_per_line_draws_the_lines_each_epoch_always_drew():
    # resumed runs and stored experiments expect epoch e's lines from seed + e * 1,000,003, as before blocks
    config = resolve_config("smoke", overrides={"num_train": "40"})
    bundle = build_data(config, Charset.from_spec("ascii"), width_multiple=4)
    dataset = bundle.train_dataset(3)
    expected = SyntheticLineDataset(
        config.synthetic, config.augment, Charset.from_spec("ascii"), 40, seed=3 * 1_000_003, split="train"
    )
    assert [dataset.label(i) for i in range(40)] == [expected.label(i) for i in range(40)]


def test_epoch_blocks_cover_each_epoch_once_and_keep_a_blocks_size_in_every_epoch():
    for lines, k in ((450, 2), (10, 3), (7, 7)):
        sizes: dict[int, int] = {}
        for epoch in range(6):
            blocks = epoch_blocks(epoch, lines, k)
            assert [b for b, _ in blocks] == list(range(epoch, epoch + k))
            assert sum(size for _, size in blocks) == lines
            for block, size in blocks:
                assert sizes.setdefault(block, size) == size
