"""Builders of `pruned` (FP32 ONNX) and `pruned-int8` (ONNX Runtime static int8): prune -> finetune with
distillation -> make masks permanent -> export (-> quantize). Both variants share one pruned model.

Accuracy-first mode searches the largest ratio whose validation CER rise (before finetuning) stays
within `min_acc_drop`, recording every probe. `pruning_epoch` > 0 prunes gradually: the ratio grows in
that many steps with one finetuning epoch after each, before the `finetune_epochs`.
"""

from __future__ import annotations

import copy
import shutil
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from pipeline.compress.distill import make_extra_loss
from pipeline.compress.pruning import (
    PruningSpec,
    apply_unstructured,
    gradient_importance,
    make_permanent,
    recalibrate_batchnorm,
    spec_from_config,
    weight_sparsity,
)
from pipeline.compress.shrink import structured_prune
from pipeline.deploy.onnx_compact import compact_onnx
from pipeline.models.heads import head_of
from pipeline.models.layers import count_parameters
from pipeline.variants.build_basic import Built, onnx_built, static_int8_of
from pipeline.variants.context import VariantContext
from pipeline.variants.finetune import finetune
from pipeline.variants.registry import register_kind
from pipeline.variants.specs import PRUNING_SETTINGS, PrunedInt8Spec, PrunedSpec, PruningSettings

SEARCH_STEPS = 6
PROBE_LINES = 256


@dataclass
class PrunedModel:
    model: nn.Module
    spec: PruningSpec
    report: dict[str, Any] = field(default_factory=dict)


def _grad_scores(ctx: VariantContext, model: nn.Module) -> dict[int, torch.Tensor]:
    def loss(module: nn.Module, batch) -> torch.Tensor:
        head = head_of(module)
        logits = module(batch.images)
        lengths = head.output_lengths(module, batch.widths, logits.shape[1])
        return head.loss(logits, batch.targets, batch.target_lengths, lengths)

    return gradient_importance(
        model,
        _calibration(ctx)[:4],
        loss,
    )


def prune_once(ctx: VariantContext, model: nn.Module, spec: PruningSpec) -> dict[str, Any]:
    """Apply `spec` to `model` in place (structured: channels removed; unstructured: masks attached)."""
    grads = _grad_scores(ctx, model) if spec.criterion == "grad" else None
    model.eval()
    if spec.structured:
        example = torch.zeros(1, 1, model.image_height, model.width_multiple * 32)
        report = structured_prune(model, spec, example, grads).to_dict()
        calibration = _calibration(ctx)
        report["batchnorms_recalibrated"] = recalibrate_batchnorm(model, calibration)
        model.eval()
        return report
    apply_unstructured(model, spec, grads)
    return {}


def _calibration(ctx: VariantContext) -> list:
    # the experiment's calibration lines score channels and re-estimate BatchNorm statistics
    return ctx.calibration_batches(ctx.config.quantization.calibration_batches)


def _val_cer(ctx: VariantContext, model: nn.Module) -> float:
    return ctx.predict(model, split="val", limit=PROBE_LINES, keep_logits=False).metrics().cer


def search_ratio(
    ctx: VariantContext, spec: PruningSpec, budget: float
) -> tuple[float, list[dict[str, float]]]:
    """Largest ratio whose validation CER rise (no finetuning) stays within `budget` (min_acc_drop), by bisection."""
    base = _val_cer(ctx, ctx.fp32_model)
    low, high = 0.0, 0.95
    probes = []
    for _ in range(SEARCH_STEPS):
        ratio = round((low + high) / 2, 4)
        model = copy.deepcopy(ctx.fp32_model)
        prune_once(ctx, model, spec.with_ratio(ratio))
        rise = _val_cer(ctx, model) - base
        accepted = rise <= budget
        probes.append({"ratio": ratio, "cer_rise": rise, "accepted": accepted})
        ctx.log(
            f"accuracy-first pruning: ratio {ratio:.3f} raises validation CER by {100 * rise:.2f} pp "
            f"({'within' if accepted else 'over'} min_acc_drop={budget})"
        )
        low, high = (ratio, high) if accepted else (low, ratio)
    return low, probes


def shared_pruned_model(ctx: VariantContext, variant: PruningSettings) -> tuple[PrunedModel, Any]:
    """The pruned and finetuned model and its float ONNX export, made once per set of pruning settings
    (`pruned` and `pruned-int8` with the same settings share one)."""
    key = ("pruned", *(getattr(variant, f) for f in PRUNING_SETTINGS))
    return ctx.memo(key, lambda: _prune_and_finetune(ctx, variant))


