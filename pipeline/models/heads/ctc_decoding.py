"""CTC decoding: greedy (best path) and prefix beam search, for torch tensors and numpy arrays.

Class 0 is the CTC blank everywhere in ocrq. Decoding works on numpy so that ONNX Runtime outputs
need no torch; tensors are moved to CPU numpy first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

BLANK = 0


class SupportsDecode(Protocol):
    """Anything that turns class ids (blank excluded) into text, e.g. `pipeline.core.charset.Charset`."""

    def decode(self, ids: Sequence[int]) -> str: ...


def _to_numpy(array: Any) -> np.ndarray:
    if hasattr(array, "detach"):  # a torch tensor, without importing torch here
        array = array.detach().float().cpu().numpy()
    return np.asarray(array)


def _check_lengths(lengths: Sequence[int] | None, batch: int, frames: int) -> list[int]:
    if lengths is None:
        return [frames] * batch
    lengths = [int(n) for n in _to_numpy(lengths).reshape(-1)]
    if len(lengths) != batch:
        raise ValueError(f"lengths has {len(lengths)} entries but the batch has {batch} samples")
    if any(n < 0 or n > frames for n in lengths):
        raise ValueError(f"lengths={lengths} out of range; allowed 0..{frames} frames")
    return lengths


def ctc_greedy_decode(logits: Any, lengths: Sequence[int] | None = None) -> list[list[int]]:
    """Best-path decoding: argmax per frame, merge repeats, drop blanks.

    Repeats are merged before blanks are dropped, so frames "a a - a" give "aa" and "a a a" give "a".

    Args:
        logits: (B, T, C) logits, log-probabilities or probabilities (torch tensor or numpy).
        lengths: Optional number of valid frames per sample; later frames are ignored.

    Returns:
        One list of class ids (without blanks) per sample.

    Raises:
        ValueError: if `logits` is not 3-D or `lengths` does not fit.
    """
    scores = _to_numpy(logits)
    if scores.ndim != 3:
        raise ValueError(f"logits must be (B, T, C); got shape {scores.shape}")
    batch, frames, _ = scores.shape
    valid = _check_lengths(lengths, batch, frames)
    best = scores.argmax(axis=-1)
    previous = np.concatenate([np.full((batch, 1), -1, dtype=best.dtype), best[:, :-1]], axis=1)
    keep = (best != BLANK) & (best != previous)
    return [best[b, : valid[b]][keep[b, : valid[b]]].tolist() for b in range(batch)]


def _log_add(a: float, b: float) -> float:
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    high, low = (a, b) if a > b else (b, a)
    return high + math.log1p(math.exp(low - high))


def _log_softmax(scores: np.ndarray) -> np.ndarray:
    scores = scores.astype(np.float64)
    shifted = scores - scores.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def ctc_beam_search(log_probs: Any, beam_width: int = 8, prune_log_prob: float = -12.0) -> list[int]:
    """CTC prefix beam search without a language model (Hannun et al. 2014).

    Each prefix keeps two scores, ending in blank and ending in a character, so that different
    alignments of the same text add up; this is what lets beam search beat best-path decoding when
    the probability of a text is spread over many frame paths.

    Args:
        log_probs: (T, C) log-probabilities or raw logits (a log-softmax is applied, which leaves
            log-probabilities unchanged), torch tensor or numpy.
        beam_width: Prefixes kept after each frame; 1 is close to greedy decoding.
        prune_log_prob: Characters with a frame log-probability below this are not expanded.

    Returns:
        The class ids (without blanks) of the most probable text.

    Raises:
        ValueError: if `log_probs` is not 2-D or `beam_width` < 1.
    """
    if beam_width < 1:
        raise ValueError(f"beam_width={beam_width} is out of range; allowed >= 1")
    scores = _to_numpy(log_probs)
    if scores.ndim != 2:
        raise ValueError(f"log_probs must be (T, C); got shape {scores.shape}")
    frame_log_probs = _log_softmax(scores)
    # prefix -> (log P(prefix, path ends in blank), log P(prefix, path ends in a character))
    beams: dict[tuple[int, ...], tuple[float, float]] = {(): (0.0, -math.inf)}
    for frame in frame_log_probs:
        candidates = np.argsort(frame)[::-1][:beam_width]
        candidates = [int(c) for c in candidates if c != BLANK and frame[c] >= prune_log_prob]
        blank_log_prob = float(frame[BLANK])
        following: dict[tuple[int, ...], list[float]] = {}
        for prefix, (ends_blank, ends_char) in beams.items():
            total = _log_add(ends_blank, ends_char)
            same = following.setdefault(prefix, [-math.inf, -math.inf])
            same[0] = _log_add(same[0], total + blank_log_prob)
            for char in candidates:
                char_log_prob = float(frame[char])
                extended = following.setdefault((*prefix, char), [-math.inf, -math.inf])
                if prefix and prefix[-1] == char:
                    # "a a" merges into "a"; a second "a" needs a blank in between.
                    same[1] = _log_add(same[1], ends_char + char_log_prob)
                    extended[1] = _log_add(extended[1], ends_blank + char_log_prob)
                else:
                    extended[1] = _log_add(extended[1], total + char_log_prob)
        ranked = sorted(following.items(), key=lambda item: _log_add(*item[1]), reverse=True)
        beams = {prefix: (scores_[0], scores_[1]) for prefix, scores_ in ranked[:beam_width]}
    best_prefix = max(beams.items(), key=lambda item: _log_add(*item[1]))[0]
    return list(best_prefix)


def decode_batch(
    logits: Any,
    charset: SupportsDecode,
    method: str = "greedy",
    beam_width: int = 8,
    lengths: Sequence[int] | None = None,
) -> list[str]:
    """Decode a batch of recognizer outputs into strings.

    Args:
        logits: (B, T, C) raw logits (torch tensor or numpy).
        charset: Maps class ids to text through `decode(ids)`.
        method: "greedy" (best path) or "beam" (prefix beam search).
        beam_width: Beam width for "beam".
        lengths: Optional number of valid frames per sample.

    Returns:
        One string per sample.

    Raises:
        ValueError: for an unknown method or badly shaped inputs.
    """
    if method == "greedy":
        return [charset.decode(ids) for ids in ctc_greedy_decode(logits, lengths)]
    if method != "beam":
        raise ValueError(f"method={method!r} is not supported; allowed 'greedy', 'beam'")
    scores = _to_numpy(logits)
    if scores.ndim != 3:
        raise ValueError(f"logits must be (B, T, C); got shape {scores.shape}")
    valid = _check_lengths(lengths, scores.shape[0], scores.shape[1])
    return [
        charset.decode(ctc_beam_search(sample[:n], beam_width))
        for sample, n in zip(scores, valid, strict=True)
    ]
