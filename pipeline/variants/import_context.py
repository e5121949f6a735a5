"""What the import builders and `measure_built` share for one imported model: its mapping, line sets,
the prepared graph, the calibrated quantizer and the FP32 reference, each made once."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch

from pipeline.config.variant_specs import artifact_stem
from pipeline.core.events import LogMessage
from pipeline.core.result_row import VariantRow
from pipeline.deploy.calibration import LineBatchReader, calibration_for
from pipeline.deploy.foreign_model import ForeignOnnxRecognizer, to_model_input
from pipeline.deploy.foreign_quantize import StaticQuantizer
from pipeline.deploy.onnx_graph import main_weight_names
from pipeline.evaluation.predict import Predictions, predict
from pipeline.variants.build_basic import Built


@dataclass
class ImportContext:
    """Shared state of one `run_import` call (what `measure_built` reads of a variant context, too).

    Attributes:
        prepared: The checked import (`PreparedImport`): settings, layout, charset, line sets.
        config: The experiment's config (measuring settings; its `variants` are the import's).
        prepared_path: The prepared float graph once `ort-fp32` is built (every other variant's source).
    """

    prepared: Any
    workdir: Path
    sink: Any
    config: Any
    fp32_row: VariantRow | None = None
    reference_recognizer: Any = None
    fp32_test: Predictions | None = None
    prepared_path: Path | None = None
    weights: tuple[int, int] = (0, 0)
    _memo: dict[tuple, Any] = field(default_factory=dict, repr=False)

    @property
    def layout(self):
        return self.prepared.layout

    def artifact_path(self, variant: str, suffix: str = ".onnx") -> Path:
        folder = self.workdir / "variants"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{artifact_stem(variant)}{suffix}"

    def work_path(self, name: str) -> Path:
        folder = self.workdir / "variants" / "work"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / name

    def predict(self, recognizer, device=None, *, keep_logits: bool = True, batches=None) -> Predictions:
        """Predictions on the measured (clean) lines, or on `batches`."""
        return predict(
            recognizer,
            self.prepared.test_batches if batches is None else batches,
            self.prepared.charset,
            torch.device("cpu"),
            compute_loss=False,
            keep_logits=keep_logits,
        )

    def fp32_reference(self) -> Predictions:
        return self.fp32_test

    def fp32_on(self, lines: str) -> Predictions:
        """The imported FP32 model's predictions (with logits) on a named set: sensitivity or hard."""
        batches = {"sensitivity": self.prepared.sensitivity_batches, "hard": self.prepared.hard_batches}[
            lines
        ]
        return self._memoized(
            ("fp32_on", lines), lambda: self.predict(self.reference_recognizer, batches=batches)
        )

    def memory_input(self) -> dict[str, Any]:
        """What the memory probe feeds: the model's own input name, channels, height and width."""
        layout = self.layout
        return {
            "input_name": layout.input_name,
            "channels": layout.channels,
            "height": layout.height,
            "width": layout.fixed_width or 256,
        }

    def recognizer(self, path: Path) -> ForeignOnnxRecognizer:
        return ForeignOnnxRecognizer(path, self.layout, threads=self.config.deploy.latency_threads)

    def quantizer(self) -> StaticQuantizer:
        """Static QDQ int8 of the prepared graph, calibrated on the calibration lines once."""

        def make() -> StaticQuantizer:
            layout = self.layout
            reader = LineBatchReader.from_line_batches(
                self.prepared.calibration_batches,
                input_name=layout.input_name,
                transform=lambda b: to_model_input(b, layout),
            )
            return StaticQuantizer(self.prepared_path, reader, self.work_path("ranges"))

        return self._memoized(("quantizer",), make)

    @staticmethod
    def calibration(spec):
        return calibration_for(
            spec.observer_type, momentum=spec.observer_momentum, percentile=spec.observer_percentile
        )

    def built(self, path: Path, notes: list[str], float_nodes: list[str], bits: float, extra=None) -> Built:
        """A built ONNX variant of the imported model."""
        params, nonzero = self.weights
        return Built(
            recognizer=self.recognizer(path),
            artifact=path,
            artifact_format="onnx",
            backend="onnxruntime",
            device=torch.device("cpu"),
            params=params,
            nonzero_params=nonzero,
            bits_per_weight=bits,
            float_layers=float_nodes,
            notes=notes,
            extra=dict(extra or {}),
        )

    def log(self, message: str, level: str = "info") -> None:
        self.sink(LogMessage(level=level, message=message))

    def _memoized(self, key: tuple, make):
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]


def weights_of(path: Path) -> tuple[int, int]:
    """(weights, non-zero weights) of a float ONNX graph's main weights."""
    model = onnx.load(str(path))
    names = main_weight_names(model.graph)
    arrays = [onnx.numpy_helper.to_array(t) for t in model.graph.initializer if t.name in names]
    return sum(a.size for a in arrays), sum(int(np.count_nonzero(a)) for a in arrays)
