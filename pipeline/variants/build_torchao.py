"""Builders of the torchao variants: `ptq[:strategy]`, `qat[:strategy]` and `mixed`.

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


def _strategy(name: str) -> str | None:
    return name.partition(":")[2] or None


def _plan(ctx: VariantContext, name: str) -> LayerPlan:
    q = ctx.config.quantization
    scheme = scheme_from_config(q, _strategy(name))
    per_layer = None
    if q.mixed_precision and not _strategy(name):
        per_layer = shared_mixed_plan(ctx).schemes
    return plan_linear_layers(ctx.fp32_model, scheme, skip_first_last=q.skip_first_last, per_layer=per_layer)


def _deploy(
    ctx: VariantContext,
    name: str,
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
        path = ctx.artifact_path(name, ".pt")
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
    fp32_onnx = ctx.export_onnx(float_model, name) if source is not None else ctx.fp32_onnx()
    strategy_quantizes_activations = any(s.dynamic_activations for s in plan.quantized.values())
    options = OrtPlanOptions(
        static=ctx.static_options(),
        activations_int8=strategy_quantizes_activations,
        conv_weight_bits=ctx.config.quantization.conv_weight_bits,
        float_layers=sorted({n for n, s in plan.schemes.items() if s is None} | plan.skipped),
    )
    path = ctx.artifact_path(name, ".onnx")
    deploy_torchao_plan(fp32_onnx, quantized, plan, path, ctx.calibration_reader(), options)
    if options.conv_weight_bits == 4:
        convs = "weight-only int4 (per channel, float compute)"
    else:
        convs = "static int8" if strategy_quantizes_activations else "weight-only int8"
    notes.append(
        f"deployed in ONNX Runtime with torchao's integers (MatMulNBits); convs {convs}, LSTMs dynamic int8"
    )
    return onnx_built(ctx, path, float_model, notes=notes, extra=extra)


def build_ptq(ctx: VariantContext, name: str) -> Built:
    """torchao post-training quantization of the FP32 model."""
    plan = _plan(ctx, name)
    quantized = apply_ptq(ctx.fp32_model, plan)
    built = _deploy(
        ctx,
        name,
        quantized,
        ctx.fp32_model,
        plan,
        {"strategy": _strategy(name) or ctx.config.quantization.quantization_strategy},
    )
    ctx.cache.setdefault("ptq_cer", {})[built.extra["strategy"]] = built.extra["torchao_cer"]
    return built


def build_qat(ctx: VariantContext, name: str) -> Built:
    """torchao QAT (prepare -> train with distillation -> convert), deployed like PTQ."""
    q, d = ctx.config.quantization, ctx.config.distillation
    plan = _plan(ctx, name)
    strategy = _strategy(name) or q.quantization_strategy
    phase = f"qat:{name}"

    def fit_stage(model, index, epochs, extra_loss):
        return finetune(
            ctx,
            model,
            epochs=epochs,
            lr_multiplier=q.qat_learning_rate_multiplier,
            phase=phase if index == 0 else f"{phase}:stage{index + 1}",
            extra_loss=extra_loss,
        )

    epochs = q.qat_epochs if q.quantization_aware_training else 0
    result = run_qat(
        ctx.fp32_model,
        plan,
        fit_stage=fit_stage,
        qat_epochs=epochs,
        progressive_stages=list(q.progressive_stages),
        teacher=ctx.teacher() if d.enable_distillation else None,
        distillation_weight=d.distillation_weight,
        temperature=d.temperature_distillation,
        quantization_loss_weight=q.quantization_loss_weight,
    )
    fake_quant = (
        ctx.predict(result.fake_quant_model.cpu(), torch.device("cpu"), keep_logits=False).metrics().cer
    )
    ptq_cer = ctx.cache.get("ptq_cer", {}).get(strategy)
    if ptq_cer is None:
        ptq_cer = (
            ctx.predict(apply_ptq(ctx.fp32_model, plan), torch.device("cpu"), keep_logits=False).metrics().cer
        )
    extra = {
        "strategy": strategy,
        "qat_epochs": epochs,
        "stages": [stage.describe() for stage in result.stages],
        "fake_quant_cer": fake_quant,
        "ptq_torchao_cer": ptq_cer,
        "distillation": {"weight": d.distillation_weight, "temperature": d.temperature_distillation}
        if d.enable_distillation
        else None,
    }
    built = _deploy(ctx, name, result.quantized_model.cpu(), result.float_model.cpu(), plan, extra)
    fp32_cer = ctx.fp32_row["cer"]
    increase = ptq_cer - fp32_cer
    # share of the PTQ CER increase that QAT won back, both measured on the torchao models in torch
    built.extra["ptq_recovery"] = (ptq_cer - built.extra["torchao_cer"]) / increase if increase > 0 else None
    if not q.quantization_aware_training:
        built.notes.append(
            "quantization_aware_training=false: converted without training (PTQ of the same plan)"
        )
    return built


def shared_mixed_plan(ctx: VariantContext) -> LayerPlan:
    """The sensitivity scan and the bits it chose per layer (computed once per experiment)."""
    if "mixed_plan" not in ctx.cache:
        q = ctx.config.quantization
        scheme = scheme_from_config(q)
        scan = sensitivity_scan(ctx, scheme)
        ctx.cache["sensitivity"] = scan
        ctx.cache["mixed_plan"] = mixed_plan(
            ctx.fp32_model,
            scan,
            scheme,
            cer_budget_pp=ctx.config.deploy.accuracy_budget_pp / 2,
            skip_first_last=q.skip_first_last,
        )
    return ctx.cache["mixed_plan"]


def build_mixed(ctx: VariantContext, name: str) -> Built:
    """Per-layer bits from the sensitivity scan, applied with torchao's per-module config."""
    plan = shared_mixed_plan(ctx)
    quantized = apply_ptq(ctx.fp32_model, plan)
    scan = ctx.cache["sensitivity"]
    return _deploy(
        ctx, name, quantized, ctx.fp32_model, plan, {"sensitivity": scan.to_dict(), "strategy": "mixed"}
    )


BUILDERS = {"ptq": build_ptq, "qat": build_qat, "mixed": build_mixed}
