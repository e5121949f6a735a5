"""Run a recognizer over batches of lines and measure it: predictions, loss, CER, EM, 1-NED."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from pipeline.core.atomic import write_text_atomic
from pipeline.evaluation.metrics import RecognitionMetrics, evaluate_predictions
from pipeline.models.heads import head_of


@dataclass
class Predictions:
    """What a model read from a set of lines, in order."""

    predictions: list[str]
    labels: list[str]
    sources: list[str]
    loss: float | None = None
    logits: list[np.ndarray] = field(default_factory=list)  # per line (T_i, C), kept only when asked

    def metrics(self) -> RecognitionMetrics:
        return evaluate_predictions(self.predictions, self.labels)


@torch.no_grad()
def predict(
    model: torch.nn.Module,
    batches: Iterable,
    charset,
    device: torch.device,
    *,
    decoding: str = "greedy",
    beam_width: int = 8,
    compute_loss: bool = True,
    keep_logits: bool = False,
    autocast_dtype: torch.dtype | None = None,
) -> Predictions:
    """Decode every line of `batches` (LineBatch objects) with `model` in eval mode."""
    was_training = model.training
    model.eval()
    head = head_of(model)
    out = Predictions([], [], [])
    loss_sum, loss_lines = 0.0, 0
    try:
        for batch in batches:
            images = batch.images.to(device, non_blocking=True)
            with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
                logits = model(images)
            logits = logits.float().cpu()
            lengths = head.output_lengths(model, batch.widths, logits.shape[1])
            if compute_loss:
                loss = head.loss(logits, batch.targets, batch.target_lengths, lengths)
                loss_sum += float(loss) * len(batch.texts)
                loss_lines += len(batch.texts)
            trimmed = [logits[i, : lengths[i]] for i in range(len(batch.texts))]
            out.predictions.extend(head.decode(trimmed, charset, method=decoding, beam_width=beam_width))
            out.labels.extend(batch.texts)
            out.sources.extend(batch_sources(batch))
            if keep_logits:
                out.logits.extend(head.fidelity_inputs(trimmed))
    finally:
        model.train(was_training)
    out.loss = loss_sum / loss_lines if compute_loss and loss_lines else None
    return out


def batch_sources(batch) -> list[str]:
    sources = getattr(batch, "sources", None)
    return list(sources) if sources is not None else [""] * len(batch.texts)


def write_predictions_tsv(predictions: Predictions, path: Path) -> int:
    """Write `source<TAB>prediction<TAB>label` lines (tabs and newlines in text escaped). Returns bytes."""
    handle = io.StringIO(newline="")
    writer = csv.writer(handle, delimiter="\t", quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    writer.writerow(["path", "prediction", "label"])
    for source, prediction, label in zip(
        predictions.sources, predictions.predictions, predictions.labels, strict=True
    ):
        writer.writerow([source, prediction, label])
    return write_text_atomic(path, handle.getvalue())
