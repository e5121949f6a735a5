"""Where the bytes of an ONNX file go: main weights, side tensors, graph.

A quantized file cannot shrink below its weights plus fixed costs that do not scale with bit width:
scales and zero points, biases and norm parameters, and the graph itself (nodes, names, framing). On a
model of a few hundred thousand weights those fixed costs decide whether int8 reaches 4x, so every ONNX
variant reports them, measured on the file a user would deploy.
"""

from __future__ import annotations

from pathlib import Path

import onnx

from pipeline.deploy.onnx_graph import main_weight_names


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
    weights = main_weight_names(graph)
    weights_bytes = sum(t.ByteSize() for t in graph.initializer if t.name in weights)
    side_bytes = sum(t.ByteSize() for t in graph.initializer if t.name not in weights)
    file_bytes = path.stat().st_size
    return {
        "weights_bytes": weights_bytes,
        "side_bytes": side_bytes,
        "graph_bytes": file_bytes - weights_bytes - side_bytes,
        "file_bytes": file_bytes,
    }
