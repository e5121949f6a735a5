"""PaddleOCR label files: every bad line reported with its number and reason; real images as tensors."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from PIL import Image

from pipeline.core.charset import Charset
from pipeline.data.labelled import DataError, LabelledLineDataset, charset_coverage, load_label_file

ASCII = Charset.from_spec("ascii")


def _image(path, width=120, height=40, ink=30):
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.full((height, width), 235, np.uint8)
    pixels[height // 3 : 2 * height // 3, 10 : width - 10] = ink
    Image.fromarray(pixels).save(path)
    return path


@pytest.fixture
def messy(tmp_path):
    """A label file with two good lines and one bad line of each kind (line numbers in comments)."""
    root = tmp_path / "data"
    _image(root / "img" / "good1.png")
    _image(root / "img" / "good2.png", width=200)
    (root / "img" / "broken.png").write_bytes(b"this is not a png")
    _image(tmp_path / "outside.png")
    lines = [
        "img/good1.png\tHello world",  # 1
        "img/good2.png\tInvoice 42",  # 2
        "img/missing.png\tnothing",  # 3
        "img/broken.png\tbroken",  # 4
        "img/good1.png\tcafé ☕",  # 5
        "img/good1.png\t",  # 6
        "../outside.png\tescape",  # 7
        f"{tmp_path / 'outside.png'}\tabsolute",  # 8
        "no tab on this line",  # 9
        "",  # 10: blank lines are skipped silently
    ]
    label_file = root / "labels.txt"
    label_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return label_file


def test_bad_lines_raise_with_line_numbers_and_count(messy):
    with pytest.raises(DataError) as info:
        load_label_file(messy, ASCII)
    message = str(info.value)
    assert "7 bad line(s)" in message
    for fragment in (
        "line 3: image file 'img/missing.png' does not exist",
        "line 4: image 'img/broken.png' cannot be read",
        "line 5: label 'café ☕' has characters outside charset",
        "line 6: empty label",
        "line 7:",
    ):
        assert fragment in message
    assert "(and 2 more)" in message
    assert "charset coverage: 1 of 8 labels have characters outside the charset ('é' x1, '☕' x1)" in message
    assert isinstance(info.value, ValueError)


def test_skip_bad_keeps_good_lines_and_reports_each_problem(messy):
    samples, problems = load_label_file(messy, ASCII, skip_bad=True)
    assert [(s.line_number, s.label) for s in samples] == [(1, "Hello world"), (2, "Invoice 42")]
    assert samples[1].size == (200, 40)
    kinds = {p.line_number: p.kind for p in problems}
    assert kinds == {
        3: "missing_file",
        4: "unreadable_image",
        5: "bad_chars",
        6: "empty_label",
        7: "unsafe_path",
        8: "unsafe_path",
        9: "malformed",
    }
    bad_chars = next(p for p in problems if p.kind == "bad_chars")
    assert "'é' (U+00E9)" in bad_chars.reason and "'☕'" in bad_chars.reason


def test_allow_empty_keeps_blank_labels(tmp_path):
    _image(tmp_path / "a.png")
    (tmp_path / "labels.txt").write_text("a.png\t\na.png\tok\n", encoding="utf-8")
    samples, problems = load_label_file(tmp_path / "labels.txt", ASCII, allow_empty=True)
    assert [s.label for s in samples] == ["", "ok"] and not problems


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_symlink_leaving_the_folder_is_rejected(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    _image(tmp_path / "secret.png")
    (root / "link.png").symlink_to(tmp_path / "secret.png")
    (root / "labels.txt").write_text("link.png\tx\n", encoding="utf-8")
    with pytest.raises(DataError, match="line 1: path 'link.png' resolves outside"):
        load_label_file(root / "labels.txt", ASCII)


def test_missing_label_file_and_no_usable_line(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_label_file(tmp_path / "nope.txt", ASCII)
    (tmp_path / "labels.txt").write_text("x.png\tmissing\n", encoding="utf-8")
    with pytest.raises(DataError, match="no usable line"):
        load_label_file(tmp_path / "labels.txt", ASCII, skip_bad=True)


def test_dataset_returns_resized_normalised_images(messy):
    dataset = LabelledLineDataset.from_label_file(messy, ASCII, image_height=32, skip_bad=True)
    image, label = dataset[1]
    assert label == "Invoice 42"
    assert image.dtype == torch.float32 and image.shape == (1, 32, 160)  # 200x40 -> 160x32
    assert dataset.width_hint(1) == 160
    assert image.min() < -0.5 and image.max() > 0.5  # dark ink is negative, light paper positive
    assert dataset.describe(0) == "good1.png:1"


def test_too_wide_images_error_or_resize(tmp_path):
    _image(tmp_path / "wide.png", width=2000, height=40)
    _image(tmp_path / "ok.png")
    (tmp_path / "labels.txt").write_text("ok.png\tfine\nwide.png\tvery long line\n", encoding="utf-8")
    with pytest.raises(DataError, match="line 2: wide.png \\(1600 px\\)"):
        LabelledLineDataset.from_label_file(tmp_path / "labels.txt", ASCII, max_image_width=1024)
    dataset = LabelledLineDataset.from_label_file(
        tmp_path / "labels.txt", ASCII, max_image_width=1024, too_wide="resize"
    )
    assert dataset[1][0].shape == (1, 32, 1024)


def test_charset_coverage_report_counts_and_examples():
    report = charset_coverage(["abc", "naïve", "über", "ok"], ASCII)
    assert (report.total, report.bad) == (4, 2)
    assert report.missing == {"ï": 1, "ü": 1}
    assert report.examples == ["naïve", "über"]
    assert "2 of 4 labels" in str(report)
    assert str(charset_coverage(["ok"], ASCII)) == "all 1 labels fit the charset"
