"""The lines an analysis reads, held in memory, and one recognizer's reading of them in line order.

Every variant and every corruption reads the same images, so they are rendered (or loaded) once. For
synthetic lines the font and the augmentations applied to each line are kept, for CER by font and by
augmentation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from pipeline.config import ExperimentConfig
from pipeline.core.charset import Charset
from pipeline.data.label_files import find_label_file
from pipeline.data.labelled import LabelledLineDataset, load_label_file
from pipeline.data.loader import make_loader
from pipeline.data.params import RenderParams
from pipeline.data.samples import image_to_tensor
from pipeline.data.synthetic import SyntheticLineDataset
from pipeline.evaluation.predict import predict

# Seed offset of `--data synthetic`: the same fresh stream as `ocrq evaluate` (never trained on).
FRESH_SYNTHETIC_SEED_OFFSET = 101


@dataclass
class LineSet:
    """Images (float32 (1, H, W) in [-1, 1]) with labels, in a fixed order.

    Attributes:
        description: What the lines are, for reports.
        fonts: Font file name per line (synthetic lines), else None.
        augmentations: Names of the augmentations applied to each line (synthetic lines), else None.
    """

    images: list[torch.Tensor]
    labels: list[str]
    sources: list[str]
    description: str
    fonts: list[str] | None = None
    augmentations: list[tuple[str, ...]] | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, count: int) -> LineSet:
        """The first `count` lines."""
        return LineSet(
            self.images[:count],
            self.labels[:count],
            self.sources[:count],
            f"{self.description} (first {min(count, len(self))})",
            None if self.fonts is None else self.fonts[:count],
            None if self.augmentations is None else self.augmentations[:count],
        )


def applied_augmentations(params: RenderParams) -> tuple[str, ...]:
    """The augmentations that changed a rendered line (the background kind is always one)."""
    applied = [f"background:{params.background_kind}"]
    checks = (
        ("rotation", params.rotation_degrees != 0.0),
        ("perspective", any(s != 0.0 for s in params.perspective_shifts)),
        ("char_spacing", params.char_spacing != 1.0),
        ("baseline_jitter", params.baseline_jitter > 0.0),
        ("blur", params.blur_sigma > 0.0),
        ("noise", params.noise_sigma > 0.0),
        ("jpeg", params.jpeg_quality is not None),
        ("contrast", params.contrast != 1.0),
        ("brightness", params.brightness != 0.0),
    )
    applied.extend(name for name, on in checks if on)
    return tuple(applied)


def synthetic_line_set(dataset: SyntheticLineDataset, description: str, count: int | None = None) -> LineSet:
    """Render the lines of a synthetic dataset with their fonts and augmentations."""
    size = len(dataset) if count is None else min(count, len(dataset))
    images, labels, sources, fonts, augs = [], [], [], [], []
    for index in range(size):
        sample = dataset.sample(index)
        images.append(image_to_tensor(sample.image))
        labels.append(sample.text)
        sources.append(dataset.source(index))
        fonts.append(sample.font)
        augs.append(applied_augmentations(sample.params))
    return LineSet(images, labels, sources, description, fonts, augs)


def load_line_set(
    config: ExperimentConfig, charset: Charset, data: str = "test", count: int | None = None
) -> LineSet:
    """The lines to analyse.

    Args:
        config: The experiment's config.
        charset: Its charset (labels of a label file must fit it).
        data: "test" (the experiment's own test set), "synthetic" (fresh synthetic lines, as `ocrq
            evaluate`), or a label file / a folder holding one.
        count: At most this many lines.

    Raises:
        ValueError: for data that does not exist or cannot be read (the message says what is allowed).
    """
    if data in ("test", "synthetic") and not (data == "test" and config.data.test_data):
        seed = config.train.seed + (FRESH_SYNTHETIC_SEED_OFFSET if data == "synthetic" else 0)
        size = count or config.data.num_test
        dataset = SyntheticLineDataset(
            config.synthetic, config.augment, charset, size=size, seed=seed, split="test", font_pool="train"
        )
        name = "test set" if data == "test" else "fresh synthetic lines"
        return synthetic_line_set(dataset, f"{name} ({size} synthetic lines)")
    label_file = (
        Path(config.data.test_data)
        if data == "test"
        else find_label_file(data, other_choices="'test', 'synthetic'")
    )
    samples, _ = load_label_file(label_file, charset, allow_empty=True)
    if count:
        samples = samples[:count]
    dataset = LabelledLineDataset(
        samples,
        image_height=config.synthetic.image_height,
        max_image_width=config.synthetic.max_image_width,
        too_wide="resize",
    )
    return labelled_line_set(dataset, f"{label_file} ({len(samples)} lines)")


def labelled_line_set(dataset: LabelledLineDataset, description: str, count: int | None = None) -> LineSet:
    """The (first `count`) lines of a label-file dataset, loaded, with their image paths as sources."""
    size = len(dataset) if count is None else min(count, len(dataset))
    pairs = [dataset[i] for i in range(size)]
    images, labels = [image for image, _ in pairs], [label for _, label in pairs]
    return LineSet(images, labels, [str(dataset.samples[i].path) for i in range(size)], description)


class _InMemoryLines(Dataset):
    """A LineSet as a dataset for `make_loader`; `source(i)` is the line index, so readings come back in order."""

    def __init__(self, lines: LineSet, transform: Callable[[torch.Tensor, int], torch.Tensor] | None) -> None:
        self.lines, self.transform = lines, transform

    def __len__(self) -> int:
        return len(self.lines)

    def __getitem__(self, index: int):
        image = self.lines.images[index]
        if self.transform is not None:
            image = self.transform(image, index)
        return image, self.lines.labels[index]

    def width_hint(self, index: int) -> int:
        return int(self.lines.images[index].shape[-1])

    def source(self, index: int) -> str:
        return str(index)


@dataclass
class Reading:
    """What one recognizer read from a LineSet, in line order.

    Attributes:
        logits: Per line (T_i, C) scores (log-softmax applied), when kept.
    """

    predictions: list[str]
    labels: list[str]
    logits: list[np.ndarray] = field(default_factory=list)

    @property
    def correct(self) -> list[bool]:
        return [p == q for p, q in zip(self.predictions, self.labels, strict=True)]


def log_softmax(scores: np.ndarray) -> np.ndarray:
    shifted = scores - scores.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def read_lines(
    recognizer,
    lines: LineSet,
    charset: Charset,
    config: ExperimentConfig,
    *,
    transform: Callable[[torch.Tensor, int], torch.Tensor] | None = None,
    keep_logits: bool = True,
    batch_size: int | None = None,
) -> Reading:
    """Run `recognizer` (torch module or ONNX wrapper) over `lines`, optionally transformed per line.

    Args:
        transform: `(image, line_index) -> image`, e.g. a corruption.
        keep_logits: Keep per-frame log-probabilities (alignment, agreement, confidence).
        batch_size: Lines per batch (default: the experiment's batch size).
    """
    loader = make_loader(
        _InMemoryLines(lines, transform),
        batch_size or config.train.batch_size,
        charset=charset,
        width_multiple=recognizer.width_multiple,
        shuffle=False,
        seed=config.train.seed,
        num_workers=0,
        with_sources=True,
    )
    raw = predict(
        recognizer,
        loader,
        charset,
        torch.device("cpu"),
        decoding=config.train.decoding,
        beam_width=config.train.beam_width,
        compute_loss=False,
        keep_logits=keep_logits,
    )
    order = np.argsort(np.array([int(s) for s in raw.sources]), kind="stable")
    predictions = [raw.predictions[i] for i in order]
    logits = [log_softmax(np.asarray(raw.logits[i], dtype=np.float32)) for i in order] if keep_logits else []
    return Reading(predictions, list(lines.labels), logits)
