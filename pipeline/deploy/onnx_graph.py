"""Reading an ONNX recognizer: which node is which torch layer, which weights are quantized and how.

Right after export every conv, linear and LSTM node is renamed to its torch module name
(`backbone.layers.0`), so quantizers, reports and the `float_layers` list all speak the user's names.
Linear layers are matched by value (the exporter transposes weights into new initializers), convs and
LSTMs by order (batch norm is folded into conv weights, so their values change).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from pipeline.models.layers import WeightLayer

WEIGHT_OPS = {
    "Conv": "conv",
    "ConvInteger": "conv",
    "QLinearConv": "conv",
    "MatMul": "linear",
    "Gemm": "linear",
    "MatMulInteger": "linear",
    "QLinearMatMul": "linear",
    "MatMulNBits": "linear",
    "DynamicQuantizeMatMul": "linear",
    "MatMulIntegerToFloat": "linear",
    "LSTM": "lstm",
    "DynamicQuantizeLSTM": "lstm",
}
# Suffixes ONNX Runtime's quantizers append to the node they replace.
_SUFFIXES = ("_quant", "_Q4", "_Q8", "_MatMulNBits", "_inner")
_INT_TYPES = {
    onnx.TensorProto.INT8: 8,
    onnx.TensorProto.UINT8: 8,
    onnx.TensorProto.INT4: 4,
    onnx.TensorProto.UINT4: 4,
    onnx.TensorProto.INT16: 16,
    onnx.TensorProto.UINT16: 16,
}


def _initializers(model: onnx.ModelProto) -> dict[str, onnx.TensorProto]:
    return {t.name: t for t in model.graph.initializer}


def name_weight_nodes(
    model: onnx.ModelProto, layers: list[WeightLayer], weights: dict[str, np.ndarray]
) -> list[str]:
    """Rename conv/linear/LSTM nodes of a freshly exported float model to their torch module names.

    Args:
        model: The exported model (changed in place).
        layers: `weight_layers(torch_model)`.
        weights: module name -> float weight of each linear layer (as exported, (out, in)).

    Returns:
        Module names that no node could be matched to (empty for ocrq's models).
    """
    inits = _initializers(model)
    by_kind: dict[str, list[WeightLayer]] = {"conv": [], "lstm": []}
    for layer in layers:
        if layer.kind in by_kind:
            by_kind[layer.kind].append(layer)
    conv_nodes = [n for n in model.graph.node if n.op_type == "Conv" and n.input[1] in inits]
    lstm_nodes = [n for n in model.graph.node if n.op_type == "LSTM"]
    matched: set[str] = set()
    for kind, nodes in (("conv", conv_nodes), ("lstm", lstm_nodes)):
        if len(nodes) == len(by_kind[kind]):
            for node, layer in zip(nodes, by_kind[kind], strict=True):
                node.name = layer.name
                matched.add(layer.name)
    linear_by_shape: dict[tuple[int, ...], list[tuple[str, np.ndarray]]] = {}
    for layer in layers:
        if layer.kind == "linear" and layer.name in weights:
            weight = weights[layer.name]
            linear_by_shape.setdefault(weight.shape, []).append((layer.name, weight))
    for node in model.graph.node:
        if node.op_type not in ("MatMul", "Gemm") or len(node.input) < 2 or node.input[1] not in inits:
            continue
        value = numpy_helper.to_array(inits[node.input[1]])
        if value.ndim != 2:
            continue
        transposed = node.op_type == "Gemm" and any(a.name == "transB" and a.i == 1 for a in node.attribute)
        candidate = value if transposed else value.T
        for name, weight in linear_by_shape.get(candidate.shape, []):
            if name not in matched and np.array_equal(candidate, weight):
                node.name = name
                matched.add(name)
                break
    return [layer.name for layer in layers if layer.name not in matched]


@dataclass
class WeightNode:
    """A weight-bearing node of an ONNX model and how its weights are stored."""

    layer: str  # torch module name (or the node name when it was not renamed)
    op: str
    kind: str
    bits: int  # 32 = float weights
    elements: int  # logical weight elements
    storage_bits: float  # bits on disk for weights + scales + zero points


def _base_name(name: str) -> str:
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _tensor_bits(tensor: onnx.TensorProto) -> int:
    return _INT_TYPES.get(tensor.data_type, 32 if tensor.data_type == onnx.TensorProto.FLOAT else 16)


def _numel(tensor: onnx.TensorProto) -> int:
    return int(np.prod(tensor.dims)) if tensor.dims else 1


def weight_nodes(model: onnx.ModelProto) -> list[WeightNode]:
    """Every weight-bearing node with its weight precision (32 = float) and storage cost."""
    inits = _initializers(model)
    for node in model.graph.node:  # side tensors stored as float16 behind a Cast count at their stored size
        if node.op_type == "Cast" and node.input[0] in inits:
            inits[node.output[0]] = inits[node.input[0]]
    producers = {out: node for node in model.graph.node for out in node.output}

    def weight_source(name: str) -> tuple[onnx.TensorProto | None, list[onnx.TensorProto]]:
        """(the stored weight tensor, its scale/zero-point tensors) behind a node input."""
        if name in inits:
            return inits[name], []
        node = producers.get(name)
        if node is not None and node.op_type == "DequantizeLinear" and node.input[0] in inits:
            extra = [inits[n] for n in node.input[1:] if n in inits]
            return inits[node.input[0]], extra
        return None, []

    found: list[WeightNode] = []
    for node in model.graph.node:
        kind = WEIGHT_OPS.get(node.op_type)
        if kind is None:
            continue
        if node.op_type == "MatMulNBits":
            attrs = {a.name: a.i for a in node.attribute}
            elements = attrs["K"] * attrs["N"]
            extra = sum(_numel(inits[n]) * _tensor_bits(inits[n]) for n in node.input[2:4] if n in inits)
            found.append(
                WeightNode(
                    _base_name(node.name),
                    node.op_type,
                    kind,
                    attrs["bits"],
                    elements,
                    attrs["bits"] * elements + extra,
                )
            )
            continue
        if node.op_type in ("LSTM", "DynamicQuantizeLSTM"):
            tensors = [weight_source(node.input[i]) for i in (1, 2)]
            extra_names = node.input[8:12] if node.op_type == "DynamicQuantizeLSTM" else []
            scales = [inits[n] for n in extra_names if n in inits]
        else:
            index = 3 if node.op_type in ("QLinearConv", "QLinearMatMul") else 1
            tensors = [weight_source(node.input[index])] if len(node.input) > index else []
            scales = []
            if node.op_type in ("QLinearConv", "QLinearMatMul"):
                scales = [inits[n] for n in node.input[4:6] if n in inits]
            elif (
                node.op_type in ("MatMulInteger", "ConvInteger")
                and len(node.input) > 3
                and node.input[3] in inits
            ):
                scales = [inits[node.input[3]]]
            elif node.op_type == "DynamicQuantizeMatMul":
                scales = [inits[n] for n in node.input[2:4] if n in inits]
            elif node.op_type == "MatMulIntegerToFloat":
                scales = [
                    inits[node.input[i]] for i in (3, 5) if len(node.input) > i and node.input[i] in inits
                ]
        stored = [t for t, _ in tensors if t is not None]
        if not stored:
            continue  # activation x activation product (attention scores): no weights
        scales = scales + [s for _, extra in tensors for s in extra]
        elements = sum(_numel(t) for t in stored)
        bits = max(_tensor_bits(t) for t in stored)
        storage = sum(_numel(t) * _tensor_bits(t) for t in stored) + sum(
            _numel(s) * _tensor_bits(s) for s in scales
        )
        found.append(WeightNode(_base_name(node.name), node.op_type, kind, bits, elements, float(storage)))
    return found


def describe_weights(path: Path) -> dict[str, object]:
    """Summary of an ONNX file's weights: layers left in float, quantized layers, theoretical bits per weight."""
    model = onnx.load(str(path))
    nodes = weight_nodes(model)
    elements = sum(n.elements for n in nodes)
    storage = sum(n.storage_bits for n in nodes)
    return {
        "float_layers": sorted({n.layer for n in nodes if n.bits == 32}),
        "quantized_layers": {n.layer: n.bits for n in nodes if n.bits != 32},
        "weight_elements": elements,
        "bits_per_weight": storage / elements if elements else 32.0,
    }


def _zeros_against(values: np.ndarray, zero_point: np.ndarray | int, axis: int) -> int:
    """Count integer weights equal to their (per-tensor or per-axis) zero point."""
    values = values.astype(np.int32)
    zero_point = np.asarray(zero_point, dtype=np.int32)
    if zero_point.ndim == 1 and zero_point.size > 1 and values.ndim > 1:
        shape = [1] * values.ndim
        shape[axis] = -1
        zero_point = zero_point.reshape(shape)
    elif zero_point.size == 1:
        zero_point = zero_point.reshape(())
    else:
        return 0  # blocked zero points: not counted (only 4-bit QDQ weights use them)
    return int(np.sum(values == zero_point))


def count_zero_weights(path: Path) -> int:
    """Weights stored as exact zeros (float 0, or an integer equal to its zero point) in an ONNX file."""
    from pipeline.deploy.matmul_nbits import unpack_matmul_nbits

    model = onnx.load(str(path))
    inits = _initializers(model)
    array = lambda name: numpy_helper.to_array(inits[name])  # noqa: E731
    zeros = 0
    for node in model.graph.node:
        inputs = list(node.input)
        if node.op_type in ("Conv", "MatMul", "Gemm", "LSTM") and len(inputs) > 1:
            for name in inputs[1:3] if node.op_type == "LSTM" else inputs[1:2]:
                if name in inits:
                    zeros += int(np.sum(array(name) == 0))
        elif node.op_type == "DequantizeLinear" and inputs[0] in inits:
            zero_point = array(inputs[2]) if len(inputs) > 2 and inputs[2] in inits else 0
            axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
            zeros += _zeros_against(array(inputs[0]), zero_point, axis)
        elif node.op_type == "DynamicQuantizeLSTM":
            for weight, zero in ((1, 9), (2, 11)):
                zero_point = array(inputs[zero]) if len(inputs) > zero and inputs[zero] in inits else 0
                values = array(inputs[weight]).astype(np.int32)  # (directions, in, 4*hidden)
                zero_point = np.asarray(zero_point, dtype=np.int32)
                if zero_point.size == values.shape[0] * values.shape[2]:  # per direction and output row
                    zero_point = zero_point.reshape(values.shape[0], 1, values.shape[2])
                elif zero_point.size == values.shape[0]:
                    zero_point = zero_point.reshape(-1, 1, 1)
                zeros += int(np.sum(values == zero_point))
        elif node.op_type == "DynamicQuantizeMatMul" and inputs[1] in inits:
            zero_point = array(inputs[3]) if len(inputs) > 3 and inputs[3] in inits else 0
            zeros += _zeros_against(array(inputs[1]), zero_point, 1)
        elif node.op_type == "MatMulNBits":
            attrs = {a.name: a.i for a in node.attribute}
            zero_points = array(inputs[3]) if len(inputs) > 3 and inputs[3] in inits else None
            values, zero = unpack_matmul_nbits(
                array(inputs[1]), zero_points, attrs["K"], attrs["N"], attrs["bits"], attrs["block_size"]
            )
            zeros += int(np.sum(values == zero))
    return zeros


# The input positions that hold a weight-bearing node's main weights.
_WEIGHT_INPUTS = {
    "Conv": (1,),
    "ConvInteger": (1,),
    "QLinearConv": (3,),
    "MatMul": (1,),
    "Gemm": (1,),
    "MatMulInteger": (1,),
    "QLinearMatMul": (3,),
    "MatMulNBits": (1,),
    "DynamicQuantizeMatMul": (1,),
    "MatMulIntegerToFloat": (1,),
    "LSTM": (1, 2),
    "DynamicQuantizeLSTM": (1, 2),
}
# Nodes a stored weight may pass through on its way to the layer (input 0 carries the weight).
_PASS_THROUGH = {"DequantizeLinear", "Cast", "Transpose", "Reshape", "Identity", "Unsqueeze"}


def main_weight_names(graph: onnx.GraphProto) -> set[str]:
    """The initializers that are the main weights of weight-bearing nodes (convs, matmuls, LSTMs), found
    through the nodes a stored weight passes on its way (DequantizeLinear, Cast, Transpose, ...).

    One definition for the size anatomy (what counts as weights) and compaction (what is never halved).
    """
    initializers = {t.name for t in graph.initializer}
    producers = {out: node for node in graph.node for out in node.output}
    found: set[str] = set()
    for node in graph.node:
        for index in _WEIGHT_INPUTS.get(node.op_type, ()):
            name = node.input[index] if len(node.input) > index else ""
            while name and name not in initializers:
                source = producers.get(name)
                name = source.input[0] if source is not None and source.op_type in _PASS_THROUGH else ""
            if name:
                found.add(name)
    return found


def has_matmul(path: Path) -> bool:
    """Whether the graph has a MatMul (what 4-bit MatMulNBits quantizes), read without external data."""
    return any(node.op_type == "MatMul" for node in onnx.load(str(path), load_external_data=False).graph.node)
