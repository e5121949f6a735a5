"""Real datasets in the formats OCR people have: LMDB (scene-text benchmark layout), labels.csv, gt.txt."""

from __future__ import annotations

import io

import lmdb
import numpy as np
import pytest
from PIL import Image

from pipeline.config.data_sections import AugmentationConfig, SyntheticDataConfig
from pipeline.core.charset import Charset
from pipeline.data.labelled import DataError
from pipeline.data.mixed import MixedDataset
from pipeline.data.real_sources import LmdbLineDataset, detect_format, open_real_dataset
from pipeline.data.synthetic import SyntheticLineDataset

ASCII = Charset.from_spec("ascii")


def _png(width: int = 40, height: int = 16, grey: int = 30) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (width, height), grey).save(buffer, format="PNG")
    return buffer.getvalue()


def _write_lmdb(root, items: list[tuple[bytes | None, bytes | None]], count: int | None = None) -> None:
    env = lmdb.open(str(root), map_size=1 << 22)
    with env.begin(write=True) as txn:
        for index, (image, label) in enumerate(items, start=1):
            if image is not None:
                txn.put(b"image-%09d" % index, image)
            if label is not None:
                txn.put(b"label-%09d" % index, label)
        txn.put(b"num-samples", str(len(items) if count is None else count).encode())
    env.close()


def test_lmdb_dataset_reads_labels_and_resizes_like_synthetic_lines(tmp_path):
    _write_lmdb(tmp_path, [(_png(40, 16), b"hello"), (_png(80, 16), b"10:45:30"), (_png(20, 10), b"")])
    assert detect_format(tmp_path)[0] == "lmdb" and detect_format(tmp_path / "data.mdb")[0] == "lmdb"
    real = open_real_dataset(tmp_path, ASCII, image_height=32, width_scale=2.0)
    assert real.format == "lmdb" and len(real.dataset) == 3 and not real.problems
    tensor, label = real.dataset[1]
    assert label == "10:45:30" and tensor.shape == (1, 32, 320)  # 80 * 32/16 * 2.0
    assert real.dataset.width_hint(0) == 160 and real.dataset.source(0).endswith(":1")
    assert float(tensor.min()) < -0.5  # the dark image came through


def test_lmdb_bad_samples_are_named_or_skipped_and_counted(tmp_path):
    items = [
        (_png(), b"good"),
        (None, b"no image"),
        (b"not an image at all", b"broken"),
        (_png(), "caf\u00e9 \u2603".encode()),
        (_png(), b"fine"),
    ]
    _write_lmdb(tmp_path, items)
    with pytest.raises(DataError) as error:
        open_real_dataset(tmp_path, ASCII)
    message = str(error.value)
    assert "3 bad sample(s)" in message and "image-000000002 is missing" in message
    assert "image-000000003 cannot be decoded" in message and "outside charset" in message
    assert "--skip-bad-samples" in message
    real = open_real_dataset(tmp_path, ASCII, skip_bad=True)
    assert [real.dataset.label(i) for i in range(len(real.dataset))] == ["good", "fine"]
    assert sorted(p.kind for p in real.problems) == ["bad_chars", "missing_file", "unreadable_image"]


def test_lmdb_without_num_samples_is_refused(tmp_path):
    env = lmdb.open(str(tmp_path), map_size=1 << 20)
    with env.begin(write=True) as txn:
        txn.put(b"something", b"else")
    env.close()
    with pytest.raises(DataError, match="no 'num-samples' key"):
        LmdbLineDataset(tmp_path, ASCII)


def test_folder_with_labels_csv(tmp_path):
    (tmp_path / "a.png").write_bytes(_png())
    (tmp_path / "b.png").write_bytes(_png(60))
    (tmp_path / "labels.csv").write_text(
        'filename,text\na.png,"Hello, world"\nb.png,-12.50\n', encoding="utf-8"
    )
    real = open_real_dataset(tmp_path, ASCII)
    assert real.format == "csv"
    assert [real.dataset.label(i) for i in range(2)] == ["Hello, world", "-12.50"]
    (tmp_path / "labels.csv").write_text("image,text\na.png,ok\nmissing.png,gone\n", encoding="utf-8")
    with pytest.raises(DataError, match="line 3: image file 'missing.png' does not exist"):
        open_real_dataset(tmp_path, ASCII)
    assert len(open_real_dataset(tmp_path, ASCII, skip_bad=True).dataset) == 1
    (tmp_path / "labels.csv").write_text("name,value\na.png,ok\n", encoding="utf-8")
    with pytest.raises(DataError, match="must name an image column"):
        open_real_dataset(tmp_path, ASCII)


def test_folder_with_icdar_style_gt_txt(tmp_path):
    (tmp_path / "word_1.png").write_bytes(_png())
    (tmp_path / "word_2.png").write_bytes(b"garbage")
    (tmp_path / "gt.txt").write_text('word_1.png, "Tiredness"\nword_2.png, "x"\n', encoding="utf-8")
    with pytest.raises(DataError, match="line 2: image 'word_2.png' cannot be read"):
        open_real_dataset(tmp_path, ASCII)
    real = open_real_dataset(tmp_path, ASCII, skip_bad=True)
    assert real.dataset.label(0) == "Tiredness" and [p.kind for p in real.problems] == ["unreadable_image"]


def test_real_lmdb_mixes_with_synthetic_lines_by_ratio(tmp_path):
    _write_lmdb(tmp_path, [(_png(), b"real%d" % i) for i in range(4)])
    real = open_real_dataset(tmp_path, ASCII).dataset
    synthetic = SyntheticLineDataset(SyntheticDataConfig(), AugmentationConfig.none(), ASCII, 400)
    mixed = MixedDataset(synthetic, real, real_fraction=0.25, size=400, seed=1)
    share = np.mean([mixed[i][1].startswith("real") for i in range(0, 400, 4)])
    assert 0.1 < share < 0.4
    assert all(mixed[i][0].shape[1] == 32 for i in range(8))


def test_nothing_usable_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="holds no dataset"):
        open_real_dataset(tmp_path, ASCII)
    with pytest.raises(DataError, match="does not exist"):
        open_real_dataset(tmp_path / "nope", ASCII)


def test_experiment_data_takes_an_lmdb_folder_and_mixes_it(tmp_path):
    from pipeline.config import resolve_config
    from pipeline.data.bundle import build_data

    _write_lmdb(tmp_path, [(_png(), b"real%d" % i) for i in range(6)])
    overrides = {"num_train": "40", "num_val": "8", "num_test": "8", "num_workers": "0"}
    config = resolve_config(
        "smoke", overrides={**overrides, "train_data": str(tmp_path), "real_ratio": "0.5"}
    )
    data = build_data(config, ASCII, width_multiple=4)
    assert isinstance(data.real_train, LmdbLineDataset)
    labels = [data.train_dataset(0)[i][1] for i in range(20)]
    assert any(label.startswith("real") for label in labels) and not all(
        label.startswith("real") for label in labels
    )
