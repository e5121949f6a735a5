"""`ocrq run --mode evaluate`: measure every variant of an existing experiment again from the files in its
folder (nothing is trained or rebuilt), on the experiment's test set, and rewrite its reports.

Measured figures are replaced; every other figure of the last report (how the variant was built, QAT and
pruning details, keys a newer ocrq wrote) is kept, so a re-measurement never drops a field.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import torch

from pipeline.config.variant_specs import parse_variant
from pipeline.core.checkpoint import load_checkpoint
from pipeline.core.events import StageStarted, VariantEvaluated
from pipeline.core.result_row import VariantRow
from pipeline.evaluation.predict import predict
from pipeline.models.layers import weight_layers
from pipeline.variants.build_basic import Built
from pipeline.variants.catalog import build_order, resolve_specs
from pipeline.variants.context import VariantContext
from pipeline.variants.load import load_recognizer
from pipeline.variants.manifest import read_manifest, resolve_artifact
from pipeline.variants.measure import (
    adopt_onnx_reference,
    apply_accuracy_guard,
    compare,
    fidelity,
    fp32_torch_row,
    measure_built,
)
from pipeline.variants.produce import deployed_recovery, unlisted_onnx_reference
from pipeline.variants.specs import VariantSpec

# How a variant was built: handed to the measurement again, so the gaps it derives from them are redone.
BUILD_FIELDS = (
    "quantized_layers",
    "plan",
    "strategy",
    "torchao_cer",
    "fake_quant_cer",
    "ptq_torchao_cer",
    "ptq_variant",
    "ptq_recovery",
    "pruning",
    "sensitivity",
    "qat_epochs",
    "stages",
    "distillation",
)
# Figures that only a measurement makes: a stale one is never carried over.
MEASURED_FIELDS = frozenset(
    {
        "guard_message",
        "speedup_best",
        "throughput_ratio_b16",
        "paired_baseline",
        "cpu_latency",
        "peak_memory_bytes",
        "model_memory_bytes",
        "deploy_gap_pp",
        "torchao_gap_pp",
        "ptq_recovery_deployed",
        "parity",
        "build_seconds",
    }
)


def remeasure_experiment(
    experiment_dir: Path, prepared, sink, device: torch.device, *, measure_memory: bool = True
) -> dict[str, VariantRow]:
    """Re-measure FP32 and every variant in the experiment's deploy manifest; returns name -> row."""
    from pipeline.models import create_model
    from pipeline.reports.write import write_reports

    experiment_dir = Path(experiment_dir)
    config = prepared.config
    manifest = read_manifest(experiment_dir)
    if not manifest:
        raise FileNotFoundError(
            f"{experiment_dir} has no deploy manifest: produce variants first (--mode both or compress)"
        )
    report_path = experiment_dir / "quantization_report.json"
    previous = (
        json.loads(report_path.read_text(encoding="utf-8"))["variants"] if report_path.is_file() else {}
    )
    checkpoint = load_checkpoint(experiment_dir / "model_fp32.pt")
    fp32_model = create_model(**checkpoint["model_config"]).eval()
    fp32_model.load_state_dict(checkpoint["weights"])
    specs = _specs_of(config, manifest, previous)
    sink(
        StageStarted(stage="evaluate", detail=f"re-measuring {len(specs) + 1} variants", total=len(specs) + 1)
    )
    train = config.train
    test = predict(
        fp32_model.to(device),
        prepared.data.test_batches(),
        prepared.charset,
        device,
        decoding=train.decoding,
        beam_width=train.beam_width,
        keep_logits=True,
    )
    fp32_row = fp32_torch_row(
        test, fp32_model.to(device), experiment_dir / "model_fp32.pt", config.deploy, device
    )
    fp32_model = fp32_model.cpu().eval()
    fp32_row.float_layers = [layer.name for layer in weight_layers(fp32_model)]
    params = fp32_row.params
    ctx = VariantContext(
        config=config,
        prepared=prepared,
        fp32_model=fp32_model,
        fp32_row=fp32_row,
        workdir=experiment_dir,
        device=device,
        sink=sink,
        fp32_test=test,
    )
    rows: dict[str, VariantRow] = {}
    budget = config.deploy.accuracy_budget_pp
    reference = None
    if "ort-fp32" not in {
        spec.kind for spec in specs
    }:  # the ratios' baseline, as the run that built them had
        reference = unlisted_onnx_reference(ctx)
    for planned in build_order(specs):
        spec = planned.spec
        entry = manifest[spec.name]
        old = VariantRow.from_dict(previous.get(spec.name, {}))
        recognizer = load_recognizer(experiment_dir, spec.name, threads=config.deploy.latency_threads)
        built = Built(
            recognizer=recognizer,
            artifact=resolve_artifact(experiment_dir, entry["artifact"]),
            artifact_format=entry["format"],
            backend=entry["backend"],
            device=torch.device("cpu"),
            params=old.params if old.params is not None else params,
            nonzero_params=old.nonzero_params if old.nonzero_params is not None else params,
            bits_per_weight=old.bits_per_weight if old.bits_per_weight is not None else 32.0,
            float_layers=list(old.float_layers or []),
            notes=list(old.notes or []),
            extra={k: old.get(k) for k in BUILD_FIELDS if old.get(k) is not None},
        )
        row, variant_test = measure_built(ctx, spec, built, reference, memory=measure_memory)
        keep_unmeasured(row, old)
        if spec.kind == "ort-fp32":
            adopt_onnx_reference(row, test, variant_test)
            reference = row
            ctx.reference_recognizer = recognizer
            compare(row, fp32_row, reference, budget)
        apply_accuracy_guard(spec.name, spec.kind, row, budget, sink)
        ptq_name = planned.needed.get("ptq")
        if ptq_name is not None and ptq_name in rows:
            deployed_recovery(row, rows[ptq_name], fp32_row)
        rows[spec.name] = row
        sink(VariantEvaluated(name=spec.name, metrics=row.to_dict()))
    fp32_row.fidelity = fidelity(test, test)
    compare(fp32_row, fp32_row, reference, budget)
    sink(VariantEvaluated(name="fp32", metrics=fp32_row.to_dict()))
    write_reports(experiment_dir, {"fp32": fp32_row, **rows}, config, sink)
    return {"fp32": fp32_row, **rows}


def _specs_of(config, manifest: dict, previous: dict) -> list[VariantSpec]:
    """The specs of the manifest's variants: from the config where it lists them, else from the stored row."""
    listed = {spec.name: spec for spec in resolve_specs(config)}
    specs = []
    for name in manifest:
        if name == "fp32":
            continue
        if name in listed:
            specs.append(listed[name])
            continue
        kind = previous.get(name, {}).get("kind") or parse_variant(name).kind
        specs.append(VariantSpec(name, kind))
    return specs


def keep_unmeasured(row: VariantRow, old: VariantRow) -> None:
    """Fill what this measurement does not produce from the last report (never a measured figure)."""
    for f in dataclasses.fields(row):
        if f.name in MEASURED_FIELDS or f.name == "extra":
            continue
        if getattr(row, f.name) is None and getattr(old, f.name) is not None:
            setattr(row, f.name, getattr(old, f.name))
    for key, value in old.extra.items():
        row.extra.setdefault(key, value)
