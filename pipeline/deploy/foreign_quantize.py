"""ONNX Runtime static QDQ int8 of a prepared foreign recognizer, calibrated once and reused for any set
of float nodes (dynamic int8 and 4-bit MatMulNBits are `pipeline.deploy.ort_quantize`'s, shared with
ocrq-trained models).

Calibration runs the model over the user's lines once and caches the activation ranges
(`calibration_cache_path`), so the sensitivity scan of mixed precision, which quantizes the graph once per
node, costs a quantization pass per node and not a calibration each. Lines of different widths are
padded to one width per calibration batch by the caller (`LineBatchReader`), which the histogram
calibrators need.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import onnx

from pipeline.deploy.calibration import Calibration, LineBatchReader
from pipeline.deploy.ort_quantize import StaticInt8Options, quantize_static_int8

WEIGHT_OPS = ("Conv", "MatMul", "Gemm")
# The ops whose inputs get QDQ: the weight layers only. On PP-OCRv4 quantizing the activation ops between
# them too (Relu, Clip, pools) cost 0.6 pp more CER on clean lines and was slower at batch 1.
STATIC_OP_TYPES = WEIGHT_OPS


def weight_layer_nodes(path: Path) -> list[tuple[str, str, int]]:
    """(name, op, weights) of the Conv / MatMul / Gemm nodes whose second input is a stored weight, in
    graph order."""
    model = onnx.load(str(path), load_external_data=False)
    sizes = {t.name: math.prod(t.dims) for t in model.graph.initializer}
    return [
        (n.name, n.op_type, int(sizes[n.input[1]]))
        for n in model.graph.node
        if n.op_type in WEIGHT_OPS and len(n.input) > 1 and n.input[1] in sizes
    ]


@dataclass
class ForeignStaticOptions:
    """Settings of a static int8 quantization of a foreign model.

    Attributes:
        calibration: How activation ranges are taken from the lines.
        per_channel: One weight scale per output channel.
        reduce_range: 7-bit weights (x86 without VNNI saturates int16 accumulators otherwise).
        exclude: Node names kept in float.
        quantize_activation_matmuls: Give attention's activation-by-activation products int8 inputs.
    """

    calibration: Calibration
    per_channel: bool = True
    reduce_range: bool = False
    exclude: list[str] = field(default_factory=list)
    quantize_activation_matmuls: bool = False


class StaticQuantizer:
    """Static QDQ int8 of one prepared model: calibrates on the first call, reuses the ranges after."""

    def __init__(self, source: Path, reader: LineBatchReader, cache_dir: Path) -> None:
        self.source = Path(source)
        self.reader = reader
        self.cache_dir = Path(cache_dir)
        self.cache_dir.mkdir(parents=True, exist_ok=True)

    def quantize(self, target: Path, options: ForeignStaticOptions) -> Path:
        """Write the QDQ int8 model to `target`; every weight layer int8 except `options.exclude`."""
        calibration = options.calibration
        cache = self.cache_dir / f"ranges-{calibration.method.name}-{_slug(calibration.description)}.json"
        shared = StaticInt8Options(
            per_channel=options.per_channel,
            reduce_range=options.reduce_range,
            calibration=calibration,
            exclude=list(options.exclude),
            quantize_lstm=True,
            quantize_attention=options.quantize_activation_matmuls,
        )
        # one batch at a time: histograms merge and memory stays at one batch's activations
        return quantize_static_int8(
            self.source, target, self.reader, shared,
            op_types=STATIC_OP_TYPES, calibration_cache=cache, strided=len(self.reader) > 1,
        )  # fmt: skip


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text).strip("-")[:40]
