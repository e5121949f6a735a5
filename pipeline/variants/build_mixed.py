"""`ort-int8-mixed` of an ocrq-trained model: static int8 with the weight layers whose quantization costs
the most CER kept float, chosen on the validation lines (calibration draws training lines, measurement
the test lines, so the three never meet). The import builder of the same kind is in `build_imported`."""

from __future__ import annotations

import numpy as np

from pipeline.config.variant_specs import artifact_stem
from pipeline.deploy.onnx_compact import compact_onnx
from pipeline.deploy.ort_quantize import quantize_static_int8
from pipeline.evaluation.metrics import output_fidelity
from pipeline.models.layers import weight_layers
from pipeline.variants.build_basic import Built, onnx_recognizer, static_int8_of
from pipeline.variants.context import VariantContext
from pipeline.variants.mixed_sensitivity import keep_float_by_sensitivity
from pipeline.variants.registry import register_kind
from pipeline.variants.specs import OrtInt8MixedSpec

SENSITIVITY_LINES = 128  # validation lines scored per candidate (at most)
MIN_RATIO = 3.0  # a layer kept float may not take the file under this many times smaller than FP32 ONNX


@register_kind("ort-int8-mixed", OrtInt8MixedSpec)
def build_ort_int8_mixed(ctx: VariantContext, spec: OrtInt8MixedSpec, needed: dict) -> Built:
    """Static int8 with the CER-costliest layers float until within the variant's accuracy_budget_pp."""
    source = ctx.fp32_onnx()
    threads = ctx.config.deploy.latency_threads
    reference = ctx.predict(
        onnx_recognizer(source, ctx.fp32_model, threads), split="val", limit=SENSITIVITY_LINES
    )
    ref_logits = np.concatenate(reference.logits, axis=0)[None]
    base_cer = reference.metrics().cer
    reader = ctx.calibration_reader(spec.calibration_batches)

    def quantize(exclude: list[str], target):
        quantize_static_int8(source, target, reader, ctx.static_options(spec, exclude=exclude))
        compact_onnx(target)
        return target

    def score(path) -> tuple[float, float]:
        got = ctx.predict(
            onnx_recognizer(path, ctx.fp32_model, threads), split="val", limit=SENSITIVITY_LINES
        )
        kl = output_fidelity(ref_logits, np.concatenate(got.logits, axis=0)[None])["kl"]
        return 100 * (got.metrics().cer - base_cer), float(kl)

    path = ctx.artifact_path(spec.name, ".onnx")
    candidates = [(layer.name, layer.kind, layer.params) for layer in weight_layers(ctx.fp32_model)]
    probe = ctx.variants_dir / "work" / f"{artifact_stem(spec.name)}-probe.onnx"
    probe.parent.mkdir(parents=True, exist_ok=True)
    plan = keep_float_by_sensitivity(
        candidates,
        quantize,
        score,
        target=path,
        probe=probe,
        budget_pp=spec.accuracy_budget_pp,
        baseline_bytes=source.stat().st_size,
        min_ratio=MIN_RATIO,
        log=ctx.log,
    )
    lines = reference.metrics().samples
    report = plan.report(
        lines="sensitivity (validation lines)",
        sensitivity_lines=lines,
        base_cer=base_cer,
        budget_pp=spec.accuracy_budget_pp,
        min_ratio=MIN_RATIO,
    )
    built = static_int8_of(
        ctx, spec, source, ctx.fp32_model, path, {"node_sensitivity": report}, keep_float=plan.float_nodes
    )
    built.notes.append(
        f"{len(plan.float_nodes)} layer(s) kept float by a per-layer sensitivity scan on {lines} validation lines "
        f"(budget {spec.accuracy_budget_pp} pp, at least {MIN_RATIO:g}x smaller)"
    )
    return built
