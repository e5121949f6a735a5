"""Produce, measure and record the compression variants an experiment asks for, against the FP32 baseline;
find and load any variant of an experiment folder again.

Every variant is measured the same way (`pipeline.variants.measure`): the shared test set (CER, EM, 1-NED),
bytes on disk of the file a user would deploy, theoretical bits per weight (labelled as such), latency
at batch 1 and throughput at batch 16 for a 32x256 line with a stated thread count, peak memory of a
process that loads only that file, and fidelity of its outputs to FP32. Ratios are against FP32 ONNX.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from pipeline.compress.plan_check import check_compression_plan
from pipeline.core.events import LogMessage, StageStarted, VariantEvaluated
from pipeline.deploy.onnx_anatomy import size_anatomy
from pipeline.evaluation.predict import Predictions
from pipeline.variants.build_basic import BUILDERS as BASIC_BUILDERS
from pipeline.variants.build_basic import Built
from pipeline.variants.context import VariantContext
from pipeline.variants.manifest import read_manifest, record_variant
from pipeline.variants.measure import (
    adopt_onnx_reference,
    apply_accuracy_guard,
    compare,
    fidelity,
    measure_onnx_latency,
    paired_latency,
    peak_memory,
)
from pipeline.variants.measure import measure_torch_latency as _measure_torch_latency

__all__ = [
    "check_compression_plan",
    "deployable_artifact",
    "load_recognizer",
    "measure_torch_latency",
    "produce_variants",
    "remeasure_experiment",
]


def remeasure_experiment(
    experiment_dir: Path, prepared, sink, device: torch.device, **kwargs
) -> dict[str, dict[str, Any]]:
    """Measure FP32 and every variant of an existing experiment again from its files (`--mode evaluate`)."""
    from pipeline.variants.remeasure import remeasure_experiment as remeasure

    return remeasure(experiment_dir, prepared, sink, device, **kwargs)


def measure_torch_latency(
    model: torch.nn.Module, data, deploy_config, device: torch.device
) -> dict[str, Any]:
    """Batch-1 latency and batch-16 throughput of a torch module (`data` is unused; kept for the runner)."""
    del data
    return _measure_torch_latency(model, deploy_config, device)


def _builder(name: str):
    from pipeline.variants.build_pruned import BUILDERS as PRUNE_BUILDERS
    from pipeline.variants.build_torchao import BUILDERS as AO_BUILDERS

    kind = name.partition(":")[0]
    builders = {**BASIC_BUILDERS, **AO_BUILDERS, **PRUNE_BUILDERS}
    if kind not in builders:
        raise ValueError(
            f"variant {name!r} is not known; allowed {', '.join(builders)} (ptq/qat take :STRATEGY)"
        )
    return builders[kind]


def _order(names: list[str]) -> list[str]:
    """ort-fp32 first (the ratios' baseline), then PTQ before QAT (QAT reports how much of PTQ's loss it won back)."""
    rank = {"ort-fp32": 0, "ptq": 2, "qat": 3}
    return sorted(names, key=lambda n: (rank.get(n.partition(":")[0], 1), names.index(n)))


def measure_built(
    ctx: VariantContext, name: str, built: Built, reference: dict[str, Any] | None, *, memory: bool = True
) -> tuple[dict[str, Any], Predictions]:
    """Evaluate and time a built variant; returns its row of the comparison table and its test predictions."""
    deploy = ctx.config.deploy
    test = ctx.predict(built.recognizer, built.device, keep_logits=True)
    metrics = test.metrics()
    row: dict[str, Any] = {
        **metrics.to_dict(),
        "size_bytes": built.artifact.stat().st_size,
        "size_source": f"bytes on disk of {built.artifact.name} ({built.artifact_format})",
        "bits_per_weight": built.bits_per_weight,
        "bits_per_weight_kind": "theoretical: weight bits + scales, per weight",
        "params": built.params,
        "nonzero_params": built.nonzero_params,
        "backend": built.backend,
        "artifact": str(built.artifact),
        "artifact_format": built.artifact_format,
        "float_layers": built.float_layers,
        "notes": built.notes,
        **built.extra,
    }
    if built.artifact_format == "onnx":
        row["size_anatomy"] = size_anatomy(built.artifact)
    reference_recognizer = ctx.cache.get("reference_recognizer")
    if reference_recognizer is not None and name != "ort-fp32" and built.device.type == "cpu":
        # alternated with the FP32 ONNX baseline, so speed-ups stay fair on a shared machine
        row.update(paired_latency(built.recognizer, reference_recognizer, deploy, built.device))
    elif built.artifact_format == "onnx":
        row.update(measure_onnx_latency(built.recognizer, deploy))
    else:
        row.update(_measure_torch_latency(built.recognizer, deploy, built.device))
    if built.artifact_format != "onnx" and built.device.type == "cuda":
        cpu = _cpu_copy(built.recognizer)  # the CPU figures too, labelled apart
        if cpu is not None:
            cpu_figures = _measure_torch_latency(cpu, deploy, torch.device("cpu"))
            keys = ("latency_ms_p50", "latency_ms_p95", "throughput_lines_per_s_b16")
            row["cpu_latency"] = {k: cpu_figures[k] for k in keys}
    row["fidelity"] = fidelity(ctx.fp32_reference(), test)
    if "fake_quant_cer" in row:
        row["deploy_gap_pp"] = 100 * (row["cer"] - row["fake_quant_cer"])
    if "torchao_cer" in row:
        row["torchao_gap_pp"] = 100 * (row["cer"] - row["torchao_cer"])
    if memory:
        probe = peak_memory(
            ctx.workdir,
            name,
            threads=deploy.latency_threads,
            artifact=built.artifact,
            image_height=ctx.fp32_model.image_height,
        )
        if probe:
            row["peak_memory_bytes"] = probe["peak_rss_bytes"]
            row["model_memory_bytes"] = probe["model_bytes"]
    compare(row, ctx.fp32_row, reference, deploy.accuracy_budget_pp)
    return row, test


def _cpu_copy(module) -> torch.nn.Module | None:
    import copy

    try:
        return copy.deepcopy(module).cpu().eval()
    except (RuntimeError, NotImplementedError):
        return None


def produce_variants(
    fp32_model: torch.nn.Module,
    prepared,
    fp32_row: dict[str, Any],
    fp32_test: Predictions,
    sink,
    workdir: Path,
    device: torch.device,
    *,
    measure_memory: bool = True,
) -> dict[str, dict[str, Any]]:
    """Build, evaluate and record every variant in `config.deploy.variants` except `fp32`.

    Impossible settings are rejected (ValueError) before any work. Also writes `quantization_report.json`,
    `comparison.md` and the figures, records them as artifacts, and updates the FP32 row with its
    ratios against FP32 ONNX. Returns variant name -> metrics row.
    """
    config = prepared.config
    for note in check_compression_plan(config):
        sink(LogMessage(level="warning", message=note))
    workdir = Path(workdir)
    names = _order([name for name in config.deploy.variants if name != "fp32"])
    sink(StageStarted(stage="compress", detail=", ".join(names), total=len(names)))
    cpu_model = fp32_model.cpu().eval()
    ctx = VariantContext(
        config=config,
        prepared=prepared,
        fp32_model=cpu_model,
        fp32_row=fp32_row,
        workdir=workdir,
        device=device,
        sink=sink,
    )
    if fp32_test.logits:
        ctx.cache["fp32_test"] = fp32_test
    record_variant(workdir, "fp32", workdir / "model_fp32.pt", "torch-fp32", "torch")
    rows: dict[str, dict[str, Any]] = {}
    reference: dict[str, Any] | None = None
    if "ort-fp32" not in names:  # ratios are always against FP32 ONNX, measured even when not listed
        baseline = _builder("ort-fp32")(ctx, "ort-fp32")
        reference, _ = measure_built(ctx, "ort-fp32", baseline, None, memory=False)
        ctx.cache["reference_recognizer"] = baseline.recognizer
    for name in names:
        started = time.monotonic()
        sink(StageStarted(stage=f"variant:{name}", detail=name, total=None))
        built = _builder(name)(ctx, name)
        if built.artifact_format == "onnx" or built.artifact.suffix == ".pt":
            ctx.saved(built.artifact, "onnx" if built.artifact.suffix == ".onnx" else "model", name)
        record_variant(workdir, name, built.artifact, built.artifact_format, built.backend)
        row, test = measure_built(ctx, name, built, reference, memory=measure_memory)
        if name == "ort-fp32":
            adopt_onnx_reference(row, ctx.fp32_reference(), test)
            reference = row
            ctx.cache["reference_recognizer"] = built.recognizer
            compare(row, fp32_row, reference, config.deploy.accuracy_budget_pp)
        row["build_seconds"] = time.monotonic() - started
        apply_accuracy_guard(name, row, config.deploy.accuracy_budget_pp, sink)
        rows[name] = row
        sink(VariantEvaluated(name=name, metrics=row))
    _finish_fp32_row(ctx, fp32_row, reference)
    sink(VariantEvaluated(name="fp32", metrics=fp32_row))
    qat_recovery(rows, fp32_row)
    from pipeline.reports.write import write_reports

    write_reports(workdir, {"fp32": fp32_row, **rows}, config, sink, sensitivity=ctx.cache.get("sensitivity"))
    return rows


def _finish_fp32_row(ctx: VariantContext, fp32_row: dict[str, Any], reference: dict[str, Any] | None) -> None:
    """Give the FP32 torch row the same columns as the variants (ratios against FP32 ONNX, fidelity 1:1)."""
    from pipeline.models.layers import count_parameters, weight_layers

    fp32_row.setdefault("artifact", str(ctx.workdir / "model_fp32.pt"))
    fp32_row.setdefault("artifact_format", "torch-fp32")
    fp32_row["size_source"] = (
        "bytes on disk of model_fp32.pt (torch.save of the FP32 state dict with its config)"
    )
    fp32_row["float_layers"] = [layer.name for layer in weight_layers(ctx.fp32_model)]
    fp32_row.setdefault("notes", ["the trained FP32 model in PyTorch"])
    fp32_row["nonzero_params"] = count_parameters(ctx.fp32_model)[1]
    fp32_row["fidelity"] = fidelity(ctx.fp32_reference(), ctx.fp32_reference())
    compare(fp32_row, fp32_row, reference, ctx.config.deploy.accuracy_budget_pp)


def qat_recovery(rows: dict[str, dict[str, Any]], fp32_row: dict[str, Any]) -> None:
    """For each QAT row with a deployed PTQ row of the same strategy, the share of PTQ's CER rise QAT won back."""
    ptq_by_strategy = {row.get("strategy"): row for name, row in rows.items() if name.startswith("ptq")}
    for name, row in rows.items():
        ptq = ptq_by_strategy.get(row.get("strategy")) if name.startswith("qat") else None
        if ptq is None:
            continue
        increase = ptq["cer"] - fp32_row["cer"]
        row["ptq_recovery_deployed"] = (ptq["cer"] - row["cer"]) / increase if increase > 0 else None


