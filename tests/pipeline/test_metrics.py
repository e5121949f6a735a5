"""Recognition metrics and output fidelity, checked against hand-computed values."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest

from pipeline.evaluation.metrics import (
    EditCounts,
    align,
    cer,
    edit_distance,
    edit_operations,
    evaluate_predictions,
    exact_match,
    length_buckets,
    one_minus_ned,
    output_fidelity,
    top_confusions,
)


def _reference_distance(a, b) -> int:
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j - 1] + (x != y), previous[j] + 1, current[-1] + 1))
        previous = current
    return previous[-1]


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("kitten", "sitting", 3),
        ("flaw", "lawn", 2),
        ("", "abc", 3),
        ("abc", "", 3),
        ("", "", 0),
        ("abc", "abc", 0),
        ("abc", "cba", 2),
        ([1, 2, 3], [1, 3], 1),
    ],
)
def test_edit_distance_hand_cases(a, b, expected):
    assert edit_distance(a, b) == expected
    assert edit_distance(b, a) == expected


def test_edit_distance_matches_reference_dp_on_random_strings():
    rng = random.Random(7)
    for _ in range(500):
        a = "".join(rng.choice("ab c,A") for _ in range(rng.randint(0, 15)))
        b = "".join(rng.choice("ab c,A") for _ in range(rng.randint(0, 15)))
        assert edit_distance(a, b) == _reference_distance(a, b), (a, b)
    # longer than one 64-bit word of the bit-parallel algorithm
    a = "".join(rng.choice("abcdefgh") for _ in range(150))
    b = "".join(rng.choice("abcdefgh") for _ in range(130))
    assert edit_distance(a, b) == _reference_distance(a, b)


def test_align_reproduces_both_strings_with_distance_many_edits():
    ops = align("helo wrld!", "hello world")
    assert "".join(p for _, p, _ in ops) == "helo wrld!"
    assert "".join(q for _, _, q in ops) == "hello world"
    assert sum(op != "=" for op, _, _ in ops) == edit_distance("helo wrld!", "hello world") == 3


@pytest.mark.parametrize(
    ("pred", "label", "expected"),
    [
        ("hello", "hello", EditCounts()),
        ("helo world", "hello world", EditCounts(deletions=1)),
        ("Hello", "hello", EditCounts(substitutions=1, case=1)),
        ("hellO", "hello", EditCounts(substitutions=1, case=1)),
        ("hello,world", "hello world", EditCounts(substitutions=1, punctuation=1, space=1)),
        ("ab", "a b", EditCounts(deletions=1, space=1)),
        ("a.b!", "ab", EditCounts(insertions=2, punctuation=2)),
        ("cat", "cot", EditCounts(substitutions=1)),
        ("", "ab", EditCounts(deletions=2)),
        ("x$", "", EditCounts(insertions=2, punctuation=1)),
    ],
)
def test_edit_operations_categories(pred, label, expected):
    counts = edit_operations(pred, label)
    assert counts == expected
    assert counts.total == edit_distance(pred, label)


def test_cer_is_corpus_level():
    # 1 error over 3 label chars + 1 error over 3 label chars = 2 / 6
    assert cer(["abc", "xy"], ["abd", "xyz"]) == pytest.approx(2 / 6)
    # a long perfect line dilutes a short wrong one (not a mean of per-line rates)
    assert cer(["a" * 9, "b"], ["a" * 9, "c"]) == pytest.approx(1 / 10)
    # insertions can push CER above 1
    assert cer(["abcd"], ["a"]) == pytest.approx(3.0)


def test_cer_with_only_empty_labels():
    assert cer(["", ""], ["", ""]) == 0.0
    assert cer(["", "ab"], ["", ""]) == 1.0


def test_exact_match_and_one_minus_ned():
    assert exact_match(["a", "b", "c"], ["a", "x", "c"]) == pytest.approx(2 / 3)
    assert exact_match(["Hello"], ["hello"]) == 0.0
    # (1 - 1/3) and 1.0 for two empty strings
    assert one_minus_ned(["abc", ""], ["abd", ""]) == pytest.approx(5 / 6)
    # distance 2 over the longer length 4
    assert one_minus_ned(["abcd"], ["ab"]) == pytest.approx(0.5)
    assert one_minus_ned([""], ["abc"]) == 0.0


def test_mismatched_or_empty_inputs_are_rejected():
    with pytest.raises(ValueError, match="must match"):
        cer(["a"], ["a", "b"])
    with pytest.raises(ValueError, match="no samples"):
        exact_match([], [])


def test_length_buckets_group_by_label_length():
    labels = ["", "abc", "hello", "abcdefg", "a" * 12, "b" * 50]
    preds = ["x", "abx", "hello", "abcdefg", "a" * 12, "b" * 48]
    rows = length_buckets(preds, labels)
    assert [row["bucket"] for row in rows] == ["0", "1-5", "6-10", "11-20", "41+"]  # 21-40 is empty
    by_name = {row["bucket"]: row for row in rows}
    assert by_name["1-5"]["samples"] == 2
    assert by_name["1-5"]["cer"] == pytest.approx(1 / 8)
    assert by_name["1-5"]["em"] == pytest.approx(0.5)
    assert by_name["1-5"]["ned"] == pytest.approx((2 / 3 + 1) / 2)
    assert by_name["0"]["cer"] == 1.0 and by_name["0"]["em"] == 0.0
    assert by_name["41+"]["cer"] == pytest.approx(2 / 50)
    assert by_name["6-10"]["em"] == 1.0


def test_length_buckets_custom_and_invalid_edges():
    rows = length_buckets(["ab", "abcd"], ["ab", "abcd"], edges=(2, 4))
    assert [(row["bucket"], row["samples"]) for row in rows] == [("2-3", 1), ("4+", 1)]
    with pytest.raises(ValueError, match="strictly increasing"):
        length_buckets(["a"], ["a"], edges=(0, 5, 5))


def test_evaluate_predictions_summarizes_everything_as_json():
    preds = ["hello world", "Foo", "ba r", ""]
    labels = ["hello world", "foo", "bar", "x"]
    result = evaluate_predictions(preds, labels)
    assert result.samples == 4
    assert result.label_chars == 11 + 3 + 3 + 1
    assert result.pred_chars == 11 + 3 + 4 + 0
    assert result.cer == pytest.approx(3 / 18)
    assert result.em == pytest.approx(0.25)
    assert result.edits == EditCounts(substitutions=1, insertions=1, deletions=1, case=1, space=1)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["edits"]["total"] == 3
    assert data["cer"] == pytest.approx(3 / 18)
    assert sum(row["samples"] for row in data["buckets"]) == 4


def test_top_confusions_counts_substitution_pairs():
    preds = ["0O0", "O", "rn1"]
    labels = ["OOO", "O", "rnl"]
    assert top_confusions(preds, labels, k=5) == [("O", "0", 2), ("l", "1", 1)]
    assert top_confusions(preds, labels, k=1) == [("O", "0", 2)]


def test_output_fidelity_of_identical_logits():
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(2, 5, 7)).astype(np.float32)
    result = output_fidelity(ref, ref.copy())
    assert result["mae"] == 0.0 and result["mse"] == 0.0 and result["relative_error"] == 0.0
    assert math.isinf(result["snr_db"]) and math.isinf(result["psnr_db"])
    assert result["cosine"] == pytest.approx(1.0)
    assert result["kl"] == pytest.approx(0.0, abs=1e-12)
    assert result["top1_agreement"] == 1.0


def test_output_fidelity_hand_computed():
    # one frame: P = softmax(0, 0) = (1/2, 1/2), Q = softmax(log 3, 0) = (3/4, 1/4)
    ref = np.zeros((1, 1, 2))
    test = np.array([[[math.log(3.0), 0.0]]])
    result = output_fidelity(ref, test)
    expected_kl = 0.5 * math.log(0.5 / 0.75) + 0.5 * math.log(0.5 / 0.25)
    assert result["kl"] == pytest.approx(expected_kl)
    assert result["cross_entropy"] == pytest.approx(expected_kl + math.log(2.0))
    assert result["mae"] == pytest.approx(math.log(3.0) / 2)
    assert result["mse"] == pytest.approx(math.log(3.0) ** 2 / 2)
    assert result["cosine"] == 0.0  # the reference frame is a zero vector
    # a constant shift changes the logits but not the softmax
    shifted = output_fidelity(test, test + 1.0)
    assert shifted["kl"] == pytest.approx(0.0, abs=1e-12) and shifted["mae"] == pytest.approx(1.0)
    assert shifted["snr_db"] == pytest.approx(10 * math.log10(math.log(3.0) ** 2 / 2))


def test_output_fidelity_degrades_with_noise():
    rng = np.random.default_rng(1)
    ref = rng.normal(size=(4, 16, 10)) * 3
    small = output_fidelity(ref, ref + rng.normal(size=ref.shape) * 0.01)
    large = output_fidelity(ref, ref + rng.normal(size=ref.shape) * 1.0)
    assert small["snr_db"] > large["snr_db"] + 30
    assert small["kl"] < large["kl"] and small["cosine"] > large["cosine"]
    assert large["top1_agreement"] < 1.0
    with pytest.raises(ValueError, match="shapes differ"):
        output_fidelity(ref, ref[:, :-1])
