"""What an analysis reads: the experiment's charset, its lines and its recognizers, for a trained experiment
or an imported ONNX model.

An imported experiment has no torch model and no training config of its own: its characters, input layout,
line sets and resize rule come from its import record, and every variant (the imported file too) is an
ONNX file read through the import's preprocessing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pipeline.analysis.lines import LineSet, labelled_line_set, load_line_set, synthetic_line_set
from pipeline.core.charset import Charset


@dataclass
class Subject:
    """The experiment as an analysis sees it.

    Attributes:
        charset: The characters its outputs decode to.
        load_lines: `(data, count) -> LineSet`; ValueError for data it cannot read.
        load_model: `variant -> recognizer`, built from the experiment folder's files.
        imported: An imported ONNX model (no checkpoints, no training data to analyse).
    """

    charset: Charset
    load_lines: Callable[[str, int | None], LineSet]
    load_model: Callable[[str], object]
    imported: bool = False


def open_subject(experiment_dir: Path, config, threads: int) -> Subject:
    """The subject of `experiment_dir`: imported when it holds an import record."""
    from pipeline.variants.import_reopen import is_imported

    if is_imported(experiment_dir):
        return _imported(Path(experiment_dir), threads)
    from pipeline.variants.load import load_recognizer

    charset = Charset.from_spec(config.model.charset)
    return Subject(
        charset,
        lambda data, count: load_line_set(config, charset, data, count),
        lambda variant: load_recognizer(experiment_dir, variant, threads=threads),
    )


def _imported(experiment_dir: Path, threads: int) -> Subject:
    from pipeline.deploy.foreign_model import ForeignOnnxRecognizer
    from pipeline.variants.import_lines import line_datasets
    from pipeline.variants.import_reopen import import_settings
    from pipeline.variants.load import deployable_artifact

    settings, layout, charset, width_scale = import_settings(experiment_dir)

    def load_model(variant: str):
        recognizer = ForeignOnnxRecognizer(
            deployable_artifact(experiment_dir, variant), layout, threads=threads
        )
        recognizer.width_multiple = layout.stride  # padded as the import measured it
        return recognizer

    def load_lines(data: str, count: int | None) -> LineSet:
        if data in ("test", "hard", "synthetic"):
            sets = line_datasets(settings, layout, charset, width_scale)
            dataset = {"test": sets.clean, "hard": sets.hard, "synthetic": sets.fresh and sets.fresh()}[data]
            if dataset is None:
                raise ValueError(
                    f"--data {data}: this import has no such lines ({sets.hard_note if data == 'hard' else 'its charset has almost no ASCII to render'}); "
                    "give a label file or a folder holding one"
                )
            what = {"test": "the import's measured lines", "hard": "the import's hard lines",
                    "synthetic": "fresh synthetic lines"}[data]  # fmt: skip
            if hasattr(dataset, "sample"):
                return synthetic_line_set(dataset, f"{what} ({sets.label})", count)
            return labelled_line_set(dataset, f"{what} ({sets.label})", count)
        from pipeline.data.label_files import find_label_file
        from pipeline.data.labelled import LabelledLineDataset, load_label_file

        label_file = find_label_file(data, other_choices="'test', 'hard', 'synthetic'")
        samples, _ = load_label_file(label_file, charset, allow_empty=True)
        max_width = layout.fixed_width or int(16 * layout.height * width_scale)
        dataset = LabelledLineDataset(
            samples[:count] if count else samples,
            image_height=layout.height,
            max_image_width=max_width,
            too_wide="resize",
            width_scale=width_scale,
        )
        return labelled_line_set(dataset, f"{label_file} ({len(dataset)} lines)")

    return Subject(charset, load_lines, load_model, imported=True)
