"""Where the bytes of an ONNX file go: main weights, side tensors, graph.

A quantized file cannot shrink below its weights plus fixed costs that do not scale with bit width:
scales and zero points, biases and norm parameters, and the graph itself (nodes, names, framing). On a
model of a few hundred thousand weights those fixed costs decide whether int8 reaches 4x, so every ONNX
variant reports them, measured on the file a user would deploy.
"""

from __future__ import annotations

from pathlib import Path

import onnx

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


def _main_weights(graph: onnx.GraphProto) -> set[str]:
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


def size_anatomy(path: Path) -> dict[str, int]:
    """Bytes of `path` by kind; the three parts add up to the file size exactly.

    Returns:
        weights_bytes: the layers' main weights (float, int8, int4, packed), as stored;
        side_bytes: every other stored tensor (scales, zero points, biases, norm parameters, shapes);
        graph_bytes: the rest of the file (nodes, tensor names, opsets, metadata, protobuf framing);
        file_bytes: the file size on disk.
    """
    path = Path(path)
    model = onnx.load(str(path), load_external_data=False)
    graph = model.graph
    weights = _main_weights(graph)
    weights_bytes = sum(t.ByteSize() for t in graph.initializer if t.name in weights)
    side_bytes = sum(t.ByteSize() for t in graph.initializer if t.name not in weights)
    file_bytes = path.stat().st_size
    return {
        "weights_bytes": weights_bytes,
        "side_bytes": side_bytes,
        "graph_bytes": file_bytes - weights_bytes - side_bytes,
        "file_bytes": file_bytes,
    }
