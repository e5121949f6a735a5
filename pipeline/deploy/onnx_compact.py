"""Make a quantized ONNX file as small as its weights allow, without changing what it computes.

On models of a few hundred thousand weights the int8 weights are only part of the file: per-channel
scales, biases and norm parameters (float32), zero points that are all zero, shape annotations and
long scope names add 5-15%. This pass
- drops value_info and doc strings (ONNX Runtime infers shapes at load),
- drops all-zero weight zero points from DequantizeLinear (zero is the default),
- drops an LSTM's all-zero initial states (zero is the default) and the nodes that built them,
- computes a conv's per-channel bias scale (input scale x weight scales) in the graph instead of storing it,
- stores an LSTM's two bias halves (input and recurrent, which the cell only ever adds) as their sum,
- stores float side tensors (scales, biases, norm weights; never the main weights) as float16 behind a
  Cast, which ONNX Runtime constant-folds when the session is created, so kernels see float32 again,
- renames internal tensors and nodes to short names (graph inputs, outputs and weight-layer node
  names stay).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from pipeline.deploy.onnx_graph import WEIGHT_OPS, main_weight_names

# Side tensors smaller than this stay float32 (a Cast node costs more than it saves).
_MIN_HALF_ELEMENTS = 16
# float16 keeps ~3 significant digits; a value outside its range would overflow, so it stays float32.
_FLOAT16_MAX = 60000.0


def _consumers(graph: onnx.GraphProto) -> dict[str, list[onnx.NodeProto]]:
    found: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            found.setdefault(name, []).append(node)
    return found


def _drop_zero_weight_zero_points(graph: onnx.GraphProto, inits: dict[str, onnx.TensorProto]) -> None:
    for node in graph.node:
        if node.op_type != "DequantizeLinear" or len(node.input) < 3 or node.input[0] not in inits:
            continue
        zero_point = inits.get(node.input[2])
        if zero_point is None or inits[node.input[0]].data_type != zero_point.data_type:
            continue
        if zero_point.data_type in (onnx.TensorProto.INT8, onnx.TensorProto.INT32) and not np.any(
            numpy_helper.to_array(zero_point)
        ):
            del node.input[2]


def _producers(graph: onnx.GraphProto) -> dict[str, onnx.NodeProto]:
    return {out: node for node in graph.node for out in node.output}


def _drop_zero_lstm_states(graph: onnx.GraphProto) -> None:
    """Remove initial_h / initial_c inputs that are ConstantOfShape zeros (the exporter's explicit default)."""
    producers = _producers(graph)
    for node in graph.node:
        if node.op_type not in ("LSTM", "DynamicQuantizeLSTM"):
            continue
        for index in (5, 6):
            if len(node.input) <= index or not node.input[index]:
                continue
            source = producers.get(node.input[index])
            is_zero = (
                source is not None
                and source.op_type == "ConstantOfShape"
                and all(not np.any(numpy_helper.to_array(a.t)) for a in source.attribute if a.name == "value")
            )
            if is_zero:
                node.input[index] = ""
        while node.input and not node.input[-1]:
            del node.input[-1]
    _drop_dead_nodes(graph)


def _drop_dead_nodes(graph: onnx.GraphProto) -> None:
    """Remove nodes none of whose outputs is used (repeatedly, so whole dead chains go)."""
    outputs = {v.name for v in graph.output}
    while True:
        used = {name for node in graph.node for name in node.input} | outputs
        dead = [node for node in graph.node if not any(out in used for out in node.output)]
        if not dead:
            return
        for node in dead:
            graph.node.remove(node)


def _compute_bias_scales(graph: onnx.GraphProto, inits: dict[str, onnx.TensorProto]) -> None:
    """Replace a stored per-channel bias scale equal to input scale x weight scales by a Mul of the two."""
    producers = _producers(graph)
    added = []
    for node in graph.node:
        if node.op_type != "Conv" or len(node.input) < 3:
            continue
        dqs = [producers.get(name) for name in node.input[:3]]
        if any(dq is None or dq.op_type != "DequantizeLinear" for dq in dqs):
            continue
        x_scale, w_scale, b_scale = (inits.get(dq.input[1]) for dq in dqs)
        if x_scale is None or w_scale is None or b_scale is None or _numel(b_scale) < _MIN_HALF_ELEMENTS:
            continue
        product = numpy_helper.to_array(x_scale) * numpy_helper.to_array(w_scale)
        if product.shape != numpy_helper.to_array(b_scale).shape or not np.allclose(
            product, numpy_helper.to_array(b_scale), rtol=1e-6, atol=0
        ):
            continue
        output = f"{b_scale.name}__mul"
        added.append(helper.make_node("Mul", [x_scale.name, w_scale.name], [output], name=f"{output}_node"))
        dqs[2].input[1] = output
    for position, node in enumerate(added):
        graph.node.insert(position, node)


def _numel(tensor: onnx.TensorProto) -> int:
    return int(np.prod(tensor.dims)) if tensor.dims else 1


def _fold_lstm_biases(graph: onnx.GraphProto, inits: dict[str, onnx.TensorProto]) -> None:
    """B = [Wb, Rb] (directions, 8 * hidden) -> Concat(Wb + Rb, zeros): same gates, half the stored bias."""
    added = []
    for node in graph.node:
        if (
            node.op_type not in ("LSTM", "DynamicQuantizeLSTM")
            or len(node.input) < 4
            or node.input[3] not in inits
        ):
            continue
        tensor = inits[node.input[3]]
        bias = numpy_helper.to_array(tensor)
        half = bias.shape[1] // 2
        summed = (bias[:, :half] + bias[:, half:]).astype(np.float32)
        prefix = f"{node.input[3]}__fold"
        graph.initializer.remove(tensor)
        graph.initializer.extend(
            [
                numpy_helper.from_array(summed, f"{prefix}_sum"),
                numpy_helper.from_array(np.array(summed.shape, dtype=np.int64), f"{prefix}_shape"),
            ]
        )
        added += [
            helper.make_node(
                "ConstantOfShape", [f"{prefix}_shape"], [f"{prefix}_zeros"], name=f"{prefix}_zeros"
            ),
            helper.make_node(
                "Concat", [f"{prefix}_sum", f"{prefix}_zeros"], [tensor.name], axis=1, name=f"{prefix}_concat"
            ),
        ]
    for position, node in enumerate(added):
        graph.node.insert(position, node)


def _half_side_tensors(graph: onnx.GraphProto, inits: dict[str, onnx.TensorProto]) -> int:
    keep = main_weight_names(graph)
    consumers = _consumers(graph)
    new_nodes = []
    halved = 0
    for tensor in list(graph.initializer):
        if tensor.data_type != onnx.TensorProto.FLOAT or tensor.name in keep or tensor.name not in consumers:
            continue
        value = numpy_helper.to_array(tensor)
        if value.size < _MIN_HALF_ELEMENTS or np.abs(value).max(initial=0.0) > _FLOAT16_MAX:
            continue
        if any(
            node.op_type in WEIGHT_OPS
            and node.op_type not in ("LSTM", "DynamicQuantizeLSTM")
            and list(node.input).index(tensor.name) == 1
            for node in consumers[tensor.name]
        ):
            continue
        half_name = tensor.name + "__f16"
        graph.initializer.remove(tensor)
        graph.initializer.append(numpy_helper.from_array(value.astype(np.float16), half_name))
        new_nodes.append(
            helper.make_node(
                "Cast", [half_name], [tensor.name], to=onnx.TensorProto.FLOAT, name=f"cast_{len(new_nodes)}"
            )
        )
        halved += 1
    for position, node in enumerate(new_nodes):
        graph.node.insert(position, node)
    return halved


def _drop_unused_initializers(graph: onnx.GraphProto) -> None:
    used = {name for node in graph.node for name in node.input} | {v.name for v in graph.output}
    for tensor in [t for t in graph.initializer if t.name not in used]:
        graph.initializer.remove(tensor)


def _shorten_names(graph: onnx.GraphProto) -> None:
    keep = {v.name for v in graph.input} | {v.name for v in graph.output}
    mapping: dict[str, str] = {}

    def short(name: str) -> str:
        if not name or name in keep:
            return name
        if name not in mapping:
            mapping[name] = f"t{len(mapping)}"
        return mapping[name]

    for tensor in graph.initializer:
        tensor.name = short(tensor.name)
    for index, node in enumerate(graph.node):
        node.input[:] = [short(n) for n in node.input]
        node.output[:] = [short(n) for n in node.output]
        node.doc_string = ""
        if node.op_type not in WEIGHT_OPS or not node.name:
            node.name = f"n{index}"  # short, but unique: quantizers exclude nodes by name


def compact_onnx(path: Path, *, half_side_tensors: bool = True) -> int:
    """Rewrite `path` in place (see the module docstring). Returns the new size in bytes."""
    model = onnx.load(str(path))
    graph = model.graph
    del graph.value_info[:]
    graph.doc_string = ""
    model.doc_string = ""
    inits = {t.name: t for t in graph.initializer}
    _drop_zero_lstm_states(graph)
    _drop_zero_weight_zero_points(graph, inits)
    if half_side_tensors:
        _compute_bias_scales(graph, inits)
        _fold_lstm_biases(graph, inits)
        _half_side_tensors(graph, inits)
    _drop_unused_initializers(graph)
    _shorten_names(graph)
    onnx.save(model, str(path))
    return path.stat().st_size
