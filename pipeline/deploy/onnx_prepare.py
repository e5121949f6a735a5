"""Make a foreign ONNX export quantizable: weights as initializers, a current opset, constants folded,
BatchNorm folded into its convolution, helper nodes gone, shapes inferred.

Exports from other frameworks (paddle2onnx, older torch, tf2onnx) often carry their weights as `Constant`
nodes, un-folded BatchNorm and `Cast`/`Identity` helpers, at an opset older than 13. ONNX Runtime's
quantizers then find no weights to quantize (they look for initializers), and per-channel
`DequantizeLinear` needs opset 13 for its `axis`. `prepare_graph` rewrites such a file into an equivalent
one; `max_abs_difference` checks the equivalence on real inputs.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper, shape_inference, version_converter

TARGET_OPSET = 17  # per-channel QDQ needs >= 13; 18 moves ReduceMean's axes to an input for nothing
# what a prepared graph may differ by, per output value, on inputs in the model's range (float32 reordering)
EQUIVALENCE_TOLERANCE = 1e-4


@dataclass
class PreparationReport:
    """What `prepare_graph` changed, with sizes and node counts before and after."""

    source_bytes: int
    source_nodes: int
    source_opset: int
    source_initializers: int
    prepared_bytes: int = 0
    prepared_nodes: int = 0
    prepared_opset: int = 0
    prepared_initializers: int = 0
    constants_lifted: int = 0
    batchnorms_folded: int = 0
    helpers_removed: int = 0
    steps: list[str] = field(default_factory=list)
    max_abs_diff: float | None = None
    tolerance: float = EQUIVALENCE_TOLERANCE
    checked_lines: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        """One line: nodes and bytes before -> after, and the measured difference."""
        diff = (
            f"; max |diff| {self.max_abs_diff:.2e} on {self.checked_lines} lines (tolerance {self.tolerance:g})"
            if self.max_abs_diff is not None
            else ""
        )
        return (
            f"graph prepared: {self.source_nodes} -> {self.prepared_nodes} nodes, "
            f"{self.source_bytes:,} -> {self.prepared_bytes:,} bytes, opset {self.source_opset} -> "
            f"{self.prepared_opset}, {self.constants_lifted} constants lifted, "
            f"{self.batchnorms_folded} BatchNorms folded{diff}"
        )


def default_opset(model: onnx.ModelProto) -> int:
    """The default-domain opset a model imports (1 when it names none)."""
    for entry in model.opset_import:
        if entry.domain in ("", "ai.onnx"):
            return int(entry.version)
    return 1


def lift_constants(graph: onnx.GraphProto) -> int:
    """Turn `Constant` nodes holding a tensor into initializers (what quantizers look for)."""
    kept, lifted = [], 0
    for node in graph.node:
        if node.op_type == "Constant" and len(node.attribute) == 1 and node.attribute[0].name == "value":
            tensor = onnx.TensorProto()
            tensor.CopyFrom(node.attribute[0].t)
            tensor.name = node.output[0]
            graph.initializer.append(tensor)
            lifted += 1
        else:
            kept.append(node)
    del graph.node[:]
    graph.node.extend(kept)
    return lifted


def _ort_basic_optimize(source: Path, target: Path) -> None:
    """ONNX Runtime's hardware-independent (level 1) rewrites, saved offline: constant folding, Conv
    with a following BatchNorm / Mul / Add folded, Identity and redundant Cast / Reshape removed.
    They only emit standard ONNX operators, so the file stays portable."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(target)
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])


def fold_batchnorms(graph: onnx.GraphProto) -> int:
    """Fold each BatchNormalization that is the only reader of a Conv's output into that Conv."""
    inits = {t.name: t for t in graph.initializer}
    readers: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            readers[name] = readers.get(name, 0) + 1
    producer = {out: node for node in graph.node for out in node.output}
    folded, kept = 0, []
    for node in graph.node:
        conv = producer.get(node.input[0]) if node.op_type == "BatchNormalization" else None
        params = list(node.input[1:5])
        if (
            conv is None
            or conv.op_type != "Conv"
            or readers.get(conv.output[0], 0) != 1
            or len(node.output) != 1
            or not all(p in inits for p in params)
            or conv.input[1] not in inits
            or (len(conv.input) > 2 and conv.input[2] not in inits)
        ):
            kept.append(node)
            continue
        eps = next((a.f for a in node.attribute if a.name == "epsilon"), 1e-5)
        scale, bias, mean, var = (numpy_helper.to_array(inits[p]).astype(np.float64) for p in params)
        weight = numpy_helper.to_array(inits[conv.input[1]]).astype(np.float64)
        conv_bias = (
            numpy_helper.to_array(inits[conv.input[2]]).astype(np.float64)
            if len(conv.input) > 2 and conv.input[2]
            else np.zeros(weight.shape[0])
        )
        factor = scale / np.sqrt(var + eps)
        new_weight = (weight * factor.reshape(-1, *([1] * (weight.ndim - 1)))).astype(np.float32)
        new_bias = ((conv_bias - mean) * factor + bias).astype(np.float32)
        weight_name, bias_name = (
            f"{conv.name or conv.output[0]}.bn_weight",
            f"{conv.name or conv.output[0]}.bn_bias",
        )
        graph.initializer.append(numpy_helper.from_array(new_weight, weight_name))
        graph.initializer.append(numpy_helper.from_array(new_bias, bias_name))
        del conv.input[1:]
        conv.input.extend([weight_name, bias_name])
        conv.output[0] = node.output[0]
        folded += 1
    del graph.node[:]
    graph.node.extend(kept)
    return folded