def deployable_artifact(experiment_dir: Path, variant: str) -> Path:
    """The file a user deploys for `variant` of an experiment folder (from its deploy manifest).

    Raises:
        FileNotFoundError: when the experiment has no such variant or its file is gone.
    """
    experiment_dir = Path(experiment_dir)
    manifest = read_manifest(experiment_dir)
    if variant == "fp32" and "fp32" not in manifest:
        path = experiment_dir / "model_fp32.pt"
    elif variant in manifest:
        path = Path(manifest[variant]["artifact"])
        path = path if path.is_absolute() else experiment_dir / path
    else:
        known = ", ".join(sorted(manifest)) or "fp32"
        raise FileNotFoundError(
            f"experiment {experiment_dir.name} has no variant {variant!r}; it has {known}"
        )
    if not path.is_file():
        raise FileNotFoundError(f"the file of variant {variant!r} ({path}) is missing")
    return path


def load_recognizer(experiment_dir: Path, variant: str, *, threads: int = 1) -> object:
    """A torch module or `OnnxRecognizer` for any variant, built only from files in the experiment folder."""
    from pipeline.core.checkpoint import load_checkpoint
    from pipeline.models import create_model
    from pipeline.variants.build_basic import CastingRecognizer, onnx_recognizer

    experiment_dir = Path(experiment_dir)
    artifact = deployable_artifact(experiment_dir, variant)
    checkpoint = load_checkpoint(experiment_dir / "model_fp32.pt")
    model = create_model(**checkpoint["model_config"]).eval()
    if artifact.suffix == ".onnx":
        return onnx_recognizer(artifact, model, threads)
    fmt = read_manifest(experiment_dir).get(variant, {}).get("format", "torch-fp32")
    if fmt == "torchao":
        from pipeline.compress.ptq import load_torchao_model

        return load_torchao_model(artifact)
    payload = load_checkpoint(artifact)
    if fmt in ("torch-fp16", "torch-bf16"):
        dtype = torch.float16 if fmt == "torch-fp16" else torch.bfloat16
        wrapped = CastingRecognizer(model, dtype)
        wrapped.model.load_state_dict(payload["weights"])
        return wrapped.eval()
    model.load_state_dict(payload["weights"])
    return model
