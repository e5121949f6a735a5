"""The line sets of an imported experiment, drawn once and kept apart from each other.

- calibration lines: activation ranges of the static int8 variants (never measured);
- sensitivity lines: the mixed variant's per-node CER costs and its stopping rule (never measured);
- clean lines: every variant's table (CER, EM, fidelity) is measured on these;
- hard lines: a second measurement on lines the model finds hard (see `HARD_LINES`).

With `--data synthetic` the three are ocrq's renderer without disturbance (AugmentationConfig.none, natural
aspect ratio), each from its own stream (train, val and test splits): calibration and sensitivity lines
like the lines measured, as they are when cut from one label file.
With a label file the lines are shuffled once (seeded) and cut into calibration, sensitivity and clean
lines in that order. Hard lines are always synthetic, so they need an ASCII-capable charset; without one
there are none and the rows say so.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from pipeline.config.data_sections import AugmentationConfig, SyntheticDataConfig
from pipeline.core.charset import ASCII_CHARS, Charset
from pipeline.deploy.foreign_model import ForeignLayout, ImportRefused

# What "hard lines" are, stated once (README, rows and the bench print it).
HARD_LINES = (
    "synthetic lines in held-out font families with ocrq's realism augmentations at training strength "
    "(rotation, perspective, blur, JPEG, noise, textured and colour backgrounds), half of them rendered at "
    "low resolution and upscaled"
)
HARD_SEED_OFFSET = 7919  # the hard stream apart from the clean test stream of the same seed
FRESH_SEED_OFFSET = 101  # fresh lines for analysis, apart from every measured or calibration stream
MIN_DRAWABLE = 10


@dataclass
class LineSets:
    """Batches of each set and what they are."""

    label: str
    clean: list
    calibration: list
    sensitivity: list
    hard: list
    hard_note: str

    def sizes(self) -> dict[str, Any]:
        """Lines in each set, recorded with the experiment."""
        return {
            "calibration_lines": _count(self.calibration),
            "sensitivity_lines": _count(self.sensitivity),
            "clean_lines": _count(self.clean),
            "hard_lines": _count(self.hard),
            "hard_definition": self.hard_note,
        }


def _count(batches: list) -> int:
    return sum(len(b.texts) for b in batches)


def hard_augmentation() -> AugmentationConfig:
    """The training-strength disturbance with half the lines drawn small and upscaled (low dpi)."""
    hard = AugmentationConfig()
    hard.lowres_prob = 0.5
    return hard


@dataclass
class LineDatasets:
    """The datasets behind an import's line sets (`hard` None when there are no hard lines)."""

    label: str
    clean: Any
    calibration: Any
    sensitivity: Any
    hard: Any
    hard_note: str
    # makes fresh undisturbed synthetic lines in the training fonts (`ocrq analyze --data synthetic`)
    fresh: Any = None


def line_datasets(
    settings, layout: ForeignLayout, charset: Charset, width_scale: float = 1.0
) -> LineDatasets:
    """The datasets of every set of an import; ImportRefused (one line) when the data cannot give them."""
    from pipeline.data.label_files import find_label_file
    from pipeline.data.labelled import LabelledLineDataset, load_label_file
    from pipeline.data.synthetic import SyntheticLineDataset

    max_width = layout.fixed_width or int(16 * layout.height * width_scale)
    drawable = "".join(c for c in ASCII_CHARS if c in charset.chars)
    render = Charset("ascii-in-model", drawable) if len(drawable) >= MIN_DRAWABLE else None
    # natural aspect ratio (width_scale 1.0) for a foreign model; an ocrq export's own stretch from its metadata
    config = SyntheticDataConfig(
        image_height=layout.height, max_image_width=max_width, max_length=25, width_scale=width_scale
    )

    def synthetic(size: int, split: str, augment: AugmentationConfig, seed: int, fonts: str | None = None):
        return SyntheticLineDataset(
            config, augment, render, size=size, seed=seed, split=split, font_pool=fonts
        )

    fresh = None
    if render is not None:  # made only when asked for: rendering set-up costs time

        def fresh() -> Any:
            return synthetic(
                settings.lines, "test", AugmentationConfig.none(), settings.seed + FRESH_SEED_OFFSET
            )

    if settings.data == "synthetic":
        if render is None:
            raise ImportRefused(
                "--data synthetic renders ASCII lines, but the model's charset has almost no ASCII characters; "
                "give --data a label file"
            )
        seed = settings.seed
        clean = synthetic(settings.lines, "test", AugmentationConfig.none(), seed)
        calibration = synthetic(settings.calibration_lines, "train", AugmentationConfig.none(), seed)
        sensitivity = synthetic(settings.sensitivity_lines, "val", AugmentationConfig.none(), seed)
        label = "synthetic, undisturbed"
    else:
        label_file = find_label_file(settings.data)
        samples, _ = load_label_file(label_file, charset, allow_empty=True)
        held = settings.calibration_lines + settings.sensitivity_lines
        if len(samples) <= held:
            raise ImportRefused(
                f"--data {label_file} has {len(samples)} lines, not more than --calibration-lines "
                f"{settings.calibration_lines} + --sensitivity-lines {settings.sensitivity_lines}; lower them "
                "or give more lines"
            )
        order = list(range(len(samples)))
        random.Random(settings.seed).shuffle(order)  # the sets never share a line
        cal_ids = order[: settings.calibration_lines]
        sens_ids = order[settings.calibration_lines : held]
        rest = sorted(order[held:])[: settings.lines]

        def dataset(ids):
            return LabelledLineDataset(
                [samples[i] for i in ids],
                image_height=layout.height,
                max_image_width=max_width,
                too_wide="resize",
                width_scale=width_scale,
            )

        clean, calibration, sensitivity = dataset(rest), dataset(cal_ids), dataset(sens_ids)
        label = str(label_file)
    hard = None
    if settings.hard_lines and render is not None:
        hard = synthetic(
            settings.hard_lines, "test", hard_augmentation(), settings.seed + HARD_SEED_OFFSET, "held_out"
        )
        hard_note = HARD_LINES
    elif settings.hard_lines:
        hard_note = "none: the model's charset has almost no ASCII characters to render hard lines with"
    else:
        hard_note = "none: --hard-lines 0"
    return LineDatasets(label, clean, calibration, sensitivity, hard, hard_note, fresh)


def load_line_sets(settings, layout: ForeignLayout, charset: Charset, width_scale: float = 1.0) -> LineSets:
    """Draw every set for an import as batches; ImportRefused (one line) when the data cannot give them."""
    from pipeline.data.loader import make_loader

    def batches(dataset) -> list:
        if dataset is None:
            return []
        loader = make_loader(
            dataset,
            settings.batch_size,
            charset=charset,
            width_multiple=layout.stride,
            shuffle=False,
            seed=settings.seed,
            with_sources=True,
        )
        return list(loader)

    data = line_datasets(settings, layout, charset, width_scale)
    sets = LineSets(
        data.label,
        batches(data.clean),
        batches(data.calibration),
        batches(data.sensitivity),
        batches(data.hard),
        data.hard_note,
    )
    sizes = sets.sizes()
    sets.label = (
        f"{data.label} ({sizes['clean_lines']} measured lines, {sizes['calibration_lines']} calibration lines, "
        f"{sizes['sensitivity_lines']} sensitivity lines; {sizes['hard_lines']} hard lines)"
    )
    return sets
