"""bench/ood_bench.py's doubled-letter measures: twins drawn alike, collapsed pairs counted as such."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image

BENCH = Path(__file__).resolve().parents[1] / "bench" / "ood_bench.py"
_spec = importlib.util.spec_from_file_location("ood_bench", BENCH)
ood_bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ood_bench)

STIX = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "STIXGeneral.ttf"


def test_single_letters_makes_every_repeated_run_single_and_keeps_spaces():
    assert ood_bench.single_letters("committee") == "comite"
    assert ood_bench.single_letters("00:11:22") == "0:1:2"
    assert ood_bench.single_letters("a  b bookkeeper") == "a  b bokeper"


def test_a_twin_is_drawn_from_the_same_random_choices_as_its_line():
    line = np.random.default_rng(7)
    twin = np.random.default_rng()
    twin.bit_generator.state = line.bit_generator.state
    ood_bench.render_ood_line("committee", STIX, line)
    ood_bench.render_ood_line("comite", STIX, twin, layout_text="committee")
    # the same number of draws of the same kinds: size, background, shapes, colour, rotation, crop
    assert twin.bit_generator.state == line.bit_generator.state
    # and the same draws give the same pixels
    again = np.random.default_rng(7)
    first = np.asarray(ood_bench.render_ood_line("committee", STIX, np.random.default_rng(7)))
    assert np.array_equal(first, np.asarray(ood_bench.render_ood_line("committee", STIX, again)))


def test_write_ood_set_pairs_each_doubled_line_with_its_twin(tmp_path):
    chars = {chr(c) for c in range(32, 127)}
    labels = ood_bench.write_ood_set(tmp_path / "set", [STIX], 40, seed=3, charset_chars=chars)
    lines = dict(row.split("\t") for row in labels.read_text().splitlines())
    twins = dict(row.split("\t") for row in (labels.parent / "twins" / "labels.txt").read_text().splitlines())
    doubled = {name: text for name, text in lines.items() if ood_bench.has_doubled_letter(text)}
    assert doubled, "40 lines of the bench's texts hold some doubled letters"
    assert twins == {name: ood_bench.single_letters(text) for name, text in doubled.items()}
    for name in twins:
        line, twin = Image.open(labels.parent / name), Image.open(labels.parent / "twins" / name)
        assert twin.width < line.width  # fewer letters, drawn at the same size


def test_collapsed_pairs_counts_a_pair_read_as_one_letter_and_nothing_else():
    pairs = [
        ("comittee", "committee"),  # mm read as m
        ("committee", "committee"),
        ("cornmittee", "committee"),  # m misread as rn: not a collapse
        ("comitte", "committee"),  # mm and ee both collapsed
    ]
    assert ood_bench.collapsed_pairs(pairs) == (12, 3)
