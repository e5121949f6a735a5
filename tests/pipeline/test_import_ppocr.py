"""The PP-OCRv4 recognizer shipped in the `rapidocr-onnxruntime` wheel (paddle2onnx, opset 12, weights in
Constant nodes): prepared equal to the original, and quantizable to a file over 3x smaller.

The wheel is fetched with `pip download --no-deps` (its own dependencies are heavy and not needed);
the test is skipped, saying why, when that is not possible (no network or index)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import onnx
import pytest

from pipeline.core.charset import Charset
from pipeline.deploy.calibration import LineBatchReader, calibration_for
from pipeline.deploy.foreign_model import inspect_foreign_model, metadata_characters, to_model_input
from pipeline.deploy.foreign_quantize import ForeignStaticOptions, StaticQuantizer
from pipeline.deploy.onnx_prepare import EQUIVALENCE_TOLERANCE, max_abs_difference, prepare_graph

MODEL_IN_WHEEL = "rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx"


@pytest.fixture(scope="module")
def ppocr_model(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("rapidocr")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "rapidocr-onnxruntime==1.4.4",
            "-d",
            str(folder),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    wheels = list(folder.glob("rapidocr_onnxruntime-*.whl"))
    if done.returncode != 0 or not wheels:
        reason = (done.stderr.strip().splitlines() or ["no wheel"])[-1]
        print(f"skipping: could not download rapidocr-onnxruntime: {reason}")
        pytest.skip(f"rapidocr-onnxruntime wheel not available: {reason}")
    with zipfile.ZipFile(wheels[0]) as archive:
        archive.extract(MODEL_IN_WHEEL, folder)
    return folder / MODEL_IN_WHEEL


def test_ppocr_maps_prepares_and_quantizes(ppocr_model, tmp_path):
    layout = inspect_foreign_model(ppocr_model, height=48)
    assert (layout.channels, layout.stride, layout.classes, layout.outputs_probabilities) == (
        3,
        8,
        6625,
        True,
    )
    chars = metadata_characters(ppocr_model)
    assert len(chars) == 6623  # + blank + PaddleOCR's appended space = 6625 classes
    Charset("pp", "".join(chars) + " ")

    report = prepare_graph(ppocr_model, tmp_path / "prepared.onnx")
    ops = [n.op_type for n in onnx.load(str(tmp_path / "prepared.onnx")).graph.node]
    assert report.source_nodes == 860 and report.constants_lifted == 420
    assert "Constant" not in ops and "BatchNormalization" not in ops
    assert report.prepared_opset >= 13 and report.prepared_nodes < 400
    rng = np.random.default_rng(0)
    lines = [rng.uniform(-1, 1, (2, 1, 48, w)).astype(np.float32) for w in (96, 200)]
    feeds = [{"x": to_model_input(x, layout)} for x in lines]
    assert max_abs_difference(ppocr_model, tmp_path / "prepared.onnx", feeds) < EQUIVALENCE_TOLERANCE

    reader = LineBatchReader([to_model_input(x, layout) for x in lines[:1]], input_name="x")
    quantizer = StaticQuantizer(tmp_path / "prepared.onnx", reader, tmp_path / "cache")
    quantized = quantizer.quantize(
        tmp_path / "int8.onnx", ForeignStaticOptions(calibration=calibration_for("min_max"))
    )
    assert ppocr_model.stat().st_size / quantized.stat().st_size > 3.4
    out = max_abs_difference(tmp_path / "prepared.onnx", quantized, feeds[:1])
    assert out < 1.0  # it loads and runs (per-channel DequantizeLinear with its axis at opset 17)
