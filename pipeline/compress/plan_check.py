"""Reject compression settings that cannot work, before any work starts, with one line naming the field,
the value and what is allowed. Field-level ranges and choices (bits 3, group size 48, ratio 1.2) are
already refused by the config; this checks combinations against the backends that would run them.
"""

from __future__ import annotations

from pipeline.compress.schemes import STRATEGIES, qat_fake_quant_configs, scheme_from_config

BACKEND_ACTIVATION_BITS = {"onnxruntime": (8, 32), "torchao": (8, 32)}


def check_compression_plan(config, specs) -> list[str]:
    """Raise ValueError for an impossible combination; return notes about settings that will be ignored.

    Args:
        config: An ExperimentConfig.
        specs: Its resolved variant specs (`pipeline.variants.registry.resolve_specs`).
    """
    q, p, deploy = config.quantization, config.pruning, config.deploy
    notes: list[str] = []
    backend = deploy.backend
    allowed_activation_bits = BACKEND_ACTIVATION_BITS.get(backend, (8, 32))
    for source in (q, *specs):
        bits = getattr(source, "activation_bits", None)
        if bits is not None and bits not in allowed_activation_bits:
            raise ValueError(
                f"activation_bits={bits} is not supported by backend={backend} (no int4 activation kernels); "
                f"allowed {' or '.join(map(str, allowed_activation_bits))} (32 = float activations)"
            )
    if q.weight_bits not in (4, 8):
        raise ValueError(f"weight_bits={q.weight_bits} is not supported; allowed 4 or 8")
    for spec in specs:
        name, kind = spec.name, spec.kind
        if kind in ("ptq", "qat", "mixed"):
            if spec.quantization_strategy not in STRATEGIES:
                raise ValueError(
                    f"variants: {name!r} names an unknown strategy; allowed {', '.join(STRATEGIES)}"
                )
            try:
                scheme = scheme_from_config(spec)
                if kind == "qat" and spec.quantization_aware_training:
                    qat_fake_quant_configs(scheme, scheme.group_size)
            except ValueError as error:
                raise ValueError(f"variant {name}: {error}") from None
        if kind in ("pruned", "pruned-int8") and not p.enable_pruning:
            raise ValueError(
                f"variants lists {name} but enable_pruning=False; allowed enable_pruning=True or drop {name}"
            )
        if kind in ("ort-int8-static", "pruned-int8") and spec.quantization_granularity == "per_group":
            notes.append(f"{name}: ONNX Runtime int8 has no per-group weights; it uses per-channel scales")
        if kind in ("pruned", "pruned-int8"):
            ratios = [spec.pruning_ratio, spec.backbone_pruning_ratio, spec.neck_pruning_ratio]
            for ratio in [*ratios, spec.decoder_pruning_ratio]:
                if ratio is not None and not 0.0 <= ratio < 1.0:
                    raise ValueError(
                        f"variant {name}: pruning ratio {ratio} is out of range; allowed 0 <= ratio < 1"
                    )
            if spec.pruning_strategy == "random_unstructured" and spec.prune_criteria != "l1":
                notes.append(
                    f"{name}: prune_criteria={spec.prune_criteria} is ignored by pruning_strategy=random_unstructured"
                )
    kinds = {spec.kind for spec in specs}
    if q.progressive_stages and "qat" not in kinds:
        notes.append("progressive_stages only affects qat variants, and none is listed")
    if q.mixed_precision and not kinds & {"ptq", "qat", "mixed"}:
        notes.append("mixed_precision only affects ptq, qat and mixed variants, and none is listed")
    return notes
