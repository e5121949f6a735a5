"""ONNX Runtime quantization of an exported recognizer: dynamic int8, static QDQ int8 (calibrated), and
4-bit weight-only MatMulNBits.

Static int8 is the CPU default and quantizes every weight-bearing layer: convs and MatMuls as QDQ
with per-channel weights and calibrated uint8 activations, and LSTMs with ONNX Runtime's dynamic
`DynamicQuantizeLSTM` (the QDQ format has no LSTM). Attention's two activation products (QK^T and
AV) take uint8 inputs too; every MatMul keeps a float output (ONNX Runtime's MatMulIntegerToFloat),
and softmax, norms and GELU stay float: their uint8 kernels are slower than float on CPUs without
VNNI and cost accuracy.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import onnx
from onnxruntime.quantization import (
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_dynamic,
    quantize_static,
)

from pipeline.core.cpu_features import should_reduce_range
from pipeline.deploy.calibration import Calibration, LineBatchReader, calibration_for

ENTROPY_HISTOGRAM_BINS = 2048
ENTROPY_QUANTIZED_BINS = 128
STATIC_OP_TYPES = ("Conv", "MatMul", "Gemm", "Relu", "Clip", "MaxPool", "AveragePool")


@dataclass
class StaticInt8Options:
    """Settings of an ONNX Runtime static int8 quantization.

    Attributes:
        per_channel: One weight scale per output channel (else one per tensor).
        reduce_range: 7-bit weights against int16 saturation on x86 without VNNI; None decides from the CPU.
        symmetric_activations: int8 activations with zero point 0 instead of asymmetric uint8.
        calibration: The calibration method (see `calibration_for`).
        exclude: Torch module names (= node names after `name_weight_nodes`) to keep in float.
        quantize_lstm: Quantize LSTMs with dynamic int8 (weights int8, activations at run time).
        quantize_attention: Give attention's QK^T and AV products uint8 inputs (else they stay float).
    """

    per_channel: bool = True
    reduce_range: bool | None = None
    symmetric_activations: bool = False
    calibration: Calibration = field(default_factory=lambda: calibration_for("min_max"))
    exclude: list[str] = field(default_factory=list)
    quantize_lstm: bool = True
    quantize_attention: bool = True

    def resolved_reduce_range(self) -> bool:
        return should_reduce_range() if self.reduce_range is None else self.reduce_range


@contextlib.contextmanager
def _quiet():
    """ONNX Runtime's quantizer logs advice (pre-processing) at warning level on every call."""
    logger = logging.getLogger()
    previous = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(previous)


def _node_names(path: Path, op_types: tuple[str, ...]) -> list[str]:
    return [n.name for n in onnx.load(str(path)).graph.node if n.op_type in op_types]


def activation_matmuls(path: Path) -> list[str]:
    """MatMul nodes whose second input is an activation (attention's QK^T and AV)."""
    model = onnx.load(str(path))
    inits = {t.name for t in model.graph.initializer}
    return [n.name for n in model.graph.node if n.op_type == "MatMul" and n.input[1] not in inits and n.name]


def quantize_lstm_dynamic(source: Path, target: Path, *, exclude: list[str] = ()) -> bool:
    """Replace LSTM nodes with DynamicQuantizeLSTM (int8 weights). Returns False when there is no LSTM."""
    lstms = [name for name in _node_names(source, ("LSTM",)) if name not in exclude]
    if not lstms:
        return False
    with _quiet():
        quantize_dynamic(
            str(source),
            str(target),
            weight_type=QuantType.QInt8,
            per_channel=False,
            op_types_to_quantize=["LSTM"],
            nodes_to_quantize=lstms,
        )
    return True


