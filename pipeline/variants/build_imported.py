"""Import builders: each variant kind `ocrq import` offers, made from the prepared graph of a foreign
ONNX recognizer (`ImportContext`). A builder returns a `Built`, or None when the kind does not apply
to this model (it says why in the log)."""

from __future__ import annotations

from pipeline.deploy.foreign_quantize import ForeignStaticOptions, weight_layer_nodes
from pipeline.deploy.onnx_graph import has_matmul
from pipeline.deploy.onnx_prepare import EQUIVALENCE_TOLERANCE, max_abs_difference, prepare_graph
from pipeline.deploy.ort_quantize import quantize_dynamic_int8, quantize_weights_nbits
from pipeline.evaluation.metrics import output_fidelity
from pipeline.variants.build_basic import Built
from pipeline.variants.import_context import ImportContext, weights_of
from pipeline.variants.mixed_sensitivity import keep_float_by_sensitivity
from pipeline.variants.registry import register_import_builder
from pipeline.variants.specs import (
    OrtFp32Spec,
    OrtInt4WeightSpec,
    OrtInt8DynamicSpec,
    OrtInt8MixedSpec,
    OrtInt8StaticSpec,
)


@register_import_builder("ort-fp32")
def import_ort_fp32(ctx: ImportContext, spec: OrtFp32Spec) -> Built:
    """The prepared graph (opset, constants, BatchNorm folding, identities), checked against the
    imported file on the measured lines."""
    from pipeline.deploy.foreign_model import to_model_input

    settings, layout = ctx.prepared.settings, ctx.layout
    path = ctx.artifact_path(spec.name)
    report = prepare_graph(settings.model, path)
    feeds = [{layout.input_name: to_model_input(b.images.numpy(), layout)} for b in ctx.prepared.test_batches]
    report.max_abs_diff = max_abs_difference(settings.model, path, feeds)
    report.checked_lines = ctx.prepared.test_lines
    ctx.log(report.summary())
    if report.max_abs_diff > EQUIVALENCE_TOLERANCE:
        ctx.log(
            f"the prepared graph differs from the original by {report.max_abs_diff:.2e}, over {EQUIVALENCE_TOLERANCE:g}",
            "warning",
        )
    ctx.prepared_path = path
    ctx.weights = weights_of(path)
    notes = ["the prepared graph: " + "; ".join(report.steps)]
    return ctx.built(path, notes, [], 32.0, {"preparation": report.to_dict()})


def _static_options(ctx: ImportContext, spec, exclude: list[str]) -> ForeignStaticOptions:
    return ForeignStaticOptions(
        calibration=ctx.calibration(spec),
        per_channel=spec.quantization_granularity != "per_tensor",
        exclude=exclude + _first_last(ctx, spec),
    )


def _first_last(ctx: ImportContext, spec) -> list[str]:
    if not spec.skip_first_last:
        return []
    nodes = weight_layer_nodes(ctx.prepared_path)
    return [nodes[0][0], nodes[-1][0]] if nodes else []


@register_import_builder("ort-int8-static")
def import_ort_int8_static(ctx: ImportContext, spec: OrtInt8StaticSpec) -> Built:
    """Static QDQ int8: per-channel weights, activation ranges from the calibration lines."""
    path = ctx.artifact_path(spec.name)
    quantizer = ctx.quantizer()
    options = _static_options(ctx, spec, [])
    quantizer.quantize(path, options)
    notes = [
        f"static QDQ int8, {'per-channel' if options.per_channel else 'per-tensor'} weights, calibration "
        f"{options.calibration.description} on {quantizer.reader.lines} of the user's lines (padded per batch); "
        "attention's activation products float"
    ]
    return ctx.built(path, notes, _first_last(ctx, spec), 8.0)