def remove_identities(graph: onnx.GraphProto) -> int:
    """Drop Identity nodes (and Dropout in inference), rewiring their readers; graph outputs keep their names."""
    outputs = {o.name for o in graph.output}
    rename: dict[str, str] = {}
    kept, removed = [], 0
    for node in graph.node:
        is_helper = node.op_type == "Identity" or (node.op_type == "Dropout" and len(node.output) == 1)
        if is_helper and node.output[0] not in outputs:
            rename[node.output[0]] = rename.get(node.input[0], node.input[0])
            removed += 1
            continue
        kept.append(node)
    for node in kept:
        for i, name in enumerate(node.input):
            if name in rename:
                node.input[i] = rename[name]
    del graph.node[:]
    graph.node.extend(kept)
    return removed


def drop_unused(graph: onnx.GraphProto) -> None:
    """Remove initializers nothing reads and the value_info of tensors that no longer exist."""
    used = {name for node in graph.node for name in node.input} | {o.name for o in graph.output}
    keep = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep)
    produced = {out for node in graph.node for out in node.output}
    info = [v for v in graph.value_info if v.name in produced]
    del graph.value_info[:]
    graph.value_info.extend(info)


def _clean_opset_imports(model: onnx.ModelProto) -> None:
    """Keep only the opset domains the graph's nodes use (ONNX Runtime's saved model lists all it knows)."""
    used = {node.domain or "" for node in model.graph.node}
    keep = [entry for entry in model.opset_import if (entry.domain or "") in used | {""}]
    del model.opset_import[:]
    model.opset_import.extend(keep)


def _name_nodes(graph: onnx.GraphProto) -> None:
    """Every node gets a unique name: reports and quantizer exclusions name nodes."""
    seen: set[str] = set()
    for index, node in enumerate(graph.node):
        if not node.name or node.name in seen:
            node.name = f"{node.op_type}_{index}"
        seen.add(node.name)


def prepare_graph(source: Path, target: Path, *, opset: int = TARGET_OPSET) -> PreparationReport:
    """Rewrite a foreign ONNX export at `source` into an equivalent, quantizable file at `target`.

    Steps: Constant nodes -> initializers; opset upgraded to `opset` when older than 13; ONNX Runtime's
    level-1 rewrites (constant folding, Conv+BatchNorm/Mul/Add folding, helper removal); remaining
    BatchNorms folded into their convs; Identity nodes removed; shapes inferred. Metadata (a PaddleOCR
    export's character list) is kept.
    """
    source, target = Path(source), Path(target)
    model = onnx.load(str(source))
    report = PreparationReport(
        source_bytes=source.stat().st_size,
        source_nodes=len(model.graph.node),
        source_opset=default_opset(model),
        source_initializers=len(model.graph.initializer),
    )
    metadata = {p.key: p.value for p in model.metadata_props}
    report.constants_lifted = lift_constants(model.graph)
    if report.constants_lifted:
        report.steps.append(f"{report.constants_lifted} Constant nodes -> initializers")
    if report.source_opset < 13:
        model = version_converter.convert_version(model, opset)
        report.steps.append(f"opset {report.source_opset} -> {opset}")
    report.batchnorms_folded = sum(n.op_type == "BatchNormalization" for n in model.graph.node)
    with tempfile.TemporaryDirectory(prefix="ocrq-prepare-") as scratch:
        staged, optimized = Path(scratch) / "staged.onnx", Path(scratch) / "optimized.onnx"
        onnx.save(model, str(staged))
        _ort_basic_optimize(staged, optimized)
        model = onnx.load(str(optimized))
    before_fold = len(model.graph.node)
    fold_batchnorms(model.graph)
    report.batchnorms_folded -= sum(n.op_type == "BatchNormalization" for n in model.graph.node)
    removed = remove_identities(model.graph)
    drop_unused(model.graph)
    _clean_opset_imports(model)
    _name_nodes(model.graph)
    report.steps.append(
        f"constants folded, {report.batchnorms_folded} BatchNorms folded into convs, "
        f"{removed + max(0, before_fold - len(model.graph.node) - removed)} helper nodes removed"
    )
    model = shape_inference.infer_shapes(model)
    del model.metadata_props[:]
    for key, value in metadata.items():
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model)
    onnx.save(model, str(target))
    report.helpers_removed = report.source_nodes - report.constants_lifted - len(model.graph.node)
    report.prepared_bytes = target.stat().st_size
    report.prepared_nodes = len(model.graph.node)
    report.prepared_opset = default_opset(model)
    report.prepared_initializers = len(model.graph.initializer)
    return report


def max_abs_difference(first: Path, second: Path, inputs: Iterable[dict[str, np.ndarray]]) -> float:
    """Largest absolute difference between the first outputs of two ONNX files on the same inputs."""
    sessions = []
    for path in (first, second):
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        sessions.append(ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"]))
    worst = 0.0
    for feed in inputs:
        a = sessions[0].run(None, feed)[0]
        b = sessions[1].run(None, feed)[0]
        worst = max(worst, float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))))
    return worst
