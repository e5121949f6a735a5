"""Text-recognition metrics (CER, exact match, 1-NED, error categories, length buckets) and
output-fidelity measures that compare a compressed model's logits with the FP32 reference.

Python + numpy + rapidfuzz, so the CLI, the runner and ONNX Runtime evaluation can use it without torch.
Edit distances come from rapidfuzz (bit-parallel, in C++). Alignments for error categories use a small
DP after the common prefix and suffix are stripped (most predictions of a trained model differ in a few
places): rapidfuzz's own alignment breaks ties differently (measured on 20,000 random short pairs, 35%
aligned otherwise), and the error-kind counts and their tests follow the tie rule documented in `align`.
"""

from __future__ import annotations

import math
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from rapidfuzz.distance import Levenshtein

DEFAULT_BUCKET_EDGES: tuple[int, ...] = (0, 1, 6, 11, 21, 41)

# Alignment op codes returned by `align`.
MATCH, SUBSTITUTION, INSERTION, DELETION = "=", "S", "I", "D"


def edit_distance(a: Sequence, b: Sequence) -> int:
    """Levenshtein distance (unit-cost substitutions, insertions, deletions).

    Args:
        a: A string or any sequence of hashable items (e.g. a list of token ids).
        b: Same.

    Returns:
        The minimum number of single-item edits that turn `a` into `b`.
    """
    return Levenshtein.distance(a, b)


def align(pred: str, label: str) -> list[tuple[str, str, str]]:
    """One minimum-cost alignment of a prediction against its label.

    Args:
        pred: Recognized text.
        label: Ground-truth text.

    Returns:
        A list of `(op, pred_char, label_char)` in reading order, where `op` is `MATCH` ("="),
        `SUBSTITUTION` ("S": label_char read as pred_char), `INSERTION` ("I": pred_char is extra,
        label_char is "") or `DELETION` ("D": label_char is missing, pred_char is ""). The number of
        non-match ops equals `edit_distance(pred, label)`. Ties prefer substitution, then deletion.
    """
    prefix = 0
    while prefix < min(len(pred), len(label)) and pred[prefix] == label[prefix]:
        prefix += 1
    suffix = 0
    while suffix < min(len(pred), len(label)) - prefix and pred[-1 - suffix] == label[-1 - suffix]:
        suffix += 1
    p = pred[prefix : len(pred) - suffix]
    q = label[prefix : len(label) - suffix]
    rows, cols = len(p), len(q)
    # table[i][j]: distance between p[:i] and q[:j]
    table = [list(range(cols + 1))]
    for i in range(1, rows + 1):
        previous, row, pi = table[-1], [i], p[i - 1]
        for j in range(1, cols + 1):
            row.append(min(previous[j - 1] + (pi != q[j - 1]), previous[j] + 1, row[j - 1] + 1))
        table.append(row)
    ops: list[tuple[str, str, str]] = []
    i, j = rows, cols
    while i > 0 or j > 0:
        here = table[i][j]
        if i > 0 and j > 0 and table[i - 1][j - 1] + (p[i - 1] != q[j - 1]) == here:
            ops.append((MATCH if p[i - 1] == q[j - 1] else SUBSTITUTION, p[i - 1], q[j - 1]))
            i, j = i - 1, j - 1
        elif j > 0 and table[i][j - 1] + 1 == here:
            ops.append((DELETION, "", q[j - 1]))
            j -= 1
        else:
            ops.append((INSERTION, p[i - 1], ""))
            i -= 1
    ops.reverse()
    head = [(MATCH, c, c) for c in label[:prefix]]
    tail = [(MATCH, c, c) for c in label[len(label) - suffix :]]
    return head + ops + tail


def is_punctuation(char: str) -> bool:
    """True for Unicode punctuation (P*) and symbols (S*): everything in `string.punctuation` and more."""
    return bool(char) and unicodedata.category(char)[0] in "PS"