@register_import_builder("ort-int8-dynamic")
def import_ort_int8_dynamic(ctx: ImportContext, spec: OrtInt8DynamicSpec) -> Built:
    """Dynamic int8 of MatMul / Gemm weights; convs stay float (ConvInteger is slower than float conv)."""
    path = ctx.artifact_path(spec.name)
    skipped = _first_last(ctx, spec)
    quantize_dynamic_int8(
        ctx.prepared_path, path, per_channel=spec.quantization_granularity != "per_tensor", exclude=skipped
    )
    floats = [name for name, op, _ in weight_layer_nodes(ctx.prepared_path) if op == "Conv"]
    return ctx.built(path, ["dynamic int8 MatMul/Gemm weights; convs stay float"], floats + skipped, 8.0)


@register_import_builder("ort-int4-weight")
def import_ort_int4_weight(ctx: ImportContext, spec: OrtInt4WeightSpec) -> Built | None:
    """MatMulNBits: 4-bit block-quantized MatMul weights; None when the model has no MatMul."""
    if not has_matmul(ctx.prepared_path):
        ctx.log(f"{spec.name} skipped: the model has no MatMul")
        return None
    path = ctx.artifact_path(spec.name)
    accuracy_level = 4 if spec.activation_bits == 8 else 0
    quantize_weights_nbits(
        ctx.prepared_path,
        path,
        bits=4,
        block_size=spec.group_size,
        symmetric=spec.symmetric_quantization,
        accuracy_level=accuracy_level,
        exclude=_first_last(ctx, spec),
    )
    notes = [f"MatMulNBits: 4-bit MatMul weights in blocks of {spec.group_size}; convs stay float"]
    return ctx.built(path, notes, [], 4.0)


@register_import_builder("ort-int8-mixed")
def import_ort_int8_mixed(ctx: ImportContext, spec: OrtInt8MixedSpec) -> Built:
    """Static int8 with the CER-costliest nodes kept float until within the variant's budget, chosen on
    the sensitivity lines (never the calibration or measured lines)."""
    settings = ctx.prepared.settings
    quantizer = ctx.quantizer()
    reference = ctx.fp32_on("sensitivity")
    base_cer = reference.metrics().cer
    ref_logits = _stacked(reference)

    def quantize(exclude: list[str], target):
        return quantizer.quantize(target, _static_options(ctx, spec, exclude))

    def score(path) -> tuple[float, float]:
        got = ctx.predict(ctx.recognizer(path), batches=ctx.prepared.sensitivity_batches)
        return 100 * (got.metrics().cer - base_cer), float(output_fidelity(ref_logits, _stacked(got))["kl"])

    path = ctx.artifact_path(spec.name)
    plan = keep_float_by_sensitivity(
        weight_layer_nodes(ctx.prepared_path),
        quantize,
        score,
        target=path,
        probe=ctx.work_path(f"{path.stem}-probe.onnx"),
        budget_pp=spec.accuracy_budget_pp,
        baseline_bytes=settings.model.stat().st_size,
        min_ratio=settings.mixed_min_ratio,
        log=ctx.log,
    )
    report = plan.report(
        lines="sensitivity",
        sensitivity_lines=ctx.prepared.sensitivity_lines,
        base_cer=base_cer,
        budget_pp=spec.accuracy_budget_pp,
        min_ratio=settings.mixed_min_ratio,
    )
    notes = [
        f"static int8 with {len(plan.float_nodes)} node(s) kept float by a per-node sensitivity scan on "
        f"{ctx.prepared.sensitivity_lines} sensitivity lines (apart from calibration and measurement), "
        f"budget {spec.accuracy_budget_pp} pp, at least {settings.mixed_min_ratio:g}x smaller"
    ]
    if not plan.within_budget:
        notes.append(f"still over the {spec.accuracy_budget_pp} pp budget on the sensitivity lines")
    return ctx.built(path, notes, plan.float_nodes, 8.0, {"node_sensitivity": report})


def _stacked(predictions):
    import numpy as np

    return np.concatenate(predictions.logits, axis=0)[None]