def quantize_static_int8(
    source: Path,
    target: Path,
    reader: LineBatchReader,
    options: StaticInt8Options,
    *,
    op_types: tuple[str, ...] = STATIC_OP_TYPES,
    calibration_cache: Path | None = None,
    strided: bool | None = None,
) -> Path:
    """Static QDQ int8: per-channel int8 weights, calibrated uint8 activations, LSTMs dynamic int8.

    `op_types` are the ops whose inputs get QDQ; `calibration_cache` keeps the activation ranges in a
    file, so the next call with the same reader and method skips calibration; `strided` feeds the
    calibrator one batch at a time (default: for the histogram methods, see below)."""
    reader.rewind()
    calibration = options.calibration
    extra = {
        "ActivationSymmetric": options.symmetric_activations,
        "WeightSymmetric": True,
        # a MatMul's float output feeds its bias Add: ONNX Runtime then fuses DQ -> MatMul into
        # MatMulIntegerToFloat instead of quantizing and dequantizing the output again
        "OpTypesToExcludeOutputQuantization": ["MatMul", "Gemm"],
        **calibration.extra_options,
    }
    if strided is None:
        strided = calibration.method in (CalibrationMethod.Percentile, CalibrationMethod.Entropy)
    if strided:
        # The histogram calibrators keep every activation of every batch they are given before
        # binning it (about 15 GB for svtr_small on 128 lines); fed one batch at a time they merge
        # histograms instead, so memory stays at one batch's activations.
        extra["CalibStridedMinMax"] = 1
    exclude = set(options.exclude) | (
        set() if options.quantize_attention else set(activation_matmuls(source))
    )
    exclude = sorted(exclude)
    with tempfile.TemporaryDirectory(prefix="ocrq-quant-") as scratch:
        staged = source
        if options.quantize_lstm:
            lstm_path = Path(scratch) / "lstm.onnx"
            if quantize_lstm_dynamic(source, lstm_path, exclude=options.exclude):
                staged = lstm_path
        with _quiet():
            with (
                contextlib.redirect_stdout(io.StringIO()),  # the histogram calibrators print progress
                _entropy_histogram_bins(calibration.method) as entropy,
            ):
                quantize_static(
                    str(staged),
                    str(target),
                    reader,
                    quant_format=QuantFormat.QDQ,
                    op_types_to_quantize=list(op_types),
                    per_channel=options.per_channel,
                    reduce_range=options.resolved_reduce_range(),
                    activation_type=QuantType.QInt8 if options.symmetric_activations else QuantType.QUInt8,
                    weight_type=QuantType.QInt8,
                    nodes_to_exclude=exclude,
                    calibrate_method=calibration.method,
                    extra_options=extra,
                    calibration_cache_path=str(calibration_cache) if calibration_cache else None,
                )
    cached = calibration_cache is not None and calibration_cache.is_file()
    if calibration.method == CalibrationMethod.Entropy and not entropy["bins_taken"] and not cached:
        raise RuntimeError(
            "this onnxruntime's quantize_static did not take ocrq's histogram bins, so entropy calibration "
            "would equal MinMax; use observer_type=percentile or min_max"
        )
    return target


@contextlib.contextmanager
def _entropy_histogram_bins(method: CalibrationMethod):
    """Give ONNX Runtime's Entropy calibrator a histogram finer than its quantized bins.

    `quantize_static` never passes `num_bins` to the Entropy calibrator, whose defaults (128 histogram
    bins, 128 quantized bins) leave a single candidate threshold, the full range: Entropy then equals
    MinMax. For the duration of one call the calibrator is built with 2048 bins searched down to 128
    (TensorRT's settings), so the KL search really chooses a clipping threshold.
    """
    # the module, not the package's `quantize` function of the same name
    ort_quantize = importlib.import_module("onnxruntime.quantization.quantize")
    state = {"bins_taken": False}
    original = ort_quantize.create_calibrator

    def create_calibrator(*args, **kwargs):
        if kwargs.get("calibrate_method") == CalibrationMethod.Entropy:
            options = dict(kwargs.get("extra_options") or {})
            options.setdefault("num_bins", ENTROPY_HISTOGRAM_BINS)
            options.setdefault("num_quantized_bins", ENTROPY_QUANTIZED_BINS)
            kwargs["extra_options"] = options
            state["bins_taken"] = True
        return original(*args, **kwargs)

    if method == CalibrationMethod.Entropy:
        ort_quantize.create_calibrator = create_calibrator
    try:
        yield state
    finally:
        ort_quantize.create_calibrator = original


def quantize_dynamic_int8(
    source: Path,
    target: Path,
    *,
    per_channel: bool = True,
    exclude: list[str] = (),
    include_convs: bool = False,
) -> Path:
    """Dynamic int8: int8 weights, activations quantized per call. Convs are left float by default,
    because ONNX Runtime's ConvInteger kernel is several times slower than its float conv."""
    op_types = ["MatMul", "Gemm", "LSTM", "Attention"] + (["Conv"] if include_convs else [])
    with _quiet():
        quantize_dynamic(
            str(source),
            str(target),
            weight_type=QuantType.QInt8,
            per_channel=per_channel,
            op_types_to_quantize=op_types,
            nodes_to_exclude=list(exclude),
            extra_options={"MatMulConstBOnly": True},
        )
    return target


def quantize_weights_nbits(
    source: Path,
    target: Path,
    *,
    bits: int = 4,
    block_size: int = 32,
    symmetric: bool = True,
    accuracy_level: int = 0,
    exclude: list[str] = (),
) -> Path:
    """Weight-only MatMulNBits for every MatMul with a constant weight (ONNX Runtime's own quantizer).

    `accuracy_level` 4 runs the product with int8 activations quantized at run time; 0 keeps float compute.
    """
    from onnxruntime.quantization.matmul_nbits_quantizer import (
        DefaultWeightOnlyQuantConfig,
        MatMulNBitsQuantizer,
    )

    model = onnx.load(str(source))
    config = DefaultWeightOnlyQuantConfig(
        block_size=block_size,
        is_symmetric=symmetric,
        bits=bits,
        accuracy_level=accuracy_level or None,
        op_types_to_quantize=("MatMul",),
    )
    quantizer = MatMulNBitsQuantizer(model, nodes_to_exclude=list(exclude), algo_config=config)
    with _quiet():
        quantizer.process()
    quantizer.model.save_model_to_file(str(target), use_external_data_format=False)
    return target
