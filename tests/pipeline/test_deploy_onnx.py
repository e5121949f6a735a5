"""ONNX export parity, ONNX Runtime quantization, MatMulNBits packing and file compaction."""

from __future__ import annotations

import shutil

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

from pipeline.compress.ptq import apply_ptq, plan_linear_layers
from pipeline.compress.schemes import WeightScheme
from pipeline.data.loader import LineBatch
from pipeline.deploy.calibration import LineBatchReader, calibration_for
from pipeline.deploy.matmul_nbits import replace_matmul_with_nbits
from pipeline.deploy.onnx_anatomy import size_anatomy
from pipeline.deploy.onnx_compact import compact_onnx
from pipeline.deploy.onnx_export import export_named_onnx
from pipeline.deploy.onnx_graph import describe_weights
from pipeline.deploy.ort_plan import OrtPlanOptions, deploy_torchao_plan
from pipeline.deploy.ort_quantize import (
    StaticInt8Options,
    quantize_dynamic_int8,
    quantize_static_int8,
    quantize_weights_nbits,
)
from pipeline.models import create_model


def _run(path, images: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(
        str(path), providers=["CPUExecutionProvider"]
    )  # a plain session, no ocrq options
    return session.run(["logits"], {"images": images})[0]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    torch.manual_seed(0)
    models, paths = {}, {}
    folder = tmp_path_factory.mktemp("onnx")
    for name in ("crnn_tiny", "vit_tiny"):
        model = create_model(name, num_classes=30).eval()
        path = folder / f"{name}.onnx"
        assert export_named_onnx(model, path) == []  # every layer matched to a node
        models[name], paths[name] = model, path
    return models, paths


def _images(batch: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (batch, 1, 32, width)).astype(np.float32)


@pytest.mark.parametrize("name", ["crnn_tiny", "vit_tiny"])
@pytest.mark.parametrize(("batch", "width"), [(1, 64), (3, 160)])
def test_export_matches_torch_for_any_batch_and_width(exported, name, batch, width):
    models, paths = exported
    images = _images(batch, width)
    with torch.no_grad():
        expected = models[name](torch.from_numpy(images)).numpy()
    got = _run(paths[name], images)
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() < 1e-4
    assert (got.argmax(-1) == expected.argmax(-1)).all()


@pytest.mark.parametrize("name", ["crnn_tiny", "vit_tiny"])
def test_every_quantized_file_loads_in_a_plain_session_and_stays_close(exported, tmp_path, name):
    models, paths = exported
    source = tmp_path / "fp32.onnx"
    shutil.copyfile(paths[name], source)
    compact_onnx(source, half_side_tensors=False)
    reader = LineBatchReader([_images(4, 96, seed=s) for s in range(2)])
    files = {
        "dynamic": quantize_dynamic_int8(source, tmp_path / "dynamic.onnx"),
        "static": quantize_static_int8(
            source,
            tmp_path / "static.onnx",
            reader,
            StaticInt8Options(calibration=calibration_for("percentile")),
        ),
        "int4": quantize_weights_nbits(source, tmp_path / "int4.onnx", block_size=32, accuracy_level=4),
    }
    images = _images(2, 128, seed=9)
    reference = _run(source, images)
    for kind, path in files.items():
        compact_onnx(path)
        got = _run(path, images)
        relative = np.linalg.norm(got - reference) / np.linalg.norm(reference)
        assert relative < (0.35 if kind == "int4" else 0.2), (kind, relative)
        assert path.stat().st_size < (0.3 if kind == "static" else 1.0) * source.stat().st_size
    static = describe_weights(files["static"])
    assert static["float_layers"] == []  # convs, linears and the LSTM all int8
    assert static["bits_per_weight"] < 8.5
    assert set(describe_weights(files["int4"])["quantized_layers"].values()) == {4}


def test_compaction_keeps_outputs(exported, tmp_path):
    _, paths = exported
    path = tmp_path / "c.onnx"
    shutil.copyfile(paths["crnn_tiny"], path)
    images = _images(2, 96)
    before = _run(path, images)
    anatomy_before = size_anatomy(path)
    size = compact_onnx(path)
    assert size == path.stat().st_size
    assert np.abs(_run(path, images) - before).max() < 1e-2  # float16 side tensors
    anatomy = size_anatomy(path)
    assert anatomy["weights_bytes"] + anatomy["side_bytes"] + anatomy["graph_bytes"] == size
    # compaction leaves the main weights exact and halves the float side tensors
    params = sum(p.numel() for n, p in exported[0]["crnn_tiny"].named_parameters() if n.endswith("weight"))
    assert anatomy["weights_bytes"] > 4 * 0.9 * params
    assert anatomy["side_bytes"] < 0.7 * anatomy_before["side_bytes"]


@pytest.mark.parametrize(
    ("bits", "group", "symmetric"), [(4, 32, True), (4, 64, False), (8, None, True), (8, 32, False)]
)
def test_matmul_nbits_holds_exactly_the_given_integers(bits, group, symmetric):
    rng = np.random.default_rng(0)
    k, n = 128, 20
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["y"], name="lin")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, k])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, n])],
        [numpy_helper.from_array(rng.standard_normal((k, n)).astype(np.float32), "W")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    values = rng.integers(low, high + 1, size=(n, k))
    blocks = k // (group or k)
    scales = rng.uniform(0.01, 0.1, (n, blocks)).astype(np.float32)
    zeros = None if symmetric else rng.integers(low, high + 1, size=(n, blocks))
    replace_matmul_with_nbits(model, "lin", values, scales, zeros, bits=bits, group=group, accuracy_level=0)
    size = group or k
    dequantized = (values - (0 if zeros is None else np.repeat(zeros, size, axis=1))) * np.repeat(
        scales, size, axis=1
    )
    x = rng.standard_normal((3, k)).astype(np.float32)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    assert np.allclose(session.run(None, {"x": x})[0], x @ dequantized.T, rtol=1e-4, atol=1e-4)


def test_torchao_plan_deploys_with_the_same_integers(exported, tmp_path):
    models, paths = exported
    model = models["vit_tiny"]
    plan = plan_linear_layers(
        model, WeightScheme(bits=4, granularity="per_group", group_size=32, dynamic_activations=False)
    )
    quantized = apply_ptq(model, plan)
    target = tmp_path / "ptq.onnx"
    deploy_torchao_plan(
        paths["vit_tiny"], quantized, plan, target, None, OrtPlanOptions(activations_int8=False)
    )
    images = _images(2, 96)
    with torch.no_grad():
        expected = quantized(torch.from_numpy(images)).numpy()
    got = _run(target, images)
    # torchao (float compute on dequantized weights) vs ONNX Runtime (same integers; convs int8 weight-only)
    assert np.linalg.norm(got - expected) / np.linalg.norm(expected) < 0.05
    description = describe_weights(target)
    assert {bits for name, bits in description["quantized_layers"].items() if name in plan.quantized} == {4}
    assert description["float_layers"] == []


def test_int4_conv_weights_load_in_a_plain_session_and_match_the_same_integers(exported, tmp_path):
    models, paths = exported
    model = models["vit_tiny"]
    plan = plan_linear_layers(
        model, WeightScheme(bits=4, granularity="per_group", group_size=32, dynamic_activations=False)
    )
    quantized = apply_ptq(model, plan)
    targets = {}
    for bits in (8, 4):
        targets[bits] = tmp_path / f"conv{bits}.onnx"
        options = OrtPlanOptions(activations_int8=False, conv_weight_bits=bits)
        deploy_torchao_plan(paths["vit_tiny"], quantized, plan, targets[bits], None, options)
    convs = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(describe_weights(targets[4])["quantized_layers"][n] == 4 for n in convs)
    assert targets[4].stat().st_size < targets[8].stat().st_size
    # the same per-channel int4 rounding in torch gives the same outputs
    with torch.no_grad():
        for name in convs:
            conv = quantized.get_submodule(name)
            scale = conv.weight.abs().flatten(1).amax(dim=1).clamp(min=1e-12)[:, None, None, None] / 7
            conv.weight.copy_(torch.clamp(torch.round(conv.weight / scale), -7, 7) * scale)
    images = _images(2, 96)
    with torch.no_grad():
        expected = quantized(torch.from_numpy(images)).numpy()
    got = _run(targets[4], images)
    assert np.linalg.norm(got - expected) / np.linalg.norm(expected) < 0.05


def test_observers_map_to_onnx_runtime_calibration():
    from onnxruntime.quantization import CalibrationMethod

    assert calibration_for("min_max").method == CalibrationMethod.MinMax
    moving = calibration_for("moving_average", momentum=0.2)
    assert moving.extra_options == {"CalibMovingAverage": True, "CalibMovingAverageConstant": 0.2}
    assert calibration_for("percentile", percentile=99.9).extra_options["CalibPercentile"] == 99.9
    assert (
        calibration_for("histogram").method == calibration_for("entropy").method == CalibrationMethod.Entropy
    )
    with pytest.raises(ValueError, match="observer_type"):
        calibration_for("kl")


@pytest.mark.parametrize("observer", ["percentile", "histogram"])
def test_histogram_calibration_takes_batches_of_mixed_widths(exported, tmp_path, observer):
    # Width-bucketed loader batches differ in width; ONNX Runtime's histogram calibrators stack them.
    _, paths = exported
    batches = [
        LineBatch(
            torch.from_numpy(_images(3, width, seed=width)),
            torch.zeros(0),
            torch.zeros(3),
            torch.zeros(3),
            [""] * 3,
        )
        for width in (64, 96, 128)
    ]
    reader = LineBatchReader.from_line_batches(batches)
    assert [item["images"].shape[3] for item in reader.inputs] == [128, 128, 128]
    assert np.array_equal(reader.inputs[0]["images"][..., :64], batches[0].images.numpy())
    # the padding continues each image's background (its border median), as the loader pads
    first = batches[0].images.numpy()[0, 0]
    border = np.concatenate([first[:, 0], first[:, -1], first[0], first[-1]])
    assert np.allclose(reader.inputs[0]["images"][0, 0, :, 64:], np.median(border))
    target = quantize_static_int8(
        paths["crnn_tiny"],
        tmp_path / "static.onnx",
        reader,
        StaticInt8Options(calibration=calibration_for(observer)),
    )
    assert _run(target, _images(1, 80)).shape[0] == 1
    # histogram calibrators are fed one batch at a time (bounded memory): the reader serves ranges
    reader.set_range(1, 2)
    assert reader.get_next() is reader.inputs[1] and reader.get_next() is None
    reader.rewind()
    assert [reader.get_next() for _ in range(4)] == [*reader.inputs, None]


def _activation_scales(path) -> dict[str, float]:
    model = onnx.load(str(path))
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    return {
        node.input[0]: float(inits[node.input[1]])
        for node in model.graph.node
        if node.op_type == "QuantizeLinear" and node.input[1] in inits and inits[node.input[1]].size == 1
    }


def test_entropy_calibration_clips_ranges_instead_of_copying_min_max(exported, tmp_path):
    # ONNX Runtime's Entropy calibrator left at its defaults searches a single threshold (the full
    # range): without ocrq's histogram bins, "histogram" would quietly be MinMax.
    _, paths = exported
    batches = [_images(4, 128, seed=seed) for seed in range(3)]
    scales = {}
    for observer in ("min_max", "histogram"):
        target = quantize_static_int8(
            paths["vit_tiny"],
            tmp_path / f"{observer}.onnx",
            LineBatchReader(batches),
            StaticInt8Options(calibration=calibration_for(observer)),
        )
        scales[observer] = _activation_scales(target)
    shared = sorted(set(scales["min_max"]) & set(scales["histogram"]))
    assert len(shared) > 5
    narrower = [name for name in shared if scales["histogram"][name] < 0.99 * scales["min_max"][name]]
    assert len(narrower) >= len(shared) // 2
    assert all(scales["histogram"][name] <= 1.01 * scales["min_max"][name] for name in shared)
