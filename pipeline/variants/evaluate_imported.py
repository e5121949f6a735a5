"""`ocrq evaluate` on an imported experiment: run one variant's ONNX file on other lines with the import's
own preprocessing (height, width policy, channels, normalisation) and decoding (charset, blank), all
read from the experiment folder's `import.json`."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.config.data_sections import AugmentationConfig, SyntheticDataConfig
from pipeline.core.charset import ASCII_CHARS, Charset
from pipeline.core.device import configure_threads
from pipeline.data.resize_rule import ResizeRule
from pipeline.deploy.foreign_model import ForeignLayout, ForeignOnnxRecognizer
from pipeline.variants.evaluate_on_data import EvaluationResult, run_and_record
from pipeline.variants.load import deployable_artifact
from pipeline.variants.manifest import ManifestError, read_resize_rule

EVALUATION_SEED_OFFSET = 101  # fresh synthetic lines, apart from the import's own sets


def read_import(experiment_dir: Path) -> tuple[dict, ForeignLayout, Charset]:
    """The import record, layout and charset of an imported experiment folder.

    Raises:
        ManifestError: the folder has no readable import.json or it lacks the character list.
    """
    path = Path(experiment_dir) / "import.json"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        layout = ForeignLayout(**record["layout"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ManifestError(
            f"{path} is missing or damaged ({type(error).__name__}); import the model again"
        ) from None
    characters = record.get("characters")
    if not isinstance(characters, str):
        raise ManifestError(
            f"{path} has no character list (imported by an older ocrq); import the model again"
        )
    return record, layout, Charset(f"imported:{Path(record['settings']['model']).name}", characters)


def evaluate_imported(
    experiment_dir: Path,
    *,
    variant: str = "fp32",
    data: str = "synthetic",
    count: int | None = None,
    fonts: str = "train",
    skip_bad: bool = False,
    threads: int = 1,
) -> EvaluationResult:
    """Run `variant` of an imported experiment over `data` (a real dataset or undisturbed synthetic lines in
    `fonts`) and write predictions.tsv under `evaluations/`."""
    from pipeline.data.real_sources import open_real_dataset
    from pipeline.data.synthetic import SyntheticLineDataset

    experiment_dir = Path(experiment_dir)
    record, layout, charset = read_import(experiment_dir)
    settings = record["settings"]
    configure_threads(threads)
    recognizer = ForeignOnnxRecognizer(deployable_artifact(experiment_dir, variant), layout, threads=threads)
    # The rule recorded at import (an ocrq export's own width stretch; 1.0 for foreign models).
    rule = read_resize_rule(experiment_dir) or ResizeRule(layout.height, 1.0, layout.stride)
    max_width = layout.fixed_width or int(16 * layout.height * rule.width_scale)
    if data == "synthetic":
        drawable = "".join(c for c in ASCII_CHARS if c in charset.chars)
        if len(drawable) < 10:
            raise ValueError(
                "--data synthetic renders ASCII lines, but the model's charset has almost none; give --data"
            )
        size = count or settings.get("lines", 300)
        config = SyntheticDataConfig(
            image_height=layout.height, max_image_width=max_width, max_length=25, width_scale=rule.width_scale
        )
        dataset = SyntheticLineDataset(
            config,
            AugmentationConfig.none(),
            Charset("ascii-in-model", drawable),
            size=size,
            seed=settings.get("seed", 0) + EVALUATION_SEED_OFFSET,
            split="test",
            font_pool=fonts,
        )
        label = f"synthetic, undisturbed ({fonts} fonts, {size} lines)"
    else:
        real = open_real_dataset(
            data,
            charset,
            image_height=layout.height,
            max_image_width=max_width,
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
        batch_size=settings.get("batch_size", 16),
        seed=settings.get("seed", 0),
    )
