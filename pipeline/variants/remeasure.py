"""`ocrq run --mode evaluate`: measure every variant of an existing experiment again from the files in its
folder (nothing is trained or rebuilt), on the experiment's test set, and rewrite its reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from pipeline.core.checkpoint import load_checkpoint
from pipeline.core.events import StageStarted, VariantEvaluated
from pipeline.evaluation.predict import predict
from pipeline.models.layers import count_parameters, weight_layers
from pipeline.variants.build_basic import Built
from pipeline.variants.context import VariantContext
from pipeline.variants.manifest import read_manifest
from pipeline.variants.measure import (
    adopt_onnx_reference,
    apply_accuracy_guard,
    compare,
    fidelity,
    measure_torch_latency,
)

# Row fields that describe how a variant was built; a re-measurement keeps them from the last report.
KEPT_FIELDS = (
    "float_layers",
    "notes",
    "bits_per_weight",
    "params",
    "nonzero_params",
    "quantized_layers",
    "plan",
    "strategy",
    "torchao_cer",
    "fake_quant_cer",
    "ptq_torchao_cer",
    "ptq_recovery",
    "pruning",
    "sensitivity",
    "qat_epochs",
    "stages",
    "distillation",
)


def remeasure_experiment(
    experiment_dir: Path, prepared, sink, device: torch.device, *, measure_memory: bool = True
) -> dict[str, dict[str, Any]]:
    """Re-measure FP32 and every variant in the experiment's deploy manifest; returns name -> row."""
    from pipeline.models import create_model
    from pipeline.reports.write import write_reports
    from pipeline.variants.produce import load_recognizer, measure_built, qat_recovery

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
    names = [n for n in manifest if n != "fp32"]
    sink(
        StageStarted(stage="evaluate", detail=f"re-measuring {len(names) + 1} variants", total=len(names) + 1)
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
    fp32_model = fp32_model.cpu()
    params, nonzero = count_parameters(fp32_model)
    fp32_row: dict[str, Any] = {
        **test.metrics().to_dict(),
        "size_bytes": (experiment_dir / "model_fp32.pt").stat().st_size,
        "params": params,
        "nonzero_params": nonzero,
        "bits_per_weight": 32.0,
        "backend": "torch",
        "device": str(device),
        "artifact": str(experiment_dir / "model_fp32.pt"),
        "artifact_format": "torch-fp32",
        "float_layers": [layer.name for layer in weight_layers(fp32_model)],
        **measure_torch_latency(fp32_model.to(device), config.deploy, device),
    }
    fp32_model = fp32_model.cpu().eval()
    ctx = VariantContext(
        config=config,
        prepared=prepared,
        fp32_model=fp32_model,
        fp32_row=fp32_row,
        workdir=experiment_dir,
        device=device,
        sink=sink,
        cache={"fp32_test": test},
    )
    order = sorted(names, key=lambda n: n != "ort-fp32")
    rows: dict[str, dict[str, Any]] = {}
    reference = None
    for name in order:
        entry = manifest[name]
        old = previous.get(name, {})
        artifact = (
            experiment_dir / entry["artifact"]
            if not Path(entry["artifact"]).is_absolute()
            else Path(entry["artifact"])
        )
        recognizer = load_recognizer(experiment_dir, name, threads=config.deploy.latency_threads)
        built = Built(
            recognizer=recognizer,
            artifact=artifact,
            artifact_format=entry["format"],
            backend=entry["backend"],
            device=torch.device("cpu"),
            params=old.get("params", params),
            nonzero_params=old.get("nonzero_params", params),
            bits_per_weight=old.get("bits_per_weight", 32.0),
            float_layers=old.get("float_layers", []),
            notes=list(old.get("notes", [])),
            extra={
                k: old[k]
                for k in KEPT_FIELDS
                if k in old
                and k not in ("float_layers", "notes", "bits_per_weight", "params", "nonzero_params")
            },
        )
        row, variant_test = measure_built(ctx, name, built, reference, memory=measure_memory)
        if name == "ort-fp32":
            adopt_onnx_reference(row, test, variant_test)
            reference = row
            ctx.cache["reference_recognizer"] = recognizer
            compare(row, fp32_row, reference, config.deploy.accuracy_budget_pp)
        apply_accuracy_guard(name, row, config.deploy.accuracy_budget_pp, sink)
        rows[name] = row
        sink(VariantEvaluated(name=name, metrics=row))
    fp32_row["fidelity"] = fidelity(test, test)
    compare(fp32_row, fp32_row, reference, config.deploy.accuracy_budget_pp)
    sink(VariantEvaluated(name="fp32", metrics=fp32_row))
    qat_recovery(rows, fp32_row)
    write_reports(experiment_dir, {"fp32": fp32_row, **rows}, config, sink)
    return {"fp32": fp32_row, **rows}
