"""Graph preparation of foreign exports and the mapping of their inputs and outputs."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from pipeline.deploy.foreign_model import ImportRefused, inspect_foreign_model, to_model_input, to_ocrq_scores
from pipeline.deploy.onnx_prepare import EQUIVALENCE_TOLERANCE, max_abs_difference, prepare_graph
from tests.import_models import HEIGHT, tiny_recognizer


def test_prepare_lifts_constants_folds_batchnorm_and_stays_equal(tmp_path):
    source = tiny_recognizer(tmp_path / "tiny.onnx")
    report = prepare_graph(source, tmp_path / "prepared.onnx")
    model = onnx.load(str(tmp_path / "prepared.onnx"))
    ops = [n.op_type for n in model.graph.node]
    assert "Constant" not in ops and "BatchNormalization" not in ops and "Identity" not in ops
    assert report.source_opset == 11 and report.prepared_opset == 17
    assert report.constants_lifted == 6 and report.batchnorms_folded == 1
    assert report.prepared_nodes < report.source_nodes
    assert [p.key for p in model.metadata_props] == ["character"]  # the charset survives
    rng = np.random.default_rng(1)
    feeds = [{"x": rng.uniform(-1, 1, (2, 3, HEIGHT, w)).astype(np.float32)} for w in (32, 64, 100)]
    diff = max_abs_difference(source, tmp_path / "prepared.onnx", feeds)
    assert diff < EQUIVALENCE_TOLERANCE


def test_inspect_measures_stride_and_reads_softmax(tmp_path):
    layout = inspect_foreign_model(tiny_recognizer(tmp_path / "tiny.onnx"))
    assert (layout.channels, layout.height, layout.stride, layout.classes) == (3, HEIGHT, 4, 27)
    assert layout.outputs_probabilities and layout.blank == 0 and layout.fixed_width is None


def test_inspect_refusals_name_the_option(tmp_path):
    with pytest.raises(ImportRefused, match="set --height"):
        inspect_foreign_model(tiny_recognizer(tmp_path / "a.onnx", height=None))
    with pytest.raises(ImportRefused, match="2 inputs"):
        inspect_foreign_model(tiny_recognizer(tmp_path / "b.onnx", extra_input=True))
    with pytest.raises(ImportRefused, match="rank 2"):
        inspect_foreign_model(tiny_recognizer(tmp_path / "c.onnx", output_rank=2))
    with pytest.raises(ImportRefused, match="--blank 27"):
        inspect_foreign_model(tiny_recognizer(tmp_path / "d.onnx"), blank=27)


def test_normalisation_presets_and_blank_move(tmp_path):
    layout = inspect_foreign_model(tiny_recognizer(tmp_path / "tiny.onnx"), normalize="imagenet", blank=26)
    grey = np.full((1, 1, HEIGHT, 8), 1.0, np.float32)  # white in ocrq's [-1, 1]
    x = to_model_input(grey, layout)
    assert x.shape == (1, 3, HEIGHT, 8)
    assert np.allclose(
        x[0, :, 0, 0], [(1 - 0.485) / 0.229, (1 - 0.456) / 0.224, (1 - 0.406) / 0.225], atol=1e-5
    )
    probs = np.zeros((1, 2, 27), np.float32)
    probs[0, :, 26] = 1.0  # the model's blank is its last class
    scores = to_ocrq_scores(probs, layout)
    assert scores[0].argmax(axis=1).tolist() == [0, 0]  # ocrq sees it at class 0
