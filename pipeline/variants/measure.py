"""Measuring a variant the same way as every other: the shared test set (CER, EM, 1-NED), bytes on disk of
its deployable file, latency at batch 1 and throughput at batch 16 on a 32x256 line with a stated thread
count (and on CUDA for torch variants when present), peak memory of a process that loads only the
artifact, and fidelity of its outputs to FP32.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipeline.config.variant_specs import VARIANT_KINDS
from pipeline.core.events import LogMessage
from pipeline.core.result_row import VariantRow
from pipeline.deploy.ort_session import OnnxRecognizer
from pipeline.evaluation.metrics import output_fidelity
from pipeline.evaluation.predict import Predictions
from pipeline.evaluation.timing import latency_summary, time_calls
from pipeline.variants.specs import VariantSpec

LATENCY_WIDTH = 256


def latency_inputs(image_height: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed batch of 1 and of 16 random 32x256 lines (seeded, so every variant sees the same input)."""
    generator = torch.Generator().manual_seed(0)
    one = torch.rand(1, 1, image_height, LATENCY_WIDTH, generator=generator) * 2 - 1
    sixteen = torch.rand(16, 1, image_height, LATENCY_WIDTH, generator=generator) * 2 - 1
    return one, sixteen


def measure_torch_latency(model: torch.nn.Module, deploy, device: torch.device) -> dict[str, Any]:
    """Batch-1 latency and batch-16 throughput of a torch module with `deploy.latency_threads` CPU threads;
    on a CUDA device the figures are CUDA's (synchronised) and labelled so."""
    previous = torch.get_num_threads()
    torch.set_num_threads(deploy.latency_threads)
    try:
        one, sixteen = (t.to(device) for t in latency_inputs(model.image_height))
        sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

        def call(x: torch.Tensor):
            out = model(x)
            sync()
            return out

        with torch.inference_mode():
            b1 = time_calls(lambda: call(one), runs=deploy.latency_runs)
            b16 = time_calls(lambda: call(sixteen), runs=max(3, deploy.latency_runs // 4))
    finally:
        torch.set_num_threads(previous)
    return {
        **latency_summary(b1, b16),
        "latency_threads": deploy.latency_threads,
        "latency_device": device.type,
        "latency_input": f"1x{model.image_height}x{LATENCY_WIDTH}",
    }


def measure_onnx_latency(recognizer: OnnxRecognizer, deploy) -> dict[str, Any]:
    """Batch-1 latency and batch-16 throughput of an ONNX Runtime session (CPU, its fixed thread count)."""
    one, sixteen = (t.numpy() for t in latency_inputs(recognizer.image_height))
    b1 = time_calls(lambda: recognizer.run_numpy(one), runs=deploy.latency_runs)
    b16 = time_calls(lambda: recognizer.run_numpy(sixteen), runs=max(3, deploy.latency_runs // 4))
    return {
        **latency_summary(b1, b16),
        "latency_threads": deploy.latency_threads,
        "latency_device": "cpu",
        "latency_input": f"1x{recognizer.image_height}x{LATENCY_WIDTH}",
    }


def _callables(recognizer, device: torch.device) -> tuple[Callable[[], Any], Callable[[], Any]]:
    """(batch-1 call, batch-16 call) of a torch module or an ONNX Runtime recognizer on the latency inputs."""
    one, sixteen = latency_inputs(recognizer.image_height)
    if isinstance(recognizer, OnnxRecognizer):
        one_np, sixteen_np = one.numpy(), sixteen.numpy()
        return (lambda: recognizer.run_numpy(one_np)), (lambda: recognizer.run_numpy(sixteen_np))
    one, sixteen = one.to(device), sixteen.to(device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def run(x: torch.Tensor) -> Any:
        with torch.inference_mode():
            out = recognizer(x)
        sync()
        return out

    return (lambda: run(one)), (lambda: run(sixteen))


PAIRED_BLOCK = 5  # calls per turn; the first of each turn warms the caches and is not counted


def paired_latency(recognizer, reference: OnnxRecognizer, deploy, device: torch.device) -> dict[str, Any]:
    """Latency of a variant timed in turns with the FP32 ONNX baseline.

    On a shared machine the load drifts between one variant's measurement and the next; taking turns
    (a few calls of one, then a few of the other) exposes both to the same load, so the speed-up (ratio
    of the two medians) stays fair. Each turn's first call is dropped, so neither model is timed with
    caches the other one just filled. The variant's own p50/p95/throughput come from the same runs.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(deploy.latency_threads)
    try:
        variant_b1, variant_b16 = _callables(recognizer, device)
        base_b1, base_b16 = _callables(reference, torch.device("cpu"))
        timings: dict[str, list[float]] = {"v1": [], "b1": [], "v16": [], "b16": []}
        gc.collect()  # once: each turn below is a few calls, and a collection per turn would cost more
        for key, (variant_call, base_call), runs in (
            ("1", (variant_b1, base_b1), deploy.latency_runs),
            ("16", (variant_b16, base_b16), max(3, deploy.latency_runs // 4)),
        ):
            per_turn = PAIRED_BLOCK - 1 if key == "1" else 1
            while len(timings["v" + key]) < runs:
                timings["v" + key] += time_calls(variant_call, runs=per_turn, warmup=1, collect=False)
                timings["b" + key] += time_calls(base_call, runs=per_turn, warmup=1, collect=False)
    finally:
        torch.set_num_threads(previous)
    own = latency_summary(timings["v1"], timings["v16"])
    base = latency_summary(timings["b1"], timings["b16"])
    return {
        **own,
        "latency_threads": deploy.latency_threads,
        "latency_device": device.type,
        "latency_input": f"1x{reference.image_height}x{LATENCY_WIDTH}",
        "paired_baseline": {
            k: base[k]
            for k in ("latency_ms_p50", "latency_ms_p95", "latency_ms_min", "throughput_lines_per_s_b16")
        },
    }


def fidelity(reference: Predictions, candidate: Predictions) -> dict[str, float]:
    """Output fidelity to FP32 over every frame of every test line."""
    ref = np.concatenate(reference.logits, axis=0)[None]
    test = np.concatenate(candidate.logits, axis=0)[None]
    return output_fidelity(ref, test)


def peak_memory(
    experiment_dir: Path,
    variant: str,
    *,
    threads: int,
    artifact: Path | None = None,
    height: int = 32,
    width: int = 256,
    channels: int = 1,
    input_name: str = "images",
    timeout: float = 300.0,
) -> dict[str, int] | None:
    """Peak resident memory of a fresh process that loads only the variant's deployable file and reads one
    batch of 16 lines of `channels` x `height` x `width` fed as `input_name` (an imported model's own
    input; `pipeline.variants.memory_probe`). None when the probe fails."""
    command = [
        sys.executable,
        "-m",
        "pipeline.variants.memory_probe",
        "--threads",
        str(threads),
        "--height",
        str(height),
        "--width",
        str(width),
        "--channels",
        str(channels),
        "--input-name",
        input_name,
    ]
    if artifact is not None and artifact.suffix == ".onnx":
        command += ["--onnx", str(Path(artifact).resolve())]
    else:
        command += ["--experiment", str(experiment_dir), "--variant", variant]
    root = Path(__file__).resolve().parent.parent
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=root, check=False)
    except subprocess.TimeoutExpired:
        return None
    if done.returncode != 0:
        return None
    try:
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        return None


def compare(row: VariantRow, fp32_row: VariantRow, reference: VariantRow | None, budget_pp: float) -> None:
    """Ratios against FP32 ONNX (the deployable baseline; FP32 torch when there is none) and the guard."""
    base = reference or fp32_row
    row.ratio_baseline = "ort-fp32" if reference else "fp32"
    row.compression_ratio = base.size_bytes / row.size_bytes if row.size_bytes else None
    paired = row.paired_baseline  # speed-ups from alternated timings when there are some
    p50 = paired["latency_ms_p50"] if paired else base.latency_ms_p50
    fastest = paired.get("latency_ms_min") if paired else base.latency_ms_min
    throughput = paired.get("throughput_lines_per_s_b16") if paired else base.throughput_lines_per_s_b16
    row.speedup = p50 / row.latency_ms_p50 if row.latency_ms_p50 else None
    if fastest and row.latency_ms_min:
        row.speedup_best = fastest / row.latency_ms_min  # fastest calls, for noisy machines
    if throughput and row.throughput_lines_per_s_b16:
        row.throughput_ratio_b16 = row.throughput_lines_per_s_b16 / throughput
    row.cer_delta_pp = 100 * (row.cer - fp32_row.cer)
    row.accuracy_guard = "ok" if row.cer_delta_pp <= budget_pp else "exceeded"


def adopt_onnx_reference(row: VariantRow, torch_test: Predictions, onnx_test: Predictions) -> None:
    """Make the ort-fp32 row the deployable reference: its parity with torch, 32 bits a weight."""
    from pipeline.deploy.onnx_export import parity_summary

    row.parity = parity_summary(
        torch_test.logits,
        onnx_test.logits,
        torch_test.metrics().cer,
        row.cer,
        torch_test.predictions,
        onnx_test.predictions,
    )
    row.bits_per_weight = 32.0


def apply_accuracy_guard(name: str, kind: str, row: VariantRow, budget_pp: float, sink: Callable) -> None:
    """Attach the guard's message to a row over the CER budget and warn the sink."""
    if row.accuracy_guard == "exceeded":
        row.guard_message = guard_message(name, kind, row, budget_pp)
        sink(LogMessage(level="warning", message=row.guard_message))


def guard_message(name: str, kind: str, row: VariantRow, budget_pp: float) -> str:
    """The warning for a variant over the CER budget, naming the setting to change."""
    advice = VARIANT_KINDS[kind].guard_advice if kind in VARIANT_KINDS else "choose a gentler setting"
    return (
        f"{name}: CER rose {row.cer_delta_pp:.2f} pp ({100 * row.cer:.2f}% vs FP32), over the {budget_pp} pp "
        f"budget (accuracy_budget_pp); to fix: {advice}"
    )


def measure_built(
    ctx, spec: VariantSpec, built, reference: VariantRow | None, *, memory: bool = True
) -> tuple[VariantRow, Predictions]:
    """Evaluate and time a built variant (`Built`); returns its row of the comparison and its test predictions."""
    from pipeline.deploy.onnx_anatomy import size_anatomy

    deploy = ctx.config.deploy
    test = ctx.predict(built.recognizer, built.device, keep_logits=True)
    row = VariantRow(**_metric_fields(test.metrics().to_dict()))
    row.kind = spec.kind
    row.spec = spec.settings() or None
    row.update(
        {
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
    )
    if built.artifact_format == "onnx":
        row.size_anatomy = size_anatomy(built.artifact)
    if ctx.reference_recognizer is not None and spec.kind != "ort-fp32" and built.device.type == "cpu":
        # alternated with the FP32 ONNX baseline, so speed-ups stay fair on a shared machine
        row.update(paired_latency(built.recognizer, ctx.reference_recognizer, deploy, built.device))
    elif built.artifact_format == "onnx":
        row.update(measure_onnx_latency(built.recognizer, deploy))
    else:
        row.update(measure_torch_latency(built.recognizer, deploy, built.device))
    if built.artifact_format != "onnx" and built.device.type == "cuda":
        cpu = _cpu_copy(built.recognizer)  # the CPU figures too, labelled apart
        if cpu is not None:
            cpu_figures = measure_torch_latency(cpu, deploy, torch.device("cpu"))
            keys = ("latency_ms_p50", "latency_ms_p95", "throughput_lines_per_s_b16")
            row.cpu_latency = {k: cpu_figures[k] for k in keys}
    row.fidelity = fidelity(ctx.fp32_reference(), test)
    if row.fake_quant_cer is not None:
        row.deploy_gap_pp = 100 * (row.cer - row.fake_quant_cer)
    if row.torchao_cer is not None:
        row.torchao_gap_pp = 100 * (row.cer - row.torchao_cer)
    if memory:
        probe = peak_memory(
            ctx.workdir,
            spec.name,
            threads=deploy.latency_threads,
            artifact=built.artifact,
            **ctx.memory_input(),
        )
        if probe:
            row.peak_memory_bytes = probe["peak_rss_bytes"]
            row.model_memory_bytes = probe["model_bytes"]
    compare(row, ctx.fp32_row, reference, deploy.accuracy_budget_pp)
    return row, test


def _metric_fields(metrics: dict[str, Any]) -> dict[str, Any]:
    return {
        k: metrics[k]
        for k in ("cer", "em", "ned", "samples", "label_chars", "pred_chars", "edits", "buckets")
    }


def _cpu_copy(module) -> torch.nn.Module | None:
    import copy

    try:
        return copy.deepcopy(module).cpu().eval()
    except (RuntimeError, NotImplementedError):
        return None


def fp32_torch_row(
    test: Predictions, model: torch.nn.Module, artifact: Path, deploy, device: torch.device
) -> VariantRow:
    """The FP32 PyTorch model's row: its test figures, the checkpoint's bytes on disk, parameters and latency.

    `produce_variants` (or a re-measurement) later adds the ratios against FP32 ONNX and fidelity 1:1.
    """
    metrics = test.metrics()
    row = VariantRow(**_metric_fields(metrics.to_dict()))
    row.update(
        {
            "kind": "fp32",
            "size_bytes": Path(artifact).stat().st_size,
            "artifact": str(artifact),
            "artifact_format": "torch-fp32",
            "params": sum(p.numel() for p in model.parameters()),
            "nonzero_params": int(sum((p != 0).sum() for p in model.parameters())),
            "bits_per_weight": 32.0,
            "backend": "torch",
            "device": str(device),
            **measure_torch_latency(model, deploy, device),
        }
    )
    return row
