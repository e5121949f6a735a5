"""CTC greedy and prefix-beam decoding."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from pipeline.models.heads.ctc_decoding import ctc_beam_search, ctc_greedy_decode, decode_batch


class LettersCharset:
    """Stand-in for pipeline.core.charset.Charset: class 0 is the blank, 1.. are letters."""

    letters = "abcdefghij"

    def decode(self, ids):
        return "".join(self.letters[i - 1] for i in ids)


def _peaked(paths: list[list[int]], classes: int = 5, peak: float = 12.0) -> np.ndarray:
    logits = np.zeros((len(paths), len(paths[0]), classes), dtype=np.float32)
    for b, path in enumerate(paths):
        for t, c in enumerate(path):
            logits[b, t, c] = peak
    return logits


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ([1, 1, 0, 1], [1, 1]),  # "aa-a" -> "aa": a blank separates a real repeat
        ([1, 1, 1], [1]),  # "aaa" -> "a"
        ([1, 0, 1], [1, 1]),  # "a-a" -> "aa"
        ([0, 1, 2, 0, 2], [1, 2, 2]),  # "-ab-b" -> "abb"
        ([0, 0, 0], []),
        ([2, 1, 2, 1], [2, 1, 2, 1]),
    ],
)
def test_greedy_collapse_rules(path, expected):
    assert ctc_greedy_decode(_peaked([path])) == [expected]


def test_greedy_accepts_tensors_batches_and_lengths():
    logits = _peaked([[1, 0, 2, 2], [3, 3, 0, 3]])
    assert ctc_greedy_decode(torch.from_numpy(logits)) == [[1, 2], [3, 3]]
    assert ctc_greedy_decode(logits, lengths=[2, 4]) == [[1], [3, 3]]
    with pytest.raises(ValueError, match="lengths"):
        ctc_greedy_decode(logits, lengths=[5, 1])
    with pytest.raises(ValueError, match=r"\(B, T, C\)"):
        ctc_greedy_decode(logits[0])


def test_beam_equals_greedy_on_peaked_distributions():
    rng = np.random.default_rng(3)
    paths = rng.integers(0, 5, size=(8, 12)).tolist()
    logits = _peaked(paths, peak=6.0) + rng.normal(scale=0.3, size=(8, 12, 5)).astype(np.float32)
    greedy = ctc_greedy_decode(logits)
    for sample, expected in zip(logits, greedy, strict=True):
        assert ctc_beam_search(sample, beam_width=8) == expected


def test_beam_beats_greedy_when_probability_is_spread_over_paths():
    # Each frame: blank 0.6, "a" 0.4. Best path "--" gives "" (0.36), but "a" collects
    # "aa" + "a-" + "-a" = 0.16 + 0.24 + 0.24 = 0.64.
    log_probs = np.log(np.array([[0.6, 0.4], [0.6, 0.4]]))
    assert ctc_greedy_decode(log_probs[None]) == [[]]
    assert ctc_beam_search(log_probs, beam_width=4) == [1]


def _most_probable_labelling(probs: np.ndarray) -> list[int]:
    totals: dict[tuple[int, ...], float] = {}
    for path in itertools.product(range(probs.shape[1]), repeat=probs.shape[0]):
        collapsed = tuple(c for i, c in enumerate(path) if c != 0 and (i == 0 or path[i - 1] != c))
        totals[collapsed] = totals.get(collapsed, 0.0) + math.prod(probs[t, c] for t, c in enumerate(path))
    return list(max(totals, key=totals.get))


def test_wide_beam_finds_the_exact_most_probable_text():
    rng = np.random.default_rng(11)
    for _ in range(5):
        probs = rng.dirichlet(np.ones(3) * 0.7, size=5)
        assert ctc_beam_search(np.log(probs), beam_width=64) == _most_probable_labelling(probs)


def test_decode_batch_maps_ids_through_the_charset():
    logits = _peaked([[1, 1, 0, 2, 3], [0, 4, 0, 4, 0]])
    charset = LettersCharset()
    assert decode_batch(logits, charset) == ["abc", "dd"]
    assert decode_batch(torch.from_numpy(logits), charset, method="beam", beam_width=4) == ["abc", "dd"]
    assert decode_batch(logits, charset, lengths=[2, 3]) == ["a", "d"]
    with pytest.raises(ValueError, match="method='viterbi'"):
        decode_batch(logits, charset, method="viterbi")