@dataclass(frozen=True)
class EditCounts:
    """Character-level error counts of one or more predictions against their labels.

    `substitutions + insertions + deletions` is the edit distance. The other three fields are
    overlapping views of those same edits, not extra edits:

    - `case`: substitutions whose two characters differ only by case ("a" read as "A").
    - `punctuation`: edits of any kind where the predicted or the label character is punctuation or
      a symbol (Unicode category P* or S*; e.g. "," deleted, "." read as ",", "l" read as "|").
    - `space`: edits of any kind where the predicted or the label character is whitespace (a missed
      or extra space, or a space read as a letter).
    """

    substitutions: int = 0
    insertions: int = 0
    deletions: int = 0
    case: int = 0
    punctuation: int = 0
    space: int = 0

    @property
    def total(self) -> int:
        """Number of edits (the edit distance)."""
        return self.substitutions + self.insertions + self.deletions

    def __add__(self, other: EditCounts) -> EditCounts:
        return EditCounts(*(x + y for x, y in zip(self.astuple(), other.astuple(), strict=True)))

    def astuple(self) -> tuple[int, ...]:
        """The six counts in field order."""
        return (self.substitutions, self.insertions, self.deletions, self.case, self.punctuation, self.space)


def edit_operations(pred: str, label: str) -> EditCounts:
    """Count the edits that turn `label` into `pred`, by kind and category (see `EditCounts`).

    Args:
        pred: Recognized text.
        label: Ground-truth text.

    Returns:
        The counts for one minimum-cost alignment (`align`).
    """
    if pred == label:
        return EditCounts()
    counts = Counter()
    for op, p, q in align(pred, label):
        if op == MATCH:
            continue
        counts[op] += 1
        if op == SUBSTITUTION and p.lower() == q.lower():
            counts["case"] += 1
        if is_punctuation(p) or is_punctuation(q):
            counts["punctuation"] += 1
        if p.isspace() or q.isspace():
            counts["space"] += 1
    return EditCounts(
        counts[SUBSTITUTION],
        counts[INSERTION],
        counts[DELETION],
        counts["case"],
        counts["punctuation"],
        counts["space"],
    )


def _check_pairs(preds: Sequence[str], labels: Sequence[str]) -> None:
    if len(preds) != len(labels):
        raise ValueError(f"preds has {len(preds)} items but labels has {len(labels)}; they must match")
    if not labels:
        raise ValueError("no samples to score; preds and labels are empty")


def _cer_from_totals(errors: int, label_chars: int) -> float:
    if label_chars == 0:
        # Nothing to read: every predicted character is an error, so 1.0 if anything was predicted.
        return errors / max(1, errors)
    return errors / label_chars


def cer(preds: Sequence[str], labels: Sequence[str]) -> float:
    """Corpus-level character error rate: total edit distance / total label characters.

    When every label is empty there are no characters to divide by; then each predicted character
    counts as an error over max(1, predicted characters), i.e. the result is 1.0 if anything was
    predicted and 0.0 if nothing was. CER can exceed 1.0 when predictions insert many characters.

    Raises:
        ValueError: if the lists differ in length or are empty.
    """
    _check_pairs(preds, labels)
    errors = sum(edit_distance(p, q) for p, q in zip(preds, labels, strict=True))
    return _cer_from_totals(errors, sum(len(q) for q in labels))


def exact_match(preds: Sequence[str], labels: Sequence[str]) -> float:
    """Fraction of predictions identical to their label (case, spaces and punctuation included).

    Raises:
        ValueError: if the lists differ in length or are empty.
    """
    _check_pairs(preds, labels)
    return sum(p == q for p, q in zip(preds, labels, strict=True)) / len(labels)


def _one_minus_ned(pred: str, label: str, distance: int) -> float:
    longest = max(len(pred), len(label))
    return 1.0 if longest == 0 else 1.0 - distance / longest


def one_minus_ned(preds: Sequence[str], labels: Sequence[str]) -> float:
    """Mean of 1 - edit_distance / max(len(pred), len(label)) over samples (1.0 when both are empty).

    Raises:
        ValueError: if the lists differ in length or are empty.
    """
    _check_pairs(preds, labels)
    return sum(_one_minus_ned(p, q, edit_distance(p, q)) for p, q in zip(preds, labels, strict=True)) / len(
        labels
    )


def _bucket_names(edges: Sequence[int]) -> list[str]:
    if not edges or any(not isinstance(e, int) or e < 0 for e in edges):
        raise ValueError(f"edges={tuple(edges)!r} is invalid; allowed: non-empty non-negative integers")
    if any(b <= a for a, b in zip(edges, edges[1:], strict=False)):
        raise ValueError(f"edges={tuple(edges)!r} is not strictly increasing")
    names = []
    for low, high in zip(edges, [*edges[1:], None], strict=True):
        if high is None:
            names.append(f"{low}+")
        elif high - 1 == low:
            names.append(str(low))
        else:
            names.append(f"{low}-{high - 1}")
    return names


