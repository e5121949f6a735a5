"""The resize rule of an experiment's variants: recorded once in the deploy manifest, stamped into the
metadata of every ONNX file, and read back by everything that feeds a stored variant lines again."""

from __future__ import annotations

from pathlib import Path

from pipeline.config import ExperimentConfig
from pipeline.data.resize_rule import ResizeRule
from pipeline.deploy.onnx_metadata import read_onnx_metadata, write_onnx_metadata
from pipeline.variants.manifest import read_resize_rule


def experiment_resize_rule(config: ExperimentConfig, width_multiple: int) -> ResizeRule:
    """The rule an experiment trains with: its data config's height and width_scale, its model's stride."""
    return ResizeRule(config.synthetic.image_height, float(config.synthetic.width_scale), int(width_multiple))


def stamp_resize_rule(artifact: Path, rule: ResizeRule) -> None:
    """Write the rule into an ONNX file's metadata (other files carry it in the manifest only)."""
    if Path(artifact).suffix == ".onnx":
        write_onnx_metadata(Path(artifact), rule.to_metadata())


def onnx_resize_rule(path: Path) -> ResizeRule | None:
    """The rule stamped in an ONNX file by ocrq; None for a file ocrq did not make.

    Raises:
        ResizeRuleError: the file carries ocrq's keys with a missing or bad value.
    """
    return ResizeRule.from_metadata(read_onnx_metadata(Path(path)))


def stored_resize_rule(experiment_dir: Path, config: ExperimentConfig, width_multiple: int) -> ResizeRule:
    """The rule recorded with a stored experiment; experiments made before it was recorded follow their
    config (which is what they were trained with)."""
    recorded = read_resize_rule(Path(experiment_dir))
    return recorded if recorded is not None else experiment_resize_rule(config, width_multiple)
