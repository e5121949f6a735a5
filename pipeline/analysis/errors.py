"""What a recognizer gets wrong: seven error kinds, confusion pairs, per-character accuracy, and CER by
label length, character class, font and augmentation.

The seven kinds are exclusive: each edit of the alignment (`pipeline.evaluation.metrics.align`) is counted
once, in the first kind that fits, in this order:

1. transposition — two neighbouring characters swapped ("ab" read as "ba"); one error for the two edits;
2. space — an edit where either character is whitespace;
3. case — a substitution whose characters differ only by case;
4. punctuation — an edit where either character is punctuation or a symbol;
5. substitution, 6. insertion, 7. deletion — the rest, by edit kind.

So `sum(kinds) + kinds["transposition"]` equals the edit distance.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from pipeline.evaluation.metrics import (
    DELETION,
    INSERTION,
    MATCH,
    SUBSTITUTION,
    align,
    cer,
    is_punctuation,
    length_buckets,
)

ERROR_KINDS = ("substitution", "insertion", "deletion", "transposition", "space", "case", "punctuation")
CHAR_CLASSES = ("digit", "upper", "lower", "punctuation", "space", "other")
_OP_KIND = {SUBSTITUTION: "substitution", INSERTION: "insertion", DELETION: "deletion"}


def char_class(char: str) -> str:
    """digit, upper, lower, punctuation (P* and S*), space or other."""
    if char.isspace():
        return "space"
    if char.isdigit():
        return "digit"
    if char.isupper():
        return "upper"
    if char.islower():
        return "lower"
    if is_punctuation(char):
        return "punctuation"
    return "other"


def _is_swap(ops: list[tuple[str, str, str]], i: int) -> int:
    """How many ops from `i` form a transposition (0 if none): S,S crossed, or D,=,I / I,=,D around a match."""
    first = ops[i]
    if i + 1 < len(ops):
        second = ops[i + 1]
        if (
            first[0] == SUBSTITUTION == second[0]
            and first[1] == second[2]
            and first[2] == second[1]
            and first[1] != first[2]
        ):
            return 2
    if i + 2 < len(ops) and ops[i + 1][0] == MATCH:
        third = ops[i + 2]
        if first[0] == DELETION and third[0] == INSERTION and first[2] == third[1]:
            return 3
        if first[0] == INSERTION and third[0] == DELETION and first[1] == third[2]:
            return 3
    return 0


def error_kinds(pred: str, label: str) -> Counter:
    """Counts of the seven error kinds (see the module docstring) of one prediction against its label."""
    kinds: Counter = Counter()
    if pred == label:
        return kinds
    ops = align(pred, label)
    i = 0
    while i < len(ops):
        op, p, q = ops[i]
        if op == MATCH:
            i += 1
            continue
        swap = _is_swap(ops, i)
        if swap:
            kinds["transposition"] += 1
            i += swap
            continue
        if p.isspace() or q.isspace():
            kinds["space"] += 1
        elif op == SUBSTITUTION and p.lower() == q.lower():
            kinds["case"] += 1
        elif is_punctuation(p) or is_punctuation(q):
            kinds["punctuation"] += 1
        else:
            kinds[_OP_KIND[op]] += 1
        i += 1
    return kinds


def error_kind_totals(preds: Sequence[str], labels: Sequence[str]) -> dict[str, int]:
    """The seven kinds summed over lines, every kind present (0 when none)."""
    total: Counter = Counter()
    for pred, label in zip(preds, labels, strict=True):
        total.update(error_kinds(pred, label))
    return {kind: total.get(kind, 0) for kind in ERROR_KINDS}


def confusion_counts(preds: Sequence[str], labels: Sequence[str]) -> Counter:
    """(label_char, pred_char) -> substitutions, over all lines."""
    pairs: Counter = Counter()
    for pred, label in zip(preds, labels, strict=True):
        if pred != label:
            pairs.update((q, p) for op, p, q in align(pred, label) if op == SUBSTITUTION)
    return pairs


def top_pairs(pairs: Counter, k: int = 15) -> list[dict[str, Any]]:
    """The `k` largest pairs of a counter of (label, pred) as rows, most first (ties in character order)."""
    ranked = sorted(((key, n) for key, n in pairs.items() if n > 0), key=lambda item: (-item[1], item[0]))
    return [{"label": q, "pred": p, "count": n} for (q, p), n in ranked[:k]]


def char_accuracy(preds: Sequence[str], labels: Sequence[str]) -> dict[str, dict[str, float]]:
    """For each label character: how often it occurs and the share read correctly (matched in the alignment)."""
    seen: Counter = Counter()
    right: Counter = Counter()
    for pred, label in zip(preds, labels, strict=True):
        seen.update(label)
        if pred == label:
            right.update(label)
            continue
        right.update(q for op, _, q in align(pred, label) if op == MATCH)
    return {c: {"count": seen[c], "accuracy": right[c] / seen[c]} for c in sorted(seen)}


def cer_by_class(preds: Sequence[str], labels: Sequence[str]) -> list[dict[str, Any]]:
    """CER per character class: substitutions and deletions of label characters of the class, plus
    insertions of characters of the class, over the label characters of the class."""
    chars: Counter = Counter()
    errors: Counter = Counter()
    for pred, label in zip(preds, labels, strict=True):
        chars.update(char_class(c) for c in label)
        if pred == label:
            continue
        for op, p, q in align(pred, label):
            if op in (SUBSTITUTION, DELETION):
                errors[char_class(q)] += 1
            elif op == INSERTION:
                errors[char_class(p)] += 1
    return [
        {"class": name, "chars": chars[name], "errors": errors[name], "cer": errors[name] / chars[name]}
        for name in CHAR_CLASSES
        if chars[name]
    ]


def cer_by_group(
    preds: Sequence[str], labels: Sequence[str], groups: Sequence[Sequence[str]] | Sequence[str]
) -> list[dict[str, Any]]:
    """CER of the lines of each group; a line may be in several groups (a tuple of names) or one (a str).

    Returns rows `group`, `lines`, `cer`, most lines first.
    """
    members: dict[str, list[int]] = {}
    for index, names in enumerate(groups):
        for name in (names,) if isinstance(names, str) else names:
            members.setdefault(name, []).append(index)
    rows = []
    for name, indices in members.items():
        rows.append(
            {
                "group": name,
                "lines": len(indices),
                "cer": cer([preds[i] for i in indices], [labels[i] for i in indices]),
            }
        )
    return sorted(rows, key=lambda r: (-r["lines"], r["group"]))


def error_report(
    preds: Sequence[str],
    labels: Sequence[str],
    *,
    fonts: Sequence[str] | None = None,
    augmentations: Sequence[Sequence[str]] | None = None,
    top_k: int = 15,
) -> dict[str, Any]:
    """Everything above for one variant, JSON-native."""
    pairs = confusion_counts(preds, labels)
    augmentation_rows = None
    if augmentations is not None:
        # Lines without any augmentation but a plain background are the reference group.
        tagged = [
            tuple(a for a in names if not a.startswith("background:")) or ("none",) for names in augmentations
        ]
        augmentation_rows = cer_by_group(preds, labels, tagged)
    return {
        "cer": cer(preds, labels),
        "lines": len(labels),
        "kinds": error_kind_totals(preds, labels),
        "confusions": top_pairs(pairs, top_k),
        "char_accuracy": char_accuracy(preds, labels),
        "by_length": length_buckets(preds, labels),
        "by_class": cer_by_class(preds, labels),
        "by_font": cer_by_group(preds, labels, fonts) if fonts is not None else None,
        "by_augmentation": augmentation_rows,
        "by_background": cer_by_group(
            preds, labels, [next(a for a in names if a.startswith("background:")) for names in augmentations]
        )
        if augmentations is not None
        else None,
    }