def length_buckets(
    preds: Sequence[str], labels: Sequence[str], edges: Sequence[int] = DEFAULT_BUCKET_EDGES
) -> list[dict[str, Any]]:
    """Scores grouped by label length, as in PARSeq's per-length table.

    Args:
        preds: Recognized texts.
        labels: Ground-truth texts.
        edges: Increasing lower bounds of the buckets; bucket i holds labels with
            `edges[i] <= len(label) < edges[i + 1]`, the last is open-ended. The default gives
            "0", "1-5", "6-10", "11-20", "21-40", "41+". Labels shorter than `edges[0]` are skipped.

    Returns:
        One dict per non-empty bucket, in edge order: `bucket` (name), `samples`, `cer`, `em`,
        `ned` (1 - NED, higher is better).

    Raises:
        ValueError: if the lists differ in length or are empty, or the edges are invalid.
    """
    _check_pairs(preds, labels)
    names = _bucket_names(edges)
    groups: dict[int, list[int]] = {}
    for index, label in enumerate(labels):
        position = int(np.searchsorted(edges, len(label), side="right")) - 1
        if position >= 0:
            groups.setdefault(position, []).append(index)
    rows = []
    for position in sorted(groups):
        members = groups[position]
        distances = [edit_distance(preds[i], labels[i]) for i in members]
        rows.append(
            {
                "bucket": names[position],
                "samples": len(members),
                "cer": _cer_from_totals(sum(distances), sum(len(labels[i]) for i in members)),
                "em": sum(preds[i] == labels[i] for i in members) / len(members),
                "ned": sum(
                    _one_minus_ned(preds[i], labels[i], d) for i, d in zip(members, distances, strict=True)
                )
                / len(members),
            }
        )
    return rows


def top_confusions(preds: Sequence[str], labels: Sequence[str], k: int = 10) -> list[tuple[str, str, int]]:
    """The most frequent substitutions.

    Args:
        preds: Recognized texts.
        labels: Ground-truth texts.
        k: How many pairs to return.

    Returns:
        Up to `k` tuples `(label_char, pred_char, count)`, most frequent first (ties in character order).

    Raises:
        ValueError: if the lists differ in length or are empty, or k < 1.
    """
    _check_pairs(preds, labels)
    if k < 1:
        raise ValueError(f"k={k} is out of range; allowed >= 1")
    pairs: Counter[tuple[str, str]] = Counter()
    for pred, label in zip(preds, labels, strict=True):
        if pred != label:
            pairs.update((q, p) for op, p, q in align(pred, label) if op == SUBSTITUTION)
    ranked = sorted(pairs.items(), key=lambda item: (-item[1], item[0]))
    return [(q, p, n) for (q, p), n in ranked[:k]]


