"""Produce, measure and record the compression variants an experiment asks for, against the FP32 baseline.

Every variant is measured the same way (`measure_built`): the shared test set (CER, EM, 1-NED), bytes on
disk of the file a user would deploy, theoretical bits per weight (labelled as such), latency at batch 1
and throughput at batch 16 for a 32x256 line with a stated thread count, peak memory of a process that
loads only that file, and fidelity of its outputs to FP32. Ratios are against FP32 ONNX.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import torch

from pipeline.compress.plan_check import check_compression_plan
from pipeline.core.events import LogMessage, StageStarted, VariantEvaluated
from pipeline.core.result_row import VariantRow
from pipeline.evaluation.predict import Predictions
from pipeline.variants.build_basic import Built
from pipeline.variants.catalog import build_order, registered, resolve_specs
from pipeline.variants.context import VariantContext
from pipeline.variants.manifest import record_resize_rule, record_variant
from pipeline.variants.measure import (
    adopt_onnx_reference,
    apply_accuracy_guard,
    compare,
    fidelity,
    measure_built,
)
from pipeline.variants.resize import experiment_resize_rule, stamp_resize_rule
from pipeline.variants.specs import OrtFp32Spec, VariantSpec


@dataclass
class VariantResult:
    """A built and measured variant, as handed to the variants that declared they need it."""

    name: str
    spec: VariantSpec
    built: Built
    row: VariantRow


def produce_variants(
    fp32_model: torch.nn.Module,
    prepared,
    fp32_row: VariantRow,
    fp32_test: Predictions,
    sink,
    workdir: Path,
    device: torch.device,
    *,
    measure_memory: bool = True,
    callbacks: list | None = None,
) -> dict[str, VariantRow]:
    """Build, evaluate and record every variant in `config.deploy.variants` except `fp32`.

    Impossible settings are rejected (ValueError) before any work. Also writes `quantization_report.json`,
    `comparison.md` and the figures, records them as artifacts, and updates the FP32 row with its
    ratios against FP32 ONNX. Returns variant name -> row. `callbacks` hear every QAT / finetune epoch.
    """
    config = prepared.config
    specs = resolve_specs(config)
    for note in check_compression_plan(config, specs):
        sink(LogMessage(level="warning", message=note))
    workdir = Path(workdir)
    plan = build_order(specs)
    names = [planned.spec.name for planned in plan]
    sink(StageStarted(stage="compress", detail=", ".join(names), total=len(names)))
    ctx = VariantContext(
        config=config,
        prepared=prepared,
        fp32_model=fp32_model.cpu().eval(),
        fp32_row=fp32_row,
        workdir=workdir,
        device=device,
        sink=sink,
        fp32_test=fp32_test if fp32_test is not None and fp32_test.logits else None,
        callbacks=list(callbacks or []),
    )
    # Every variant is fed lines resized as in training: the rule goes in the manifest and in each ONNX file.
    rule = experiment_resize_rule(config, ctx.fp32_model.width_multiple)
    record_resize_rule(workdir, rule)
    record_variant(workdir, "fp32", workdir / "model_fp32.pt", "torch-fp32", "torch")
    results: dict[str, VariantResult] = {}
    reference: VariantRow | None = None
    budget = config.deploy.accuracy_budget_pp
    if "ort-fp32" not in {spec.kind for spec in specs}:  # ratios are always against FP32 ONNX
        reference = unlisted_onnx_reference(ctx)
    for planned in plan:
        spec = planned.spec
        started = time.monotonic()
        sink(StageStarted(stage=f"variant:{spec.name}", detail=spec.name, total=None))
        needed = {kind: results[name] for kind, name in planned.needed.items()}
        built = registered(spec.kind).build(ctx, spec, needed)
        stamp_resize_rule(built.artifact, rule)
        if built.artifact_format == "onnx" or built.artifact.suffix == ".pt":
            ctx.saved(built.artifact, "onnx" if built.artifact.suffix == ".onnx" else "model", spec.name)
        record_variant(workdir, spec.name, built.artifact, built.artifact_format, built.backend)
        row, test = measure_built(ctx, spec, built, reference, memory=measure_memory)
        if spec.kind == "ort-fp32":
            adopt_onnx_reference(row, ctx.fp32_reference(), test)
            reference = row
            ctx.reference_recognizer = built.recognizer
            compare(row, fp32_row, reference, budget)
        row.build_seconds = time.monotonic() - started
        apply_accuracy_guard(spec.name, spec.kind, row, budget, sink)
        ptq = needed.get("ptq")
        if ptq is not None:
            deployed_recovery(row, ptq.row, fp32_row)
        results[spec.name] = VariantResult(spec.name, spec, built, row)
        sink(VariantEvaluated(name=spec.name, metrics=row.to_dict()))
    finish_fp32_row(ctx, fp32_row, reference)
    sink(VariantEvaluated(name="fp32", metrics=fp32_row.to_dict()))
    rows = {name: result.row for name, result in results.items()}
    from pipeline.reports.write import write_reports

    scans = [scan for scan, _plan in ctx.memoized("mixed_plan")]
    sensitivity = scans[0] if scans else None
    write_reports(workdir, {"fp32": fp32_row, **rows}, config, sink, sensitivity=sensitivity)
    return rows


def unlisted_onnx_reference(ctx: VariantContext) -> VariantRow:
    """FP32 ONNX measured as every ratio's baseline when the variants do not list `ort-fp32` (a study's
    trial, say): exported and measured, never recorded as a variant."""
    baseline_spec = OrtFp32Spec("ort-fp32", "ort-fp32")
    baseline = registered("ort-fp32").build(ctx, baseline_spec, {})
    reference, _ = measure_built(ctx, baseline_spec, baseline, None, memory=False)
    ctx.reference_recognizer = baseline.recognizer
    return reference


def finish_fp32_row(ctx: VariantContext, fp32_row: VariantRow, reference: VariantRow | None) -> None:
    """Give the FP32 torch row the same columns as the variants (ratios against FP32 ONNX, fidelity 1:1)."""
    from pipeline.models.layers import count_parameters, weight_layers

    fp32_row.kind = "fp32"
    if fp32_row.artifact is None:
        fp32_row.artifact = str(ctx.workdir / "model_fp32.pt")
    if fp32_row.artifact_format is None:
        fp32_row.artifact_format = "torch-fp32"
    fp32_row.size_source = (
        "bytes on disk of model_fp32.pt (torch.save of the FP32 state dict with its config)"
    )
    fp32_row.float_layers = [layer.name for layer in weight_layers(ctx.fp32_model)]
    if fp32_row.notes is None:
        fp32_row.notes = ["the trained FP32 model in PyTorch"]
    fp32_row.nonzero_params = count_parameters(ctx.fp32_model)[1]
    fp32_row.fidelity = fidelity(ctx.fp32_reference(), ctx.fp32_reference())
    compare(fp32_row, fp32_row, reference, ctx.config.deploy.accuracy_budget_pp)


def deployed_recovery(qat_row: VariantRow, ptq_row: VariantRow, fp32_row: VariantRow) -> None:
    """The share of the deployed PTQ variant's CER rise that the deployed QAT variant won back."""
    increase = ptq_row.cer - fp32_row.cer
    qat_row.ptq_recovery_deployed = (ptq_row.cer - qat_row.cer) / increase if increase > 0 else None
