"""Export a recognizer to ONNX with dynamic batch and width, and check it against torch."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch


def export_onnx(
    model: torch.nn.Module, path: Path, *, opset: int = 17, example_width: int | None = None
) -> int:
    """Write `model` as ONNX (input `images` (B,1,H,W), output named by its head, `logits` (B,T,C) for CTC).
    Returns bytes on disk."""
    from pipeline.models.heads import head_of

    head = head_of(model)
    model = model.eval().cpu()
    width = example_width or model.width_multiple * 32
    example = torch.zeros(2, 1, model.image_height, width)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about Python-side shape values are expected here
        torch.onnx.export(
            model,
            (example,),
            str(path),
            input_names=["images"],
            output_names=[head.onnx_output],
            dynamic_axes={"images": {0: "batch", 3: "width"}, head.onnx_output: head.onnx_dynamic_axes()},
            opset_version=opset,
            dynamo=False,
        )
    return path.stat().st_size


def parity_report(torch_logits: list[np.ndarray], onnx_logits: list[np.ndarray]) -> dict[str, float]:
    """Largest and mean absolute difference between two sets of per-line logits."""
    diffs = [np.abs(a - b) for a, b in zip(torch_logits, onnx_logits, strict=True)]
    return {
        "max_abs_diff": float(max(d.max() for d in diffs)) if diffs else 0.0,
        "mean_abs_diff": float(np.mean([d.mean() for d in diffs])) if diffs else 0.0,
    }


def export_named_onnx(model: torch.nn.Module, path: Path, *, opset: int = 17) -> list[str]:
    """Export like `export_onnx`, then name every conv/linear/LSTM node after its torch module so later
    quantization steps and reports can refer to layers by name. Returns layers no node matched."""
    import onnx

    from pipeline.deploy.onnx_graph import name_weight_nodes
    from pipeline.models.layers import weight_layers

    export_onnx(model, path, opset=opset)
    optimize_for_inference(path)
    layers = weight_layers(model)
    weights = {
        layer.name: model.get_submodule(layer.name).weight.detach().cpu().numpy()
        for layer in layers
        if layer.kind == "linear"
    }
    graph = onnx.load(str(path))
    unmatched = name_weight_nodes(graph, layers, weights)
    onnx.save(graph, str(path))
    return unmatched


def parity_summary(
    torch_logits: list[np.ndarray],
    onnx_logits: list[np.ndarray],
    torch_cer: float,
    onnx_cer: float,
    torch_texts: list[str],
    onnx_texts: list[str],
) -> dict[str, float | bool | int]:
    """Parity of an ONNX export with its torch model on the test set: logit differences, CER, text agreement."""
    report: dict[str, float | bool | int] = dict(parity_report(torch_logits, onnx_logits))
    report["torch_cer"] = torch_cer
    report["onnx_cer"] = onnx_cer
    report["identical_cer"] = torch_cer == onnx_cer
    report["differing_lines"] = sum(a != b for a, b in zip(torch_texts, onnx_texts, strict=True))
    return report


def optimize_for_inference(path: Path) -> None:
    """ONNX Runtime's recommended pre-processing (basic graph optimizations: constants folded, Identity
    nodes removed) in place; ONNX Runtime would do the same at load, so numbers do not change."""
    import logging

    from onnxruntime.quantization.shape_inference import quant_pre_process

    tmp = path.with_name(path.stem + ".pre.onnx")
    logger = logging.getLogger()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        quant_pre_process(str(path), str(tmp), skip_symbolic_shape=True)
    finally:
        logger.setLevel(level)
    tmp.replace(path)
