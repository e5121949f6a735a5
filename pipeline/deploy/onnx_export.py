"""Export a recognizer to ONNX with dynamic batch and width, and check it against torch."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch


def export_onnx(model: torch.nn.Module, path: Path, *, opset: int = 17, example_width: int | None = None) -> int:
    """Write `model` as ONNX (inputs `images` (B,1,H,W), outputs `logits` (B,T,C)). Returns bytes on disk."""
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
            output_names=["logits"],
            dynamic_axes={"images": {0: "batch", 3: "width"}, "logits": {0: "batch", 1: "frames"}},
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
