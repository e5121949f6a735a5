"""Produce and measure the compression variants an experiment asks for, against the FP32 baseline.

Every variant is measured the same way: the shared test set (CER, EM, 1-NED), bytes on disk of the
file a user would deploy, latency at batch 1 and throughput at batch 16 for a 32x256 line with a stated
thread count, and fidelity of its outputs to FP32.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipeline.deploy.onnx_export import export_onnx, parity_report
from pipeline.deploy.ort_session import OnnxRecognizer, make_session
from pipeline.evaluate import Predictions, predict
from pipeline.events import ArtifactSaved, LogMessage, StageStarted, VariantEvaluated
from pipeline.measure import latency_summary, time_calls
from pipeline.metrics import output_fidelity

LATENCY_WIDTH = 256


def latency_inputs(image_height: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    one = torch.rand(1, 1, image_height, LATENCY_WIDTH, generator=generator) * 2 - 1
    sixteen = torch.rand(16, 1, image_height, LATENCY_WIDTH, generator=generator) * 2 - 1
    return one, sixteen


def measure_torch_latency(model: torch.nn.Module, data, deploy, device: torch.device) -> dict[str, Any]:
    """Batch-1 latency and batch-16 throughput of a torch module with `deploy.latency_threads` threads."""
    previous = torch.get_num_threads()
    torch.set_num_threads(deploy.latency_threads)
    try:
        one, sixteen = (t.to(device) for t in latency_inputs(model.image_height))
        with torch.inference_mode():
            b1 = time_calls(lambda: model(one), runs=deploy.latency_runs)
            b16 = time_calls(lambda: model(sixteen), runs=max(3, deploy.latency_runs // 4))
    finally:
        torch.set_num_threads(previous)
    return {**latency_summary(b1, b16), "latency_threads": deploy.latency_threads, "latency_input": f"1x{model.image_height}x{LATENCY_WIDTH}"}


def measure_onnx_latency(recognizer: OnnxRecognizer, deploy) -> dict[str, Any]:
    one, sixteen = (t.numpy() for t in latency_inputs(recognizer.image_height))
    b1 = time_calls(lambda: recognizer.run_numpy(one), runs=deploy.latency_runs)
    b16 = time_calls(lambda: recognizer.run_numpy(sixteen), runs=max(3, deploy.latency_runs // 4))
    return {**latency_summary(b1, b16), "latency_threads": deploy.latency_threads, "latency_input": f"1x{recognizer.image_height}x{LATENCY_WIDTH}"}


def fidelity(reference: Predictions, candidate: Predictions) -> dict[str, float]:
    """Output fidelity to FP32 over every frame of every test line."""
    ref = np.concatenate(reference.logits, axis=0)[None]
    test = np.concatenate(candidate.logits, axis=0)[None]
    return output_fidelity(ref, test)


def produce_variants(
    fp32_model: torch.nn.Module,
    prepared,
    fp32_row: dict[str, Any],
    fp32_test: Predictions,
    sink,
    workdir: Path,
    device: torch.device,
) -> dict[str, dict[str, Any]]:
    """Build, evaluate and record every variant in `config.deploy.variants` except `fp32`."""
    config = prepared.config
    names = [name for name in config.deploy.variants if name != "fp32"]
    rows: dict[str, dict[str, Any]] = {}
    sink(StageStarted(stage="compress", detail=", ".join(names), total=len(names)))
    onnx_path = workdir / "model.onnx"
    cpu_model = fp32_model.cpu().eval()
    if any(name.startswith("ort-") for name in names):
        size = export_onnx(cpu_model, onnx_path, opset=config.deploy.onnx_opset)
        sink(ArtifactSaved(artifact_kind="onnx", path=str(onnx_path), bytes=size, variant="ort-fp32"))
    reference_onnx: dict[str, Any] | None = None
    for name in names:
        builder = _BUILDERS.get(name)
        if builder is None:
            raise NotImplementedError(f"variant '{name}' cannot be produced by this build of ocrq")
        path = builder(onnx_path, workdir, config)
        if path != onnx_path:
            sink(ArtifactSaved(artifact_kind="onnx", path=str(path), bytes=path.stat().st_size, variant=name))
        recognizer = OnnxRecognizer(make_session(path, threads=config.deploy.latency_threads), cpu_model.output_length,
                                    cpu_model.width_multiple, cpu_model.image_height)
        test = predict(recognizer, prepared.data.test_batches(), prepared.charset, torch.device("cpu"),
                       decoding=config.train.decoding, beam_width=config.train.beam_width, keep_logits=True)
        metrics = test.metrics()
        row: dict[str, Any] = {
            **metrics.to_dict(),
            "size_bytes": path.stat().st_size,
            "backend": "onnxruntime",
            "artifact": str(path),
            "params": fp32_row["params"],
            **measure_onnx_latency(recognizer, config.deploy),
            "fidelity": fidelity(fp32_test, test),
        }
        if name == "ort-fp32":
            row["parity"] = parity_report(fp32_test.logits, test.logits)
            row["bits_per_weight"] = 32.0
            reference_onnx = row
        _compare(row, fp32_row, reference_onnx, config.deploy.accuracy_budget_pp, name, sink)
        rows[name] = row
        sink(VariantEvaluated(name=name, metrics=row))
    return rows


def _compare(row: dict[str, Any], fp32_row: dict[str, Any], reference: dict[str, Any] | None, budget_pp: float, name: str, sink) -> None:
    """Ratios against FP32 ONNX (the deployable baseline) and the accuracy guard."""
    base = reference or fp32_row
    row["compression_ratio"] = base["size_bytes"] / row["size_bytes"]
    row["speedup"] = base["latency_ms_p50"] / row["latency_ms_p50"]
    row["cer_delta_pp"] = 100 * (row["cer"] - fp32_row["cer"])
    row["accuracy_guard"] = "ok" if row["cer_delta_pp"] <= budget_pp else "exceeded"
    if row["accuracy_guard"] == "exceeded":
        sink(LogMessage(level="warning", message=f"{name}: CER rose {row['cer_delta_pp']:.2f} pp, over the "
                        f"{budget_pp} pp budget (accuracy_budget_pp); try more calibration_batches or a gentler setting"))


def _ort_fp32(onnx_path: Path, workdir: Path, config) -> Path:
    return onnx_path


def _ort_int8_dynamic(onnx_path: Path, workdir: Path, config) -> Path:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = workdir / "model_int8_dynamic.onnx"
    quantize_dynamic(str(onnx_path), str(out), weight_type=QuantType.QInt8,
                     per_channel=config.quantization.quantization_granularity == "per_channel")
    return out


_BUILDERS = {"ort-fp32": _ort_fp32, "ort-int8-dynamic": _ort_int8_dynamic}
