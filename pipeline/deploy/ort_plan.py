"""Deploy a torchao-quantized recognizer through ONNX Runtime with the same integer weights.

Linear layers become `MatMulNBits` holding torchao's own integers, scales and zero points (4- or
8-bit; `accuracy_level=4` when the strategy quantizes activations dynamically to int8, as torchao
does); convs, which torchao leaves float, become static QDQ int8 (calibrated) or weight-only int8 for
weight-only strategies, or weight-only int4 when `conv_weight_bits=4` (smaller, float conv compute);
LSTMs become dynamic int8. The CER of this file against the torch model is the
"deployment gap" each torchao variant reports.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper

from pipeline.compress.ptq import LayerPlan
from pipeline.deploy.calibration import LineBatchReader
from pipeline.deploy.matmul_nbits import replace_matmul_with_nbits
from pipeline.deploy.onnx_compact import compact_onnx
from pipeline.deploy.ort_quantize import StaticInt8Options, quantize_lstm_dynamic, quantize_static_int8


@dataclass
class IntegerWeight:
    """A linear layer's quantized weight in torch layout: values (N, K), scales and zero points (N, K/group)."""

    values: np.ndarray
    scales: np.ndarray
    zero_points: np.ndarray | None
    group: int | None


def integer_weight(tensor: torch.Tensor, bits: int) -> IntegerWeight:
    """Read qdata/scale/zero_point of a torchao Int8Tensor or IntxUnpackedToInt8Tensor."""
    values = tensor.qdata.detach().cpu().to(torch.int32).numpy()
    n, k = values.shape
    scale = tensor.scale.detach().cpu().float().numpy().reshape(n if tensor.scale.numel() >= n else 1, -1)
    if scale.shape[0] == 1:  # per-tensor: one scale for every row
        scale = np.repeat(scale, n, axis=0)
    zero = getattr(tensor, "zero_point", None)
    zero_points = None
    if zero is not None:
        zero_np = (
            zero.detach()
            .cpu()
            .to(torch.int32)
            .numpy()
            .reshape(scale.shape[0] if zero.numel() >= n else 1, -1)
        )
        if zero_np.shape[0] == 1:
            zero_np = np.repeat(zero_np, n, axis=0)
        zero_points = zero_np if np.any(zero_np) else None
    blocks = scale.shape[1]
    group = k // blocks if blocks > 1 else None
    return IntegerWeight(values=values, scales=scale, zero_points=zero_points, group=group)


def _weight_only_convs(model: onnx.ModelProto, names: set[str], bits: int = 8) -> None:
    """Store the named float convs as per-channel symmetric int8 or int4 weights behind DequantizeLinear
    (float compute). int4 uses ONNX Runtime's `com.microsoft.DequantizeLinear`, which reads INT4 tensors
    at any opset (the standard op needs opset 21)."""
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    largest = (1 << (bits - 1)) - 1
    for node in list(graph.node):
        if node.op_type != "Conv" or node.name not in names or node.input[1] not in inits:
            continue
        weight = numpy_helper.to_array(inits[node.input[1]])
        scale = np.abs(weight).reshape(weight.shape[0], -1).max(axis=1) / largest
        scale = np.where(scale == 0, 1.0, scale).astype(np.float32)
        values = np.clip(
            np.round(weight / scale.reshape(-1, *[1] * (weight.ndim - 1))), -largest, largest
        ).astype(np.int8)
        prefix = f"{node.name}.w{bits}"
        if bits == 4:
            stored = helper.make_tensor(
                f"{prefix}.q", onnx.TensorProto.INT4, values.shape, values.flatten().tolist()
            )
        else:
            stored = numpy_helper.from_array(values, f"{prefix}.q")
        graph.initializer.extend([stored, numpy_helper.from_array(scale, f"{prefix}.scale")])
        graph.node.insert(
            list(graph.node).index(node),
            helper.make_node(
                "DequantizeLinear",
                [f"{prefix}.q", f"{prefix}.scale"],
                [f"{prefix}.w"],
                axis=0,
                domain="com.microsoft" if bits == 4 else "",
            ),
        )
        old = node.input[1]
        node.input[1] = f"{prefix}.w"
        if not any(old in other.input for other in graph.node):
            graph.initializer.remove(inits[old])
    if bits == 4:
        model.ir_version = max(model.ir_version, 10)  # INT4 tensors need IR version 10
        if not any(opset.domain == "com.microsoft" for opset in model.opset_import):
            model.opset_import.append(helper.make_opsetid("com.microsoft", 1))


@dataclass
class OrtPlanOptions:
    """How a torchao plan is carried into ONNX Runtime."""

    static: StaticInt8Options = field(default_factory=StaticInt8Options)
    activations_int8: bool = True  # convs get static int8 activations; False = weight-only int8 convs
    conv_weight_bits: int = 8  # 4 = weight-only int4 convs (float compute), whatever activations_int8 says
    float_layers: list[str] = field(default_factory=list)  # weight layers kept float (e.g. skip_first_last)


def deploy_torchao_plan(
    fp32_onnx: Path,
    quantized_model: torch.nn.Module,
    plan: LayerPlan,
    target: Path,
    reader: LineBatchReader | None,
    options: OrtPlanOptions,
) -> Path:
    """Write `target`: `fp32_onnx` (exported from the same float weights, nodes named by module) with
    torchao's linear weights as MatMulNBits, convs int8 (or weight-only int4), LSTMs dynamic int8. Returns
    `target`."""
    base = onnx.load(str(fp32_onnx))
    inits = {t.name for t in base.graph.initializer}
    activation_matmuls = [
        n.name for n in base.graph.node if n.op_type == "MatMul" and n.input[1] not in inits
    ]
    planned = list(plan.quantized)
    keep_float = set(options.float_layers)
    conv_names = {n.name for n in base.graph.node if n.op_type == "Conv"} - keep_float
    with tempfile.TemporaryDirectory(prefix="ocrq-plan-") as scratch:
        staged = Path(scratch) / "staged.onnx"
        if options.activations_int8 and options.conv_weight_bits == 8 and conv_names and reader is not None:
            exclude = sorted(
                set(planned)
                | keep_float
                | set(activation_matmuls)
                | {n.name for n in base.graph.node if n.op_type in ("MatMul", "Gemm")}
            )
            static = StaticInt8Options(
                per_channel=options.static.per_channel,
                reduce_range=options.static.reduce_range,
                symmetric_activations=options.static.symmetric_activations,
                calibration=options.static.calibration,
                exclude=exclude,
                quantize_lstm=not any(n.op_type == "LSTM" and n.name in keep_float for n in base.graph.node),
            )
            quantize_static_int8(fp32_onnx, staged, reader, static)
            model = onnx.load(str(staged))
        else:
            lstm_path = Path(scratch) / "lstm.onnx"
            source = (
                lstm_path
                if quantize_lstm_dynamic(fp32_onnx, lstm_path, exclude=sorted(keep_float))
                else fp32_onnx
            )
            model = onnx.load(str(source))
            _weight_only_convs(model, conv_names, options.conv_weight_bits)
    for name, scheme in plan.quantized.items():
        weight = integer_weight(quantized_model.get_submodule(name).weight, scheme.bits)
        replace_matmul_with_nbits(
            model,
            name,
            weight.values,
            weight.scales,
            weight.zero_points,
            bits=scheme.bits,
            group=weight.group,
            accuracy_level=4 if scheme.dynamic_activations else 0,
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(target))
    compact_onnx(target)
    return target