def _prune_and_finetune(ctx: VariantContext, variant: PruningSettings) -> tuple[PrunedModel, Any]:
    p = d = variant
    # the experiment's own pruned model is "pruned"; one a variant's settings ask for carries its name
    label = "pruned" if all(getattr(p, f) == ctx.config.get(f) for f in PRUNING_SETTINGS) else variant.name
    spec = spec_from_config(p)
    report: dict[str, Any] = {"strategy": spec.strategy, "criterion": spec.criterion}
    if p.accuracy_first:
        ratio, probes = search_ratio(ctx, spec, p.min_acc_drop)
        spec = spec.with_ratio(ratio)
        report.update(search_probes=probes, searched_ratio=ratio)
    report["ratios"] = dict(spec.ratios)
    model = copy.deepcopy(ctx.fp32_model)
    teacher = ctx.teacher() if d.enable_distillation else None
    extra = make_extra_loss(
        teacher, distillation_weight=d.distillation_weight, temperature=d.temperature_distillation
    )
    steps = max(1, p.pruning_epoch)
    history: list[dict] = []
    for step in range(1, steps + 1):
        previous, target = (step - 1) / steps, step / steps
        # each step removes a share of what is left, so the steps compound to the full ratio
        step_spec = PruningSpec(
            spec.strategy,
            {part: 1 - (1 - r * target) / (1 - r * previous) for part, r in spec.ratios.items()},
            spec.criterion,
            spec.global_ranking,
        )
        report.setdefault("steps", []).append(prune_once(ctx, model, step_spec))
        if steps > 1:
            model, stage = finetune(
                ctx,
                model,
                epochs=1,
                lr_multiplier=p.finetune_lr_multiplier,
                phase=f"prune-step{step}:{label}",
                extra_loss=extra,
            )
            history += stage
    if p.finetune_epochs > 0:
        model, stage = finetune(
            ctx,
            model,
            epochs=p.finetune_epochs,
            lr_multiplier=p.finetune_lr_multiplier,
            phase=f"finetune:{label}",
            extra_loss=extra,
        )
        history += stage
    model = model.cpu().eval()
    # structured masks are folded as soon as their channels are removed; unstructured ones after finetuning
    folded_structured = sum(len(step.get("removed", {})) for step in report.get("steps", []))
    report["masks_made_permanent"] = make_permanent(model) + folded_structured
    params_before, _ = count_parameters(ctx.fp32_model)
    params_after, nonzero = count_parameters(model)
    report.update(
        params_before=params_before,
        params_after=params_after,
        nonzero_params=nonzero,
        weight_sparsity=weight_sparsity(model),
        finetune_epochs=p.finetune_epochs,
        finetune_lr_multiplier=p.finetune_lr_multiplier,
        finetune_history=history,
    )
    pruned = PrunedModel(model=model, spec=spec, report=report)
    onnx_path = ctx.export_onnx(model, label)  # scratch file in variants/work
    ctx.log(
        f"pruned ({spec.strategy}, ratios {spec.ratios}): {params_before:,} -> {params_after:,} parameters, "
        f"{100 * report['weight_sparsity']:.1f}% zero weights"
    )
    return pruned, onnx_path


@register_kind("pruned", PrunedSpec)
def build_pruned(ctx: VariantContext, spec: PrunedSpec, needed: dict) -> Built:
    """Pruned + finetuned model as FP32 ONNX."""
    pruned, onnx_path = shared_pruned_model(ctx, spec)
    path = ctx.artifact_path(spec.name, ".onnx")
    shutil.copyfile(onnx_path, path)
    compact_onnx(path, half_side_tensors=False)
    return onnx_built(ctx, path, pruned.model, notes=[_describe(pruned)], extra={"pruning": pruned.report})


@register_kind("pruned-int8", PrunedInt8Spec)
def build_pruned_int8(ctx: VariantContext, spec: PrunedInt8Spec, needed: dict) -> Built:
    """Pruned + finetuned model, then ONNX Runtime static int8 (one variant: prune -> finetune -> quantize)."""
    pruned, onnx_path = shared_pruned_model(ctx, spec)
    path = ctx.artifact_path(spec.name, ".onnx")
    built = static_int8_of(
        ctx,
        spec,
        onnx_path,
        pruned.model,
        path,
        extra={"pruning": pruned.report},
        float_stem=True,
    )
    built.notes.insert(0, _describe(pruned))
    return built


def _describe(pruned: PrunedModel) -> str:
    r = pruned.report
    kind = "channels removed" if pruned.spec.structured else "weights zeroed (dense shapes)"
    return (
        f"{pruned.spec.strategy} ({pruned.spec.criterion}), ratios {pruned.spec.ratios}: {kind}; "
        f"{r['params_before']:,} -> {r['params_after']:,} params, finetuned {r['finetune_epochs']} epoch(s) with distillation"
    )
