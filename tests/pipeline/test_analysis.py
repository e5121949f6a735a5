"""The analyses' arithmetic on hand-made inputs: error kinds, flips, calibration, corruptions, ranking."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pipeline.analysis.alignment import alignment_text, choose_lines, frame_characters
from pipeline.analysis.changes import char_accuracy_deltas, flips, frame_agreement, grown_confusions
from pipeline.analysis.confidence import line_confidence, rejection_curve, reliability
from pipeline.analysis.errors import (
    ERROR_KINDS,
    cer_by_class,
    char_accuracy,
    error_kind_totals,
    error_kinds,
)
from pipeline.analysis.ranking import check_weights, rank_models
from pipeline.analysis.robustness import CORRUPTIONS, corrupt, robustness_gaps, robustness_report
from pipeline.core.charset import Charset
from pipeline.evaluation.metrics import edit_distance


@pytest.mark.parametrize(
    ("pred", "label", "expected"),
    [
        ("hello", "hello", {}),
        ("hallo", "hello", {"substitution": 1}),
        ("helo", "hello", {"deletion": 1}),
        ("helllo", "hello", {"insertion": 1}),
        ("abdc", "abcd", {"transposition": 1}),
        ("hello world", "helloworld", {"space": 1}),
        ("helloworld", "hello world", {"space": 1}),
        ("Hello", "hello", {"case": 1}),
        ("hi,", "hi.", {"punctuation": 1}),
        ("hi", "hi!", {"punctuation": 1}),
        ("HeIlo wor1d", "hello world.", {"case": 1, "substitution": 2, "punctuation": 1}),
        ("ba cd", "ab dc", {"transposition": 2}),
    ],
)
def test_error_kinds_on_hand_made_pairs(pred, label, expected):
    kinds = error_kinds(pred, label)
    assert dict(kinds) == expected
    # every edit is counted once; a transposition stands for two
    assert sum(kinds.values()) + kinds["transposition"] == edit_distance(pred, label)


def test_error_kind_totals_list_every_kind():
    totals = error_kind_totals(["hallo", "abdc"], ["hello", "abcd"])
    assert list(totals) == list(ERROR_KINDS)
    assert totals["substitution"] == 1 and totals["transposition"] == 1 and totals["case"] == 0


def test_char_accuracy_and_class_cer():
    accuracy = char_accuracy(["l1", "ab"], ["ll", "ab"])
    assert accuracy["l"] == {"count": 2, "accuracy": 0.5}
    assert accuracy["a"]["accuracy"] == 1.0
    rows = {r["class"]: r for r in cer_by_class(["A1", "bx"], ["A2", "b"])}
    assert rows["digit"]["cer"] == 1.0  # '2' read as '1'
    assert rows["upper"]["cer"] == 0.0
    assert rows["lower"]["errors"] == 1  # the inserted 'x'


def test_flips_are_exactly_the_lines_whose_correctness_changed():
    labels = ["a", "b", "c", "d", "e"]
    reference = ["a", "x", "c", "y", "e"]
    variant = ["a", "b", "z", "y", "q"]
    result = flips(
        [p == q for p, q in zip(reference, labels, strict=True)],
        [p == q for p, q in zip(variant, labels, strict=True)],
    )
    assert result.broke == [2, 4]
    assert result.fixed == [1]
    assert result.to_dict()["net"] == 1
    with pytest.raises(ValueError, match="must match"):
        flips([True], [True, False])


def test_grown_confusions_and_char_deltas():
    labels = ["ll", "ll", "O"]
    grown = grown_confusions(["ll", "l1", "O"], ["11", "l1", "0"], labels)
    assert grown[0] == {"label": "l", "pred": "1", "count": 2, "reference": 1, "variant": 3}
    assert {"label": "O", "pred": "0", "count": 1, "reference": 0, "variant": 1} in grown
    deltas = char_accuracy_deltas(char_accuracy(["ll"], ["ll"]), char_accuracy(["l1"], ["ll"]))
    assert deltas == [{"char": "l", "count": 2, "reference": 1.0, "variant": 0.5, "delta": -0.5}]


def test_frame_agreement():
    ref = [np.log(np.array([[0.9, 0.1], [0.2, 0.8]]))]
    same = frame_agreement(ref, ref)
    assert same["argmax_agreement"] == 1.0 and same["top1_prob_shift"] == pytest.approx(0.0)
    other = frame_agreement(ref, [np.log(np.array([[0.6, 0.4], [0.7, 0.3]]))])
    assert other["argmax_agreement"] == 0.5
    assert other["top1_prob_shift"] == pytest.approx(((0.6 - 0.9) + (0.7 - 0.8)) / 2)


def test_ece_of_a_perfectly_calibrated_toy_is_about_zero():
    rng = np.random.default_rng(0)
    confidences = rng.uniform(0, 1, 200_000)
    correct = rng.uniform(0, 1, confidences.size) < confidences
    assert reliability(confidences, correct)["ece"] < 0.01


def test_ece_of_an_overconfident_toy_is_its_gap():
    report = reliability([0.9] * 100, [True] * 60 + [False] * 40)
    assert report["ece"] == pytest.approx(0.3)
    assert sum(b["lines"] for b in report["bins"]) == 100


def test_line_confidence_is_the_greedy_path_probability():
    log_probs = np.log(np.array([[0.5, 0.5], [0.9, 0.1], [0.2, 0.8]]))
    assert line_confidence(log_probs) == pytest.approx(0.5 * 0.9 * 0.8)


def test_rejection_curve_drops_the_least_confident_first():
    rows = rejection_curve([0.9, 0.1], ["a", "x"], ["a", "b"], shares=(1.0, 0.5))
    assert rows[0]["cer"] == 0.5 and rows[1]["cer"] == 0.0 and rows[1]["lines"] == 1


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_severity_zero_is_the_clean_image_and_corruptions_are_deterministic(name):
    image = torch.rand(1, 32, 96) * 2 - 1
    assert torch.equal(corrupt(name, 0)(image, 3), image)
    first, second = corrupt(name, 3)(image, 3), corrupt(name, 3)(image, 3)
    assert first.shape == image.shape and torch.equal(first, second)
    assert not torch.equal(first, image)
    assert float(first.min()) >= -1.0 - 1e-5 and float(first.max()) <= 1.0 + 1e-5
    with pytest.raises(ValueError, match="allowed"):
        corrupt(name, 6)
    with pytest.raises(ValueError, match="allowed"):
        corrupt("snow", 1)


def test_severity_zero_equals_clean_cer_and_gaps():
    labels = ["ab", "cd"]

    def read(variant, transform):
        if transform is None:
            return ["ab", "cd"] if variant == "fp32" else ["ab", "cx"]
        return ["ax", "cd"] if variant == "fp32" else ["xx", "xx"]

    report = robustness_report(read, ["fp32", "int8"], labels, corruptions=("blur",))
    assert report["curves"]["fp32"]["blur"][0] == 0.0
    assert report["curves"]["int8"]["blur"][0] == 0.25
    gap = report["gaps"]["int8"]
    assert gap["clean_delta"] == 0.25
    assert gap["gap"] == pytest.approx(1.0 - 0.25 - 0.25)
    assert robustness_gaps({"fp32": {"blur": [0.1] * 6}, "v": {"blur": [0.1] * 6}})["v"]["gap"] == 0.0


def test_alignment_text_marks_frames_that_differ():
    charset = Charset("t", "ab")
    ref = np.log(np.array([[0.1, 0.8, 0.1], [0.9, 0.05, 0.05], [0.1, 0.1, 0.8]]))
    var = np.log(np.array([[0.1, 0.8, 0.1], [0.9, 0.05, 0.05], [0.1, 0.8, 0.1]]))
    assert frame_characters(ref, charset) == "a·b"
    text = alignment_text("ab", {"fp32": ("ab", ref), "int8": ("aa", var)}, charset)
    rows = text.splitlines()
    assert any(r.startswith("fp32") and r.endswith("a·b") for r in rows)
    assert any(r.startswith("int8") and r.endswith("a·a") for r in rows)
    assert any(r.strip().startswith("diff") and r.endswith("  ^") for r in rows)
    assert "int8: 'aa' wrong" in text


def test_choose_lines_prefers_given_then_flipped_then_worst():
    assert choose_lines([True, False, False], [0, 1, 3], [], count=2, indices=[0]) == [0]
    assert choose_lines([True, False, False], [0, 1, 3], [0], count=2) == [0, 2]
    assert choose_lines([True, False, False], [0, 1, 3], [], count=5) == [2, 1]


def test_ranking_scores_and_weights():
    rows = [
        {"variant": "a", "cer": 0.10, "size_bytes": 100},
        {"variant": "b", "cer": 0.05, "size_bytes": 400},
    ]
    assert (
        rank_models(rows, {"cer": 1, "size_bytes": 0, "latency_ms_p50": 0, "robustness_gap": 0, "ece": 0})[0][
            "variant"
        ]
        == "b"
    )
    by_size = rank_models(
        rows, {"cer": 0, "size_bytes": 1, "latency_ms_p50": 0, "robustness_gap": 0, "ece": 0}
    )
    assert by_size[0]["variant"] == "a" and by_size[0]["score"] == 1.0 and by_size[1]["rank"] == 2
    with pytest.raises(ValueError, match="allowed"):
        check_weights({"speed": 1})
    with pytest.raises(ValueError, match=">= 0"):
        check_weights({"cer": -1})
