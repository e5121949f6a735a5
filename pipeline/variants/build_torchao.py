"""Builders of the torchao variants: `ptq`, `qat` and `mixed`, each with its own quantization settings.

The torch model is quantized with torchao (`quantize_` with one config per layer). Where the backend is
onnxruntime (cpu, mobile) the deployable file is the same integers in ONNX Runtime (convs and LSTMs
int8 as well), and the CER gap between the torch model and the deployed one is reported; where it is
torchao (gpu), the deployable file is the quantized state dict.
"""

from __future__ import annotations

from typing import Any

import torch

from pipeline.compress.ptq import LayerPlan, apply_ptq, plan_linear_layers, save_torchao_model
from pipeline.compress.qat import run_qat
from pipeline.compress.schemes import scheme_from_config
from pipeline.compress.sensitivity import mixed_plan, sensitivity_scan
from pipeline.deploy.ort_plan import OrtPlanOptions, deploy_torchao_plan
from pipeline.models.layers import count_parameters
from pipeline.variants.build_basic import Built, onnx_built
from pipeline.variants.context import VariantContext
from pipeline.variants.finetune import finetune
from pipeline.variants.registry import Need, register_kind
from pipeline.variants.specs import PLAN_SETTINGS, MixedSpec, PtqSpec, QatSpec, TorchaoSettings


def _plan(ctx: VariantContext, spec: TorchaoSettings) -> LayerPlan:
    scheme = scheme_from_config(spec)
    per_layer = None
    if spec.mixed_precision:
        per_layer = shared_mixed_plan(ctx, spec).schemes
    return plan_linear_layers(
        ctx.fp32_model, scheme, skip_first_last=spec.skip_first_last, per_layer=per_layer
    )


def _deploy(
    ctx: VariantContext,
    spec: TorchaoSettings,
    quantized: torch.nn.Module,
    float_model: torch.nn.Module,
    plan: LayerPlan,
    extra: dict[str, Any],
) -> Built:
    """Deploy a torchao model per the backend, and measure the torch model's CER for the deployment gap."""
    torch_test = ctx.predict(quantized, torch.device("cpu"), keep_logits=False)
    extra = {"plan": plan.to_dict(), "torchao_cer": torch_test.metrics().cer, **extra}
    notes = list(plan.notes)
    if ctx.config.deploy.backend == "torchao":
        path = ctx.artifact_path(spec.name, ".pt")
        meta = {"model_config": ctx.fp32_model.config(), "charset": ctx.prepared.charset.to_dict()}
        save_torchao_model(quantized, plan, path, meta)
        params, nonzero = count_parameters(quantized)
        device = ctx.device
        recognizer = quantized.to(device) if device.type == "cuda" else quantized
        notes.append(
            "torchao tensors in PyTorch; the file is torch.save of the quantized state dict (needs torchao)"
        )
        return Built(
            recognizer,
            path,
            "torchao",
            "torchao",
            device if device.type == "cuda" else torch.device("cpu"),
            params,
            nonzero,
            plan.theoretical_bits(),
            plan.torch_float_layers(),
            notes,
            extra,
        )
    source = float_model if float_model is not ctx.fp32_model else None
    fp32_onnx = ctx.export_onnx(float_model, spec.name) if source is not None else ctx.fp32_onnx()
    strategy_quantizes_activations = any(s.dynamic_activations for s in plan.quantized.values())
    options = OrtPlanOptions(
        static=ctx.static_options(spec),
        activations_int8=strategy_quantizes_activations,
        conv_weight_bits=spec.conv_weight_bits,
        float_layers=sorted({n for n, s in plan.schemes.items() if s is None} | plan.skipped),
    )
    path = ctx.artifact_path(spec.name, ".onnx")
    reader = ctx.calibration_reader(spec.calibration_batches)
    deploy_torchao_plan(fp32_onnx, quantized, plan, path, reader, options)
    if options.conv_weight_bits == 4:
        convs = "weight-only int4 (per channel, float compute)"
    else:
        convs = "static int8" if strategy_quantizes_activations else "weight-only int8"
    notes.append(
        f"deployed in ONNX Runtime with torchao's integers (MatMulNBits); convs {convs}, LSTMs dynamic int8"
    )
    return onnx_built(ctx, path, float_model, notes=notes, extra=extra)


