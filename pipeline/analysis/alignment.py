"""CTC alignment of single lines: the frame-wise argmax characters, the top-k classes per frame, the
confidence curve, and a plain-text rendering (frames as columns) the TUI shows without matplotlib."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pipeline.core.charset import Charset

BLANK_MARK = "·"


def frame_characters(log_probs: np.ndarray, charset: Charset) -> str:
    """The argmax character of every frame ("·" for the CTC blank, class 0), one character a frame."""
    ids = log_probs.argmax(axis=1) if len(log_probs) else np.zeros(0, dtype=int)
    return "".join(BLANK_MARK if i == 0 else charset.chars[i - 1] for i in ids)


def frame_view(log_probs: np.ndarray, charset: Charset, top_k: int = 5) -> dict[str, Any]:
    """Per-frame data of one line: argmax characters, top-1 probability, top-k classes and probabilities."""
    probs = np.exp(log_probs)
    k = min(top_k, probs.shape[1]) if len(probs) else 0
    top = np.argsort(-probs, axis=1)[:, :k] if len(probs) else np.zeros((0, 0), dtype=int)
    names = [BLANK_MARK] + list(charset.chars)
    return {
        "argmax": frame_characters(log_probs, charset),
        "confidence": probs.max(axis=1).round(4).tolist() if len(probs) else [],
        "top_k": [[names[c] for c in row] for row in top],
        "top_k_probs": np.take_along_axis(probs, top, axis=1).round(4).tolist() if len(probs) else [],
    }


def choose_lines(
    reference_correct: Sequence[bool],
    reference_line_errors: Sequence[int],
    flipped: Sequence[int],
    *,
    count: int = 4,
    indices: Sequence[int] | None = None,
) -> list[int]:
    """Which lines to show: the given indices, else flipped lines first, then the reference's worst lines."""
    if indices:
        return list(dict.fromkeys(indices))[:count] if count else list(dict.fromkeys(indices))
    chosen = list(dict.fromkeys(flipped))[:count]
    worst = sorted(
        (i for i, ok in enumerate(reference_correct) if not ok and i not in chosen),
        key=lambda i: (-reference_line_errors[i], i),
    )
    chosen.extend(worst[: count - len(chosen)])
    return chosen


def _confidence_digits(confidence: Sequence[float]) -> str:
    return "".join(str(min(9, int(p * 10))) for p in confidence)


def alignment_text(
    label: str,
    readings: dict[str, tuple[str, np.ndarray]],
    charset: Charset,
    *,
    width: int = 76,
) -> str:
    """Frames as columns: per variant its argmax row and a confidence row (0-9 = top-1 probability in
    tenths), a `^` under frames whose argmax differs from the first variant's, wrapped at `width` columns.

    Args:
        label: The line's text.
        readings: variant -> (decoded text, log-probabilities (T, C)); the first is the reference.
    """
    names = list(readings)
    rows = {n: frame_characters(lp, charset) for n, (_, lp) in readings.items()}
    confidences = {
        n: _confidence_digits(np.exp(lp).max(axis=1)) if len(lp) else "" for n, (_, lp) in readings.items()
    }
    reference = rows[names[0]]
    tag = max(len(n) for n in names) + 6
    lines = [f"label {label!r}"]
    for name in names:
        text = readings[name][0]
        lines.append(f"{name}: {text!r} {'ok' if text == label else 'wrong'}")
    frames = max(len(r) for r in rows.values())
    step = max(8, width - tag)
    for start in range(0, frames, step):
        lines.append(f"{'frames':<{tag}}{start}..{min(frames, start + step) - 1}")
        for name in names:
            lines.append(f"{name:<{tag}}{rows[name][start : start + step]}")
            lines.append(f"{'  conf':<{tag}}{confidences[name][start : start + step]}")
            if name != names[0]:
                marks = "".join(
                    "^"
                    if i < len(reference) and i < len(rows[name]) and rows[name][i] != reference[i]
                    else " "
                    for i in range(start, min(frames, start + step))
                ).rstrip()
                if marks:
                    lines.append(f"{'  diff':<{tag}}{marks}")
    return "\n".join(lines)
