"""Reject compression settings that cannot work, before any work starts, with one line naming the field,
the value and what is allowed. Field-level ranges and choices (bits 3, group size 48, ratio 1.2) are
already refused by the config; this checks combinations against the backends that would run them.
"""

from __future__ import annotations

from pipeline.compress.schemes import STRATEGIES, WeightScheme, qat_fake_quant_configs, scheme_from_config

BACKEND_ACTIVATION_BITS = {"onnxruntime": (8, 32), "torchao": (8, 32)}


def _check_scheme(config, strategy: str | None, *, for_qat: bool) -> WeightScheme:
    scheme = scheme_from_config(config.quantization, strategy)
    if for_qat:
        qat_fake_quant_configs(scheme, scheme.group_size)
    return scheme


def check_compression_plan(config) -> list[str]:
    """Raise ValueError for an impossible combination; return notes about settings that will be ignored.

    Args:
        config: An ExperimentConfig.
    """
    q, p, deploy = config.quantization, config.pruning, config.deploy
    notes: list[str] = []
    backend = deploy.backend
    allowed_activation_bits = BACKEND_ACTIVATION_BITS.get(backend, (8, 32))
    if q.activation_bits not in allowed_activation_bits:
        raise ValueError(
            f"activation_bits={q.activation_bits} is not supported by backend={backend} (no int4 activation kernels); "
            f"allowed {' or '.join(map(str, allowed_activation_bits))} (32 = float activations)"
        )
    if q.weight_bits not in (4, 8):
        raise ValueError(f"weight_bits={q.weight_bits} is not supported; allowed 4 or 8")
    for name in deploy.variants:
        kind, _, strategy = name.partition(":")
        if strategy and strategy not in STRATEGIES:
            raise ValueError(f"variants: {name!r} names an unknown strategy; allowed {', '.join(STRATEGIES)}")
        if kind in ("ptq", "qat", "mixed"):
            try:
                _check_scheme(
                    config, strategy or None, for_qat=kind == "qat" and q.quantization_aware_training
                )
            except ValueError as error:
                raise ValueError(f"variant {name}: {error}") from None
        if kind in ("pruned", "pruned-int8") and not p.enable_pruning:
            raise ValueError(
                f"variants lists {name} but enable_pruning=False; allowed enable_pruning=True or drop {name}"
            )
        if kind in ("ort-int8-static", "pruned-int8") and q.quantization_granularity == "per_group":
            notes.append(f"{name}: ONNX Runtime int8 has no per-group weights; it uses per-channel scales")
    if p.enable_pruning:
        ratios = [p.pruning_ratio, p.backbone_pruning_ratio, p.neck_pruning_ratio, p.decoder_pruning_ratio]
        for ratio in ratios:
            if ratio is not None and not 0.0 <= ratio < 1.0:
                raise ValueError(f"pruning ratio {ratio} is out of range; allowed 0 <= ratio < 1")
        if p.pruning_strategy == "random_unstructured" and p.prune_criteria != "l1":
            notes.append(
                f"prune_criteria={p.prune_criteria} is ignored by pruning_strategy=random_unstructured"
            )
    if q.progressive_stages and not any(v.startswith("qat") for v in deploy.variants):
        notes.append("progressive_stages only affects qat variants, and none is listed")
    if q.mixed_precision and not any(v.partition(":")[0] in ("ptq", "qat", "mixed") for v in deploy.variants):
        notes.append("mixed_precision only affects ptq, qat and mixed variants, and none is listed")
    return notes