@dataclass(frozen=True)
class RecognitionMetrics:
    """All text-level scores of one evaluated variant on one test set.

    Attributes:
        cer: Corpus-level character error rate (see `cer`).
        em: Exact-match accuracy.
        ned: Mean 1 - normalized edit distance (higher is better, see `one_minus_ned`).
        samples: Number of (prediction, label) pairs.
        label_chars: Total characters in the labels.
        pred_chars: Total characters in the predictions.
        edits: Error counts by kind and category.
        buckets: Per-length rows from `length_buckets`.
    """

    cer: float
    em: float
    ned: float
    samples: int
    label_chars: int
    pred_chars: int
    edits: EditCounts
    buckets: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-native dict (floats, ints, strings, lists, dicts only)."""
        data = asdict(self)
        data["edits"] = {**asdict(self.edits), "total": self.edits.total}
        return data


def evaluate_predictions(
    preds: Sequence[str], labels: Sequence[str], bucket_edges: Sequence[int] = DEFAULT_BUCKET_EDGES
) -> RecognitionMetrics:
    """Score predictions against labels: CER, EM, 1-NED, error categories and length buckets.

    Raises:
        ValueError: if the lists differ in length or are empty.
    """
    _check_pairs(preds, labels)
    distances = [edit_distance(p, q) for p, q in zip(preds, labels, strict=True)]
    edits = EditCounts()
    for pred, label in zip(preds, labels, strict=True):
        if pred != label:
            edits = edits + edit_operations(pred, label)
    label_chars = sum(len(q) for q in labels)
    return RecognitionMetrics(
        cer=_cer_from_totals(sum(distances), label_chars),
        em=sum(p == q for p, q in zip(preds, labels, strict=True)) / len(labels),
        ned=sum(_one_minus_ned(p, q, d) for p, q, d in zip(preds, labels, distances, strict=True))
        / len(labels),
        samples=len(labels),
        label_chars=label_chars,
        pred_chars=sum(len(p) for p in preds),
        edits=edits,
        buckets=length_buckets(preds, labels, bucket_edges),
    )


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _decibels(signal: float, noise: float) -> float:
    if noise == 0.0:
        return math.inf
    if signal == 0.0:
        return -math.inf
    return 10.0 * math.log10(signal / noise)


def output_fidelity(ref_logits: Any, test_logits: Any) -> dict[str, float]:
    """How closely a compressed model's logits follow the FP32 reference's.

    Args:
        ref_logits: Reference logits, array-like of shape (B, T, C) (numpy or a CPU tensor).
        test_logits: Logits of the model under test, same shape.

    Returns:
        A dict of floats:
        `mae`, `mse`, `rmse` of the raw logits; `snr_db` = 10 log10(sum ref^2 / sum err^2);
        `psnr_db` = 10 log10(range(ref)^2 / mse) with range = max - min of the reference (both
        +inf when the logits are identical); `cosine` = mean over frames of the cosine similarity of
        the two logit vectors (1.0 for two zero vectors, 0.0 if only one is zero);
        `kl` = mean over frames of KL(softmax(ref) || softmax(test)) in nats; `cross_entropy` = mean
        over frames of -sum softmax(ref) * log_softmax(test); `relative_error` = ||ref - test|| /
        ||ref|| (Frobenius; 0.0 when both are zero, +inf when only the reference is);
        `top1_agreement` = fraction of frames whose argmax class is the same.

    Raises:
        ValueError: if the shapes differ or are not 3-D, or the arrays are empty.
    """
    ref = np.asarray(ref_logits, dtype=np.float64)
    test = np.asarray(test_logits, dtype=np.float64)
    if ref.shape != test.shape:
        raise ValueError(f"logit shapes differ: reference {ref.shape} vs test {test.shape}")
    if ref.ndim != 3 or ref.size == 0:
        raise ValueError(f"logits must be non-empty (B, T, C) arrays; got shape {ref.shape}")
    error = ref - test
    mse = float(np.mean(error**2))
    signal_energy = float(np.sum(ref**2))
    error_energy = float(np.sum(error**2))
    value_range = float(ref.max() - ref.min())

    ref_frames = ref.reshape(-1, ref.shape[-1])
    test_frames = test.reshape(-1, test.shape[-1])
    ref_norms = np.linalg.norm(ref_frames, axis=1)
    test_norms = np.linalg.norm(test_frames, axis=1)
    dots = np.einsum("ij,ij->i", ref_frames, test_frames)
    both_zero = (ref_norms == 0) & (test_norms == 0)
    cosines = np.where(both_zero, 1.0, dots / np.maximum(ref_norms * test_norms, np.finfo(np.float64).tiny))

    ref_log_probs = _log_softmax(ref_frames)
    test_log_probs = _log_softmax(test_frames)
    ref_probs = np.exp(ref_log_probs)
    cross_entropy = -np.sum(ref_probs * test_log_probs, axis=1)
    kl = np.sum(ref_probs * (ref_log_probs - test_log_probs), axis=1)

    if signal_energy == 0.0:
        relative_error = 0.0 if error_energy == 0.0 else math.inf
    else:
        relative_error = math.sqrt(error_energy / signal_energy)
    return {
        "mae": float(np.mean(np.abs(error))),
        "mse": mse,
        "rmse": math.sqrt(mse),
        "snr_db": _decibels(signal_energy, error_energy),
        "psnr_db": _decibels(value_range**2, mse) if mse > 0 else math.inf,
        "cosine": float(np.mean(cosines)),
        "kl": float(np.mean(np.maximum(kl, 0.0))),
        "cross_entropy": float(np.mean(cross_entropy)),
        "relative_error": relative_error,
        "top1_agreement": float(np.mean(ref_frames.argmax(axis=1) == test_frames.argmax(axis=1))),
    }
