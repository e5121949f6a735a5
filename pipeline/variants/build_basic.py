"""Builders of the variants that need no training: fp16/bf16 in PyTorch and the ONNX Runtime variants.

A builder turns the experiment's FP32 model into a deployable file and something `predict` can run,
and says which layers it left in float. Measuring is `pipeline.variants.measure`'s job.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pipeline.deploy.onnx_compact import compact_onnx
from pipeline.deploy.onnx_graph import describe_weights
from pipeline.deploy.ort_quantize import quantize_dynamic_int8, quantize_static_int8, quantize_weights_nbits
from pipeline.deploy.ort_session import OnnxRecognizer, make_session
from pipeline.models.layers import count_parameters, weight_layers
from pipeline.variants.context import VariantContext
from pipeline.variants.registry import register_kind
from pipeline.variants.specs import (
    HalfSpec,
    OrtFp32Spec,
    OrtInt4WeightSpec,
    OrtInt8DynamicSpec,
    OrtInt8StaticSpec,
    StaticInt8Settings,
    VariantSpec,
)


@dataclass
class Built:
    """A produced variant, ready to be measured.

    Attributes:
        recognizer: A torch module or an `OnnxRecognizer` that `pipeline.evaluation.predict.predict` accepts.
        artifact: The file a user would deploy.
        artifact_format: onnx, torch-fp16, torch-bf16 or torchao.
        backend: onnxruntime, torch or torchao.
        device: Where `recognizer` runs.
        params: Parameters of the model the artifact holds.
        nonzero_params: Its non-zero parameters.
        bits_per_weight: Theoretical bits per weight (weights + their scales), not a file size.
        float_layers: Weight layers left in float.
        extra: Variant-specific figures (parity, QAT and pruning details, ...).
    """

    recognizer: Any
    artifact: Path
    artifact_format: str
    backend: str
    device: torch.device
    params: int
    nonzero_params: int
    bits_per_weight: float
    float_layers: list[str]
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


class CastingRecognizer(nn.Module):
    """Runs a half-precision recognizer on float32 images and returns float32 logits."""

    def __init__(self, model: nn.Module, dtype: torch.dtype) -> None:
        super().__init__()
        self.model = model.to(dtype)
        self.dtype = dtype
        self.output_length = model.output_length
        self.width_multiple = model.width_multiple
        self.image_height = model.image_height
        self.head_kind = model.head_kind

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(images.to(self.dtype)).float()


def onnx_recognizer(path: Path, like: nn.Module, threads: int) -> OnnxRecognizer:
    """An ONNX Runtime session behind the recognizer call shape of `like` (same strides and height)."""
    return OnnxRecognizer(
        make_session(path, threads=threads),
        like.output_length,
        like.width_multiple,
        like.image_height,
        head_kind=like.head_kind,
    )


def onnx_built(
    ctx: VariantContext,
    path: Path,
    source: nn.Module,
    *,
    notes: list[str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Built:
    """Wrap an ONNX artifact made from `source` (the float model it was exported from)."""
    from pipeline.deploy.onnx_graph import count_zero_weights

    description = describe_weights(path)
    params, _ = count_parameters(source)
    return Built(
        recognizer=onnx_recognizer(path, source, ctx.config.deploy.latency_threads),
        artifact=path,
        artifact_format="onnx",
        backend="onnxruntime",
        device=torch.device("cpu"),
        params=params,
        nonzero_params=params - count_zero_weights(path),
        bits_per_weight=float(description["bits_per_weight"]),
        float_layers=list(description["float_layers"]),
        notes=list(notes or []),
        extra={"quantized_layers": description["quantized_layers"], **(extra or {})},
    )


@register_kind("fp16", HalfSpec)
@register_kind("bf16", HalfSpec)
def build_half(ctx: VariantContext, spec: HalfSpec, needed: dict) -> Built:
    """fp16 / bf16 weights and activations in PyTorch; the artifact is the half-precision state dict."""
    kind = spec.kind
    dtype = torch.float16 if kind == "fp16" else torch.bfloat16
    device = ctx.device
    model = CastingRecognizer(copy.deepcopy(ctx.fp32_model), dtype).to(device).eval()
    path = ctx.artifact_path(spec.name, ".pt")
    checkpoint = {
        "format": "ocrq-half-1",
        "dtype": kind,
        "model_config": ctx.fp32_model.config(),
        "charset": ctx.prepared.charset.to_dict(),
        "weights": model.model.state_dict(),
    }
    torch.save(checkpoint, path)
    params, nonzero = count_parameters(model.model)
    notes = [
        f"weights and activations in {kind} on {device.type}; the file is torch.save of the {kind} state dict"
    ]
    return Built(model, path, f"torch-{kind}", "torch", device, params, nonzero, 16.0, [], notes)


@register_kind("ort-fp32", OrtFp32Spec)
def build_ort_fp32(ctx: VariantContext, spec: OrtFp32Spec, needed: dict) -> Built:
    """The FP32 ONNX export (dynamic batch and width) in ONNX Runtime; the deployment baseline."""
    path = ctx.fp32_onnx()
    return onnx_built(
        ctx, path, ctx.fp32_model, notes=["FP32 ONNX, dynamic batch and width; the baseline of the ratios"]
    )


@register_kind("ort-int8-dynamic", OrtInt8DynamicSpec)
def build_ort_int8_dynamic(ctx: VariantContext, spec: OrtInt8DynamicSpec, needed: dict) -> Built:
    """ONNX Runtime dynamic int8: MatMul and LSTM weights int8, activations quantized at run time."""
    path = ctx.artifact_path(spec.name, ".onnx")
    per_channel = spec.quantization_granularity != "per_tensor"
    quantize_dynamic_int8(ctx.fp32_onnx(), path, per_channel=per_channel, exclude=_skipped(ctx, spec))
    compact_onnx(path)
    return onnx_built(
        ctx,
        path,
        ctx.fp32_model,
        notes=[
            "convs stay float: ONNX Runtime's dynamic ConvInteger is several times slower than its float conv "
            "(ort-int8-static quantizes them)"
        ],
    )


@register_kind("ort-int8-static", OrtInt8StaticSpec)
def build_ort_int8_static(ctx: VariantContext, spec: OrtInt8StaticSpec, needed: dict) -> Built:
    """ONNX Runtime static QDQ int8 with calibration; every weight layer int8 (LSTMs dynamic int8)."""
    path = ctx.artifact_path(spec.name, ".onnx")
    return static_int8_of(ctx, spec, ctx.fp32_onnx(), ctx.fp32_model, path)


def static_int8_of(
    ctx: VariantContext,
    spec: StaticInt8Settings,
    source: Path,
    model: nn.Module,
    path: Path,
    extra: dict[str, Any] | None = None,
    *,
    float_stem: bool = False,
    keep_float: list[str] | tuple[str, ...] = (),
) -> Built:
    """Static int8 of any named float ONNX export (the FP32 model, or a pruned one).

    `float_stem` keeps convs that read the one-channel image in float: with a single input channel the
    int8 conv is slower than the float one on CPUs without VNNI, and it holds a few hundred weights.
    `keep_float` names more weight layers to keep float (mixed precision's choice).
    """
    stem = (
        [layer.name for layer in weight_layers(model) if _reads_image(model, layer.name)]
        if float_stem
        else []
    )
    options = ctx.static_options(spec, exclude=_skipped(ctx, spec) + stem + list(keep_float))
    reader = ctx.calibration_reader(spec.calibration_batches)
    quantize_static_int8(source, path, reader, options)
    compact_onnx(path)
    notes = [
        f"calibration {options.calibration.description} on {reader.lines} lines; "
        f"{'per-channel' if options.per_channel else 'per-tensor'} int8 weights"
        f"{' (7-bit range: no VNNI on this CPU)' if options.resolved_reduce_range() else ''}, uint8 activations; "
        "LSTMs dynamic int8; attention products with uint8 inputs; softmax, norms and GELU float",
    ]
    if spec.skip_first_last:
        notes.append("skip_first_last kept the first and last weight layers in float")
    if stem:
        notes.append(
            f"{', '.join(stem)} (the one-channel image stem) kept float: faster than int8 at batch 1"
        )
    return onnx_built(ctx, path, model, notes=notes, extra=extra)


def _reads_image(model: nn.Module, name: str) -> bool:
    module = model.get_submodule(name)
    return isinstance(module, nn.Conv2d) and module.in_channels == 1


@register_kind("ort-int4-weight", OrtInt4WeightSpec)
def build_ort_int4_weight(ctx: VariantContext, spec: OrtInt4WeightSpec, needed: dict) -> Built:
    """ONNX Runtime MatMulNBits: 4-bit block-quantized MatMul weights (convs and LSTMs unchanged)."""
    q = spec
    path = ctx.artifact_path(spec.name, ".onnx")
    accuracy_level = 4 if q.activation_bits == 8 else 0
    quantize_weights_nbits(
        ctx.fp32_onnx(),
        path,
        bits=4,
        block_size=q.group_size,
        symmetric=q.symmetric_quantization,
        accuracy_level=accuracy_level,
        exclude=_skipped(ctx, spec),
    )
    compact_onnx(path)
    return onnx_built(
        ctx,
        path,
        ctx.fp32_model,
        notes=[
            f"MatMul weights 4-bit, blocks of {q.group_size}, {'symmetric' if q.symmetric_quantization else 'asymmetric'}; "
            f"{'int8 activations at run time (accuracy_level 4)' if accuracy_level else 'float compute'}; "
            "convs and LSTMs stay float (use ort-int8-static or ptq/qat for those)"
        ],
    )


def _skipped(ctx: VariantContext, spec: VariantSpec | StaticInt8Settings) -> list[str]:
    if not spec.skip_first_last:
        return []
    layers = weight_layers(ctx.fp32_model)
    return [layers[0].name, layers[-1].name] if layers else []
