"""What every variant builder of one experiment shares: the FP32 model and its ONNX export, calibration
data, the FP32 reference predictions, the frozen teacher. Expensive pieces are built once, on demand,
each behind its own method and keyed by the settings it depends on (two variants that calibrate on
4 and 8 batches get different readers). Results one variant reads of another come through the
registry's declared dependencies, never through this object.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from pipeline.config.variant_specs import artifact_stem
from pipeline.core.events import ArtifactSaved, LogMessage
from pipeline.deploy.calibration import Calibration, LineBatchReader, calibration_for
from pipeline.deploy.onnx_compact import compact_onnx
from pipeline.deploy.onnx_export import export_named_onnx
from pipeline.deploy.ort_quantize import StaticInt8Options
from pipeline.evaluation.predict import Predictions, predict


@dataclass
class VariantContext:
    """Shared state of one `produce_variants` call."""

    config: Any
    prepared: Any
    fp32_model: torch.nn.Module  # CPU, eval
    fp32_row: dict[str, Any]
    workdir: Path
    device: torch.device
    sink: Any
    fp32_test: Predictions | None = None  # FP32 test predictions with logits, when the caller has them
    # the FP32 ONNX recognizer that latency is paired with, once ort-fp32 is built
    reference_recognizer: Any = None
    # told of every QAT / finetune epoch, as the baseline's are (a search's pruner, say)
    callbacks: list[Any] = field(default_factory=list)
    _memo: dict[tuple, Any] = field(default_factory=dict, repr=False)

    def memo(self, key: tuple, make):
        """The value built by `make()` the first time `key` is asked for (shared pieces, built once)."""
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]

    def memoized(self, name: str) -> list[Any]:
        """Every value built so far under keys that start with `name`."""
        return [value for key, value in self._memo.items() if key[0] == name]

    @property
    def variants_dir(self) -> Path:
        path = self.workdir / "variants"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def artifact_path(self, variant: str, suffix: str) -> Path:
        return self.variants_dir / f"{artifact_stem(variant)}{suffix}"

    def log(self, message: str, level: str = "info") -> None:
        self.sink(LogMessage(level=level, message=message))

    def saved(self, path: Path, kind: str, variant: str) -> None:
        self.sink(
            ArtifactSaved(artifact_kind=kind, path=str(path), bytes=path.stat().st_size, variant=variant)
        )

    def memory_input(self) -> dict[str, Any]:
        """What the memory probe feeds an ONNX variant: ocrq's own (B, 1, H, 256) `images` input."""
        return {"input_name": "images", "channels": 1, "height": self.fp32_model.image_height, "width": 256}

    # --- shared resources -------------------------------------------------------------------------
    def fp32_onnx(self) -> Path:
        """The FP32 ONNX export with nodes named by module (also the `ort-fp32` artifact)."""
        return self.memo(("fp32_onnx",), self._export_fp32_onnx)

    def _export_fp32_onnx(self) -> Path:
        path = self.artifact_path("ort-fp32", ".onnx")
        unmatched = export_named_onnx(self.fp32_model, path, opset=self.config.deploy.onnx_opset)
        compact_onnx(path, half_side_tensors=False)
        if unmatched:
            self.log(
                f"ONNX export: no node matched layers {', '.join(unmatched)}; they are reported by node name",
                "warning",
            )
        return path

    def export_onnx(self, model: torch.nn.Module, variant: str) -> Path:
        """Export another float model (pruned, QAT-trained) with named nodes, to a scratch path of the variant."""
        path = self.workdir / "variants" / "work" / f"{artifact_stem(variant)}-float.onnx"
        path.parent.mkdir(parents=True, exist_ok=True)
        export_named_onnx(model.cpu().eval(), path, opset=self.config.deploy.onnx_opset)
        return path

    def calibration_batches(self, count: int) -> list:
        """`count` batches of training-distribution lines (never test lines), drawn once per count."""
        return self.memo(
            ("calibration_batches", count), lambda: self.prepared.data.calibration_batches(count)
        )

    def calibration_reader(self, count: int) -> LineBatchReader:
        """The calibration lines as an ONNX Runtime calibration data reader."""

        def make() -> LineBatchReader:
            reader = LineBatchReader.from_line_batches(self.calibration_batches(count))
            self.log(f"calibration: {reader.lines} training-distribution lines in {len(reader)} batches")
            return reader

        return self.memo(("calibration_reader", count), make)

    @staticmethod
    def calibration(spec) -> Calibration:
        """The activation-range calibration a spec's observer settings ask for."""
        return calibration_for(
            spec.observer_type, momentum=spec.observer_momentum, percentile=spec.observer_percentile
        )

    def static_options(self, spec, exclude: list[str] | None = None) -> StaticInt8Options:
        """ONNX Runtime static int8 settings of a spec (per-channel unless per_tensor was asked for)."""
        return StaticInt8Options(
            per_channel=spec.quantization_granularity != "per_tensor",
            reduce_range=None,
            symmetric_activations=False,
            calibration=self.calibration(spec),
            exclude=list(exclude or []),
        )

    def fp32_reference(self) -> Predictions:
        """FP32 test predictions with per-line logits (the fidelity reference)."""
        if self.fp32_test is None:
            self.fp32_test = self.predict(self.fp32_model, torch.device("cpu"), keep_logits=True)
        return self.fp32_test

    def predict(
        self,
        recognizer,
        device: torch.device | None = None,
        *,
        keep_logits: bool = True,
        split: str = "test",
        limit: int | None = None,
    ) -> Predictions:
        """Predictions of a recognizer on the shared test set (or `split="val"`, optionally the first `limit` lines)."""
        train = self.config.train
        batches = self.prepared.data.test_batches() if split == "test" else self.prepared.data.val_batches()
        if limit is not None:
            batches = _take_lines(batches, limit)
        return predict(
            recognizer,
            batches,
            self.prepared.charset,
            device or torch.device("cpu"),
            decoding=train.decoding,
            beam_width=train.beam_width,
            keep_logits=keep_logits,
        )

    def teacher(self) -> torch.nn.Module:
        """A frozen copy of the FP32 model on the training device (distillation teacher)."""

        def make() -> torch.nn.Module:
            teacher = copy.deepcopy(self.fp32_model).to(self.device).eval()
            for parameter in teacher.parameters():
                parameter.requires_grad_(False)
            return teacher

        return self.memo(("teacher",), make)


def _take_lines(batches, limit: int):
    taken = 0
    for batch in batches:
        if taken >= limit:
            return
        taken += len(batch.texts)
        yield batch