@register_kind("ptq", PtqSpec)
def build_ptq(ctx: VariantContext, spec: PtqSpec, needed: dict) -> Built:
    """torchao post-training quantization of the FP32 model."""
    plan = _plan(ctx, spec)
    quantized = apply_ptq(ctx.fp32_model, plan)
    return _deploy(ctx, spec, quantized, ctx.fp32_model, plan, {"strategy": spec.quantization_strategy})


# QAT reports how much of PTQ's CER rise it won back: against the listed PTQ variant of the same plan,
# or, when none is listed, against PTQ of its own plan measured here.
@register_kind("qat", QatSpec, needs=(Need("ptq", PLAN_SETTINGS),))
def build_qat(ctx: VariantContext, spec: QatSpec, needed: dict) -> Built:
    """torchao QAT (prepare -> train with distillation -> convert), deployed like PTQ."""
    plan = _plan(ctx, spec)
    phase = f"qat:{spec.name}"

    def fit_stage(model, index, epochs, extra_loss):
        return finetune(
            ctx,
            model,
            epochs=epochs,
            lr_multiplier=spec.qat_learning_rate_multiplier,
            phase=phase if index == 0 else f"{phase}:stage{index + 1}",
            extra_loss=extra_loss,
        )

    epochs = spec.qat_epochs if spec.quantization_aware_training else 0
    result = run_qat(
        ctx.fp32_model,
        plan,
        fit_stage=fit_stage,
        qat_epochs=epochs,
        progressive_stages=list(spec.progressive_stages),
        teacher=ctx.teacher() if spec.enable_distillation else None,
        distillation_weight=spec.distillation_weight,
        temperature=spec.temperature_distillation,
        quantization_loss_weight=spec.quantization_loss_weight,
    )
    fake_quant = (
        ctx.predict(result.fake_quant_model.cpu(), torch.device("cpu"), keep_logits=False).metrics().cer
    )
    ptq = needed.get("ptq")
    if ptq is not None:
        ptq_cer = ptq.built.extra["torchao_cer"]
    else:
        ptq_cer = (
            ctx.predict(apply_ptq(ctx.fp32_model, plan), torch.device("cpu"), keep_logits=False).metrics().cer
        )
    extra = {
        "strategy": spec.quantization_strategy,
        "qat_epochs": epochs,
        "stages": [stage.describe() for stage in result.stages],
        "fake_quant_cer": fake_quant,
        "ptq_torchao_cer": ptq_cer,
        "ptq_variant": ptq.name if ptq is not None else None,
        "distillation": {"weight": spec.distillation_weight, "temperature": spec.temperature_distillation}
        if spec.enable_distillation
        else None,
    }
    built = _deploy(ctx, spec, result.quantized_model.cpu(), result.float_model.cpu(), plan, extra)
    fp32_cer = ctx.fp32_row.cer
    increase = ptq_cer - fp32_cer
    # share of the PTQ CER increase that QAT won back, both measured on the torchao models in torch
    built.extra["ptq_recovery"] = (ptq_cer - built.extra["torchao_cer"]) / increase if increase > 0 else None
    if not spec.quantization_aware_training:
        built.notes.append(
            "quantization_aware_training=false: converted without training (PTQ of the same plan)"
        )
    return built


def shared_mixed_plan(ctx: VariantContext, spec: TorchaoSettings) -> LayerPlan:
    """The sensitivity scan and the bits it chose per layer (once per set of plan settings)."""
    return _mixed(ctx, spec)[1]


def _mixed(ctx: VariantContext, spec: TorchaoSettings):
    def make():
        scheme = scheme_from_config(spec)
        scan = sensitivity_scan(ctx, scheme)
        plan = mixed_plan(
            ctx.fp32_model,
            scan,
            scheme,
            cer_budget_pp=ctx.config.deploy.accuracy_budget_pp / 2,
            skip_first_last=spec.skip_first_last,
        )
        return scan, plan

    key = ("mixed_plan", *(getattr(spec, f) for f in PLAN_SETTINGS if f != "mixed_precision"))
    return ctx.memo(key, make)


@register_kind("mixed", MixedSpec)
def build_mixed(ctx: VariantContext, spec: MixedSpec, needed: dict) -> Built:
    """Per-layer bits from the sensitivity scan, applied with torchao's per-module config."""
    scan, plan = _mixed(ctx, spec)
    quantized = apply_ptq(ctx.fp32_model, plan)
    return _deploy(
        ctx, spec, quantized, ctx.fp32_model, plan, {"sensitivity": scan.to_dict(), "strategy": "mixed"}
    )
