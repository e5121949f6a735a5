"""Per-layer sensitivity and mixed precision: quantize one linear layer at a time to low bits, measure the
CER change (and the KL of the output distributions, which still moves when CER does not) on validation
lines, then choose bits per layer under a CER or size budget. The plan is applied with torchao's
per-module config (`FqnToConfig`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from torch import nn

from pipeline.compress.ptq import LayerPlan, apply_ptq
from pipeline.compress.schemes import WeightScheme
from pipeline.evaluation.metrics import output_fidelity
from pipeline.models.layers import first_and_last, weight_layers

SCAN_LINES = 256


@dataclass
class LayerSensitivity:
    name: str
    part: str
    params: int
    in_features: int
    cer_delta_pp: float  # CER rise when only this layer is low-bit, percentage points
    kl: float  # mean per-frame KL(FP32 || quantized) of the outputs


@dataclass
class SensitivityScan:
    """The scan's results, FP32 CER on the scan lines, and the low-bit scheme it probed."""

    layers: list[LayerSensitivity]
    fp32_cer: float
    lines: int
    scheme: WeightScheme
    chosen: dict[str, int] = field(default_factory=dict)  # filled by mixed_plan

    def to_dict(self) -> dict[str, object]:
        return {
            "scheme": self.scheme.label(),
            "lines": self.lines,
            "fp32_cer": self.fp32_cer,
            "layers": [vars(layer) | {"bits": self.chosen.get(layer.name)} for layer in self.layers],
        }


def sensitivity_scan(ctx, scheme: WeightScheme, *, lines: int = SCAN_LINES) -> SensitivityScan:
    """Quantize each linear layer alone to `scheme` at 4 bits and measure the damage on validation lines.

    `ctx` is a VariantContext (its FP32 model, validation data and predict helper).
    """
    import numpy as np

    low = replace(
        scheme, bits=4, granularity="per_group" if scheme.granularity == "per_tensor" else scheme.granularity
    )
    model = ctx.fp32_model
    reference = ctx.predict(model, split="val", limit=lines, keep_logits=True)
    fp32_cer = reference.metrics().cer
    ref_logits = np.concatenate(reference.logits)[None]
    results = []
    for layer in weight_layers(model):
        if layer.kind != "linear":
            continue
        plan = LayerPlan(schemes={layer.name: low}, layers=weight_layers(model))
        probe = ctx.predict(apply_ptq(model, plan), split="val", limit=lines, keep_logits=True)
        kl = output_fidelity(ref_logits, np.concatenate(probe.logits)[None])["kl"]
        results.append(
            LayerSensitivity(
                layer.name,
                layer.part,
                layer.params,
                layer.in_features,
                100 * (probe.metrics().cer - fp32_cer),
                kl,
            )
        )
        ctx.log(
            f"sensitivity {layer.name}: CER {results[-1].cer_delta_pp:+.2f} pp, KL {kl:.4f} at {low.label()}"
        )
    return SensitivityScan(layers=results, fp32_cer=fp32_cer, lines=reference.metrics().samples, scheme=low)


def mixed_plan(
    model: nn.Module,
    scan: SensitivityScan,
    scheme: WeightScheme,
    *,
    cer_budget_pp: float | None = None,
    size_budget_bits: float | None = None,
    skip_first_last: bool = False,
) -> LayerPlan:
    """Choose 4 or 8 bits per linear layer from a scan.

    Layers are taken least sensitive first (CER rise, then KL, per weight saved). Under a CER budget a
    layer goes to 4 bits while the summed single-layer CER rises stay within `cer_budget_pp`; under a
    size budget, layers go to 4 bits until the average bits per linear weight is at most `size_budget_bits`.
    The rest stay 8-bit (per-channel unless the scheme is per-group).
    """
    if (cer_budget_pp is None) == (size_budget_bits is None):
        raise ValueError("mixed precision needs exactly one budget: cer_budget_pp or size_budget_bits")
    high = replace(
        scheme,
        bits=8,
        granularity="per_channel" if scheme.granularity == "per_tensor" else scheme.granularity,
    )
    low = scan.scheme
    layers = weight_layers(model)
    skipped = first_and_last(layers) if skip_first_last else set()
    candidates = [s for s in scan.layers if s.name not in skipped]
    ranked = sorted(candidates, key=lambda s: (max(s.cer_delta_pp, 0.0) / s.params, s.kl / s.params))
    bits = {s.name: 8 for s in candidates}
    total = sum(s.params for s in candidates) or 1
    spent = 0.0
    for layer in ranked:
        if cer_budget_pp is not None:
            if spent + max(layer.cer_delta_pp, 0.0) > cer_budget_pp:
                continue
            spent += max(layer.cer_delta_pp, 0.0)
            bits[layer.name] = 4
        else:
            current = sum(bits[s.name] * s.params for s in candidates) / total
            if current <= size_budget_bits:
                break
            bits[layer.name] = 4
    scan.chosen = dict(bits)
    schemes: dict[str, WeightScheme | None] = {name: (low if b == 4 else high) for name, b in bits.items()}
    for name in skipped:
        schemes[name] = None
    budget = (
        f"CER budget {cer_budget_pp} pp"
        if cer_budget_pp is not None
        else f"size budget {size_budget_bits} bits/weight"
    )
    notes = [
        f"mixed precision under a {budget}: {sum(b == 4 for b in bits.values())} layers 4-bit, "
        f"{sum(b == 8 for b in bits.values())} layers 8-bit"
    ]
    return LayerPlan(schemes=schemes, layers=layers, notes=notes, skipped=set(skipped))
