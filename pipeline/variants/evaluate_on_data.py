"""`ocrq evaluate`: measure a stored experiment's variant on a labelled folder or fresh synthetic lines."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from pipeline.config import config_from_dict
from pipeline.config.variant_specs import artifact_stem
from pipeline.core.charset import Charset
from pipeline.core.device import configure_threads
from pipeline.data.loader import make_loader
from pipeline.data.real_sources import open_real_dataset
from pipeline.data.resize_rule import ResizeRule
from pipeline.data.synthetic import SyntheticLineDataset
from pipeline.evaluation.metrics import RecognitionMetrics
from pipeline.evaluation.predict import Predictions, predict, write_predictions_tsv


@dataclass
class EvaluationResult:
    variant: str
    data: str
    metrics: RecognitionMetrics
    predictions: Predictions
    predictions_path: Path
    seconds: float
    resize: ResizeRule  # the rule lines were resized by

    def record(self) -> dict[str, Any]:
        """The JSON-native document stored with the experiment."""
        metrics = self.metrics.to_dict()
        return {
            "variant": self.variant,
            "data": self.data,
            "predictions": str(self.predictions_path),
            "seconds": self.seconds,
            "resize": self.resize.to_dict(),
            **{k: metrics[k] for k in ("cer", "em", "ned", "samples")},
            "metrics": metrics,
        }


def evaluate_experiment(
    experiment_dir: Path,
    experiment_config: dict[str, Any],
    *,
    variant: str = "fp32",
    data: str = "synthetic",
    count: int | None = None,
    fonts: str = "train",
    skip_bad: bool = False,
    threads: int = 1,
) -> EvaluationResult:
    """Run `variant` of a stored experiment over `data` and write predictions.tsv under `evaluations/`."""
    from pipeline.variants.load import load_recognizer
    from pipeline.variants.resize import stored_resize_rule

    config = config_from_dict(experiment_config)
    charset = Charset.from_spec(config.model.charset)
    configure_threads(threads)
    recognizer = load_recognizer(experiment_dir, variant, threads=threads)
    # Lines are resized exactly as the model was trained: the rule recorded with its variants.
    rule = stored_resize_rule(experiment_dir, config, recognizer.width_multiple)
    if data == "synthetic":
        size = count or config.data.num_test
        # A stream apart from training, validation and the stored test set: seed offset by 101.
        dataset = SyntheticLineDataset(
            replace(config.synthetic, image_height=rule.image_height, width_scale=rule.width_scale),
            config.augment,
            charset,
            size=size,
            seed=config.train.seed + 101,
            split="test",
            font_pool=fonts,
        )
        label = f"synthetic ({fonts} fonts, {size} lines)"
    else:
        real = open_real_dataset(
            data,
            charset,
            image_height=rule.image_height,
            max_image_width=config.synthetic.max_image_width,
            width_scale=rule.width_scale,
            skip_bad=skip_bad,
            too_wide="resize",
            limit=count,
        )
        dataset, label = real.dataset, real.description
    return run_and_record(
        experiment_dir,
        variant,
        recognizer,
        dataset,
        label,
        charset,
        rule,
        batch_size=config.train.batch_size,
        seed=config.train.seed,
        decoding=config.train.decoding,
        beam_width=config.train.beam_width,
    )


def run_and_record(
    experiment_dir: Path,
    variant: str,
    recognizer,
    dataset,
    label: str,
    charset: Charset,
    resize: ResizeRule,
    *,
    batch_size: int,
    seed: int,
    decoding: str = "greedy",
    beam_width: int = 8,
) -> EvaluationResult:
    """Predict every line of `dataset` (resized by `resize`) and write predictions.tsv under the
    experiment's `evaluations/`."""
    loader = make_loader(
        dataset,
        batch_size,
        charset=charset,
        width_multiple=resize.width_multiple,
        shuffle=False,
        seed=seed,
        num_workers=0,
        with_sources=True,
    )
    started = time.monotonic()
    predictions = predict(
        recognizer, loader, charset, torch.device("cpu"), decoding=decoding, beam_width=beam_width
    )
    seconds = time.monotonic() - started
    out_dir = experiment_dir / "evaluations" / f"{time.strftime('%Y%m%d-%H%M%S')}-{artifact_stem(variant)}"
    path = out_dir / "predictions.tsv"
    write_predictions_tsv(predictions, path)
    return EvaluationResult(variant, label, predictions.metrics(), predictions, path, seconds, resize)
