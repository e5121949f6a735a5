"""Small hand-built ONNX recognizers (onnx.helper) for the import tests: one that imports, and one
broken in each way the importer must refuse."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

LETTERS = "abcdefghijklmnopqrstuvwxyz"
HEIGHT = 16
HIDDEN = 32


def _const(name: str, array: np.ndarray) -> onnx.NodeProto:
    return helper.make_node(
        "Constant", [], [name], value=numpy_helper.from_array(array.astype(np.float32), name)
    )


def tiny_recognizer(
    path: Path,
    *,
    chars: str | None = LETTERS,
    height: int | None = HEIGHT,
    opset: int = 11,
    softmax: bool = True,
    extra_input: bool = False,
    output_rank: int = 3,
) -> Path:
    """A CTC recognizer as an old exporter writes it: Constant-node weights, an unfolded BatchNorm, an
    Identity, opset 11. (N, 3, H, W) -> Conv (stride 4 across) -> BN -> (N, T, 32) -> MatMul -> (N, T, C)."""
    rng = np.random.default_rng(0)
    classes = len(chars or LETTERS) + 1
    h = height or HEIGHT
    nodes = [
        _const("w", rng.normal(0, 0.2, (HIDDEN, 3, h, 4))),
        _const("bn_scale", rng.uniform(0.5, 1.5, HIDDEN)),
        _const("bn_bias", rng.normal(0, 0.1, HIDDEN)),
        _const("bn_mean", rng.normal(0, 0.1, HIDDEN)),
        _const("bn_var", rng.uniform(0.5, 1.5, HIDDEN)),
        _const("fc", rng.normal(0, 0.3, (HIDDEN, classes))),
        helper.make_node("Conv", ["x", "w"], ["conv"], strides=[1, 4], name="conv"),
        helper.make_node("BatchNormalization", ["conv", "bn_scale", "bn_bias", "bn_mean", "bn_var"], ["bn"]),
        helper.make_node("Relu", ["bn"], ["relu"]),
        helper.make_node("Identity", ["relu"], ["ident"]),
        helper.make_node("Squeeze", ["ident"], ["seq"], axes=[2]),
        helper.make_node("Transpose", ["seq"], ["frames"], perm=[0, 2, 1]),
        helper.make_node("MatMul", ["frames", "fc"], ["scores"], name="head"),
    ]
    last = "scores"
    if softmax:
        nodes.append(helper.make_node("Softmax", ["scores"], ["probs"], axis=2))
        last = "probs"
    if output_rank == 2:
        nodes.append(helper.make_node("Flatten", [last], ["flat"], axis=1))
        last = "flat"
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, height if height else "H", "W"])]
    if extra_input:
        inputs.append(helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["N", "W"]))
    out_shape = ["N", "T", classes] if output_rank == 3 else ["N", "F"]
    graph = helper.make_graph(
        nodes, "tiny", inputs, [helper.make_tensor_value_info(last, TensorProto.FLOAT, out_shape)]
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="hand-built"
    )
    model.ir_version = 7
    if chars is not None:
        model.metadata_props.add(key="character", value="\n".join(chars))
    onnx.save(model, str(path))
    return path
