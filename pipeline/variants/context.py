"""What every variant builder of one experiment shares: the FP32 model and its ONNX export, calibration
data, the FP32 reference predictions, and results one variant hands to another (the pruned model, the
sensitivity scan, PTQ CERs for QAT's recovery figure). Expensive pieces are built once, on demand.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from pipeline.core.events import ArtifactSaved, LogMessage
from pipeline.deploy.calibration import Calibration, LineBatchReader, calibration_for
from pipeline.deploy.onnx_compact import compact_onnx
from pipeline.deploy.onnx_export import export_named_onnx
from pipeline.deploy.ort_quantize import StaticInt8Options
from pipeline.evaluation.predict import Predictions, predict


def artifact_stem(variant: str) -> str:
    """File-system-safe name of a variant (`ptq:int4_weight_only` -> `ptq-int4_weight_only`)."""
    return variant.replace(":", "-").replace("/", "-")


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
    cache: dict[str, Any] = field(default_factory=dict)

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

    # --- shared resources -------------------------------------------------------------------------
    def fp32_onnx(self) -> Path:
        """The FP32 ONNX export with nodes named by module (also the `ort-fp32` artifact)."""
        if "fp32_onnx" not in self.cache:
            path = self.artifact_path("ort-fp32", ".onnx")
            unmatched = export_named_onnx(self.fp32_model, path, opset=self.config.deploy.onnx_opset)
            compact_onnx(path, half_side_tensors=False)
            if unmatched:
                self.log(
                    f"ONNX export: no node matched layers {', '.join(unmatched)}; they are reported by node name",
                    "warning",
                )
            self.cache["fp32_onnx"] = path
        return self.cache["fp32_onnx"]

    def export_onnx(self, model: torch.nn.Module, variant: str) -> Path:
        """Export another float model (pruned, QAT-trained) with named nodes, to a scratch path of the variant."""
        path = self.workdir / "variants" / "work" / f"{artifact_stem(variant)}-float.onnx"
        path.parent.mkdir(parents=True, exist_ok=True)
        export_named_onnx(model.cpu().eval(), path, opset=self.config.deploy.onnx_opset)
        return path

    def calibration_batches(self) -> list:
        """`calibration_batches` batches of training-distribution lines (never test lines), drawn once."""
        if "calibration_batches" not in self.cache:
            self.cache["calibration_batches"] = self.prepared.data.calibration_batches(
                self.config.quantization.calibration_batches
            )
        return self.cache["calibration_batches"]

    def calibration_reader(self) -> LineBatchReader:
        """The calibration lines as an ONNX Runtime calibration data reader."""
        if "reader" not in self.cache:
            reader = LineBatchReader.from_line_batches(self.calibration_batches())
            self.log(f"calibration: {reader.lines} training-distribution lines in {len(reader)} batches")
            self.cache["reader"] = reader
        return self.cache["reader"]

    def calibration(self) -> Calibration:
        q = self.config.quantization
        return calibration_for(
            q.observer_type, momentum=q.observer_momentum, percentile=q.observer_percentile
        )

    def static_options(self, exclude: list[str] | None = None) -> StaticInt8Options:
        """ONNX Runtime static int8 settings from the config (per-channel unless per_tensor was asked for)."""
        q = self.config.quantization
        return StaticInt8Options(
            per_channel=q.quantization_granularity != "per_tensor",
            reduce_range=None,
            symmetric_activations=False,
            calibration=self.calibration(),
            exclude=list(exclude or []),
        )

    def fp32_reference(self) -> Predictions:
        """FP32 test predictions with per-line logits (the fidelity reference)."""
        if "fp32_test" not in self.cache:
            self.cache["fp32_test"] = self.predict(self.fp32_model, torch.device("cpu"), keep_logits=True)
        return self.cache["fp32_test"]

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
        if "teacher" not in self.cache:
            teacher = copy.deepcopy(self.fp32_model).to(self.device).eval()
            for parameter in teacher.parameters():
                parameter.requires_grad_(False)
            self.cache["teacher"] = teacher
        return self.cache["teacher"]


def _take_lines(batches, limit: int):
    taken = 0
    for batch in batches:
        if taken >= limit:
            return
        taken += len(batch.texts)
        yield batch
