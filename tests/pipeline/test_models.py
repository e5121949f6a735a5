"""Recognizer registry, shapes, sizes, ONNX parity and a tiny overfitting run."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
import torch

from pipeline.models import Recognizer, count_macs, create_model, list_models, model_info
from pipeline.models.heads.ctc_decoding import ctc_greedy_decode

NUM_CLASSES = 40
ALL_MODELS = [f"{family}_{size}" for family in ("crnn", "svtr", "vit") for size in ("base", "small", "tiny")]
ALL_MODELS.insert(ALL_MODELS.index("crnn_tiny") + 1, "crnn_tiny_strided")
ALL_MODELS.insert(ALL_MODELS.index("crnn_small"), "crnn_mini_strided")
TINY_MODELS = ["crnn_tiny", "svtr_tiny", "vit_tiny"]


@pytest.fixture(scope="module")
def models() -> dict[str, Recognizer]:
    torch.manual_seed(0)
    return {name: create_model(name, num_classes=NUM_CLASSES).eval() for name in ALL_MODELS}


def test_registry_lists_every_model():
    assert list_models() == ALL_MODELS
    assert list_models("*_tiny") == TINY_MODELS
    assert list_models("nothing*") == []


@pytest.mark.parametrize("name", ALL_MODELS)
def test_forward_shape_matches_output_length_for_two_widths(models, name):
    model = models[name]
    assert model.width_multiple == 4
    for width in (64, 100):
        with torch.no_grad():
            logits = model(torch.rand(2, 1, 32, width))
        assert logits.shape == (2, model.output_length(width), NUM_CLASSES)
        assert torch.isfinite(logits).all()
    assert model.output_length(256) == 64  # ~4 px per frame, room for long labels


@pytest.mark.parametrize("name", ALL_MODELS)
def test_parts_cover_all_parameters(models, name):
    model = models[name]
    parts = model.parts()
    assert list(parts) == ["backbone", "neck", "head"]
    assert all(dict(model.named_children())[key] is module for key, module in parts.items())
    in_parts = sum(p.numel() for module in parts.values() for p in module.parameters())
    assert in_parts == sum(p.numel() for p in model.parameters())
    assert isinstance(model.head, torch.nn.Linear) or isinstance(model.head[-1], torch.nn.Linear)


@pytest.mark.parametrize("name", ALL_MODELS)
def test_config_rebuilds_the_same_architecture(models, name):
    model = models[name]
    config = model.config()
    assert config["name"] == name and config["num_classes"] == NUM_CLASSES and config["image_height"] == 32
    rebuilt = create_model(**config)
    rebuilt.load_state_dict(model.state_dict())  # strict: same parameter names and shapes
    assert rebuilt.config() == config


def test_param_counts_by_size(models):
    params = {name: sum(p.numel() for p in model.parameters()) for name, model in models.items()}
    assert 200_000 <= params["crnn_tiny"] <= 600_000
    assert all(params[name] <= 1_000_000 for name in TINY_MODELS)
    for family in ("crnn", "svtr", "vit"):
        assert params[f"{family}_tiny"] < params[f"{family}_small"] < params[f"{family}_base"]
    assert model_info("crnn_tiny", num_classes=NUM_CLASSES)["params"] == params["crnn_tiny"]


def test_model_info_counts_lstm_and_attention_macs():
    info = model_info("crnn_tiny", width=256)
    assert info["family"] == "crnn" and info["width_multiple"] == 4 and info["description"]
    # Convs and the BiLSTM are linear in width; the LSTM (invisible to FlopCounterMode) is included.
    lstm_macs = 2 * 4 * 96 * (128 + 96) * 64
    assert info["macs"] > lstm_macs
    assert model_info("crnn_tiny", width=512)["macs"] == 2 * info["macs"]
    # Global attention is quadratic in the number of tokens, so doubling the width more than doubles it.
    vit = model_info("vit_tiny", width=256)["macs"]
    assert model_info("vit_tiny", width=512)["macs"] > 2.1 * vit


def test_count_macs_restores_fused_attention(models):
    model = models["svtr_tiny"]
    fused_before = [m.fused_attn for m in model.modules() if hasattr(m, "fused_attn")]
    assert count_macs(model, 32, 128) > 0
    assert [m.fused_attn for m in model.modules() if hasattr(m, "fused_attn")] == fused_before
    assert not model.training


def test_bad_arguments_are_rejected(models):
    with pytest.raises(ValueError, match="unknown model 'crnn_huge'"):
        create_model("crnn_huge", num_classes=10)
    with pytest.raises(ValueError, match="unknown override 'hidden'"):
        create_model("crnn_tiny", num_classes=10, hidden=3)
    with pytest.raises(ValueError, match="image_height=30"):
        create_model("svtr_tiny", num_classes=10, image_height=30)
    with pytest.raises(ValueError, match="num_heads"):
        create_model("vit_tiny", num_classes=10, num_heads=5)
    with pytest.raises(ValueError, match="width 30"):
        models["crnn_tiny"](torch.rand(1, 1, 32, 30))
    with pytest.raises(ValueError, match=r"\(B, 1, 32, W\)"):
        models["vit_tiny"](torch.rand(1, 1, 48, 64))
    with pytest.raises(ValueError, match="downsample.*pool or stride"):
        create_model("crnn_tiny", num_classes=10, downsample="avg")


def test_crnn_strided_downsampling_keeps_parameters_and_frames(models):
    pooled = models["crnn_tiny"]
    strided = create_model("crnn_tiny", num_classes=NUM_CLASSES, downsample="stride").eval()
    assert not any(isinstance(m, torch.nn.MaxPool2d) for m in strided.modules())
    assert any(isinstance(m, torch.nn.MaxPool2d) for m in pooled.modules())
    count = lambda model: sum(p.numel() for p in model.parameters())  # noqa: E731
    assert count(strided) == count(pooled)  # only the strides differ
    with torch.no_grad():
        assert strided(torch.rand(2, 1, 32, 100)).shape == pooled(torch.rand(2, 1, 32, 100)).shape
    assert create_model(**strided.config()).hparams["downsample"] == "stride"
    registered = models["crnn_tiny_strided"]  # quickstart's model: exactly this architecture, by name
    assert registered.hparams == strided.hparams and count(registered) == count(pooled)


def test_other_image_heights_work():
    model = create_model("crnn_tiny", num_classes=12, image_height=48).eval()
    with torch.no_grad():
        assert model(torch.rand(1, 1, 48, 64)).shape == (1, 16, 12)
    model = create_model("vit_tiny", num_classes=12, image_height=64, patch_size=(8, 8)).eval()
    assert model.width_multiple == 8
    with torch.no_grad():
        assert model(torch.rand(1, 1, 64, 64)).shape == (1, model.output_length(64), 12) == (1, 8, 12)


@pytest.mark.parametrize("name", TINY_MODELS)
def test_onnx_export_keeps_batch_and_width_dynamic(models, name):
    import onnxruntime

    model = models[name]
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # legacy-exporter deprecation and nn.LSTM tracer notes
        torch.onnx.export(
            model,
            (torch.rand(2, 1, 32, 128),),
            buffer,
            dynamo=False,
            input_names=["images"],
            output_names=["logits"],
            opset_version=17,
            dynamic_axes={"images": {0: "batch", 3: "width"}, "logits": {0: "batch", 1: "frames"}},
        )
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])
    for shape in [(3, 1, 32, 200), (1, 1, 32, 48)]:
        images = torch.rand(*shape)
        with torch.no_grad():
            expected = model(images).numpy()
        (actual,) = session.run(["logits"], {"images": images.numpy()})
        assert actual.shape == expected.shape == (shape[0], shape[3] // 4, NUM_CLASSES)
        np.testing.assert_allclose(actual, expected, atol=1e-4, rtol=0)


def test_crnn_tiny_overfits_a_fixed_batch():
    torch.manual_seed(0)
    model = create_model("crnn_tiny", num_classes=10)
    images = torch.rand(16, 1, 32, 32)
    lengths = torch.randint(1, 4, (16,))
    targets = [torch.randint(1, 10, (int(n),)).tolist() for n in lengths]
    flat_targets = torch.tensor([c for target in targets for c in target])
    frames = torch.full((16,), model.output_length(32), dtype=torch.long)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    ctc = torch.nn.CTCLoss(blank=0)
    for _ in range(60):
        log_probs = model(images).log_softmax(-1)
        loss = ctc(log_probs.permute(1, 0, 2), flat_targets, frames, lengths)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.05
    with torch.no_grad():  # train-mode batch norm: the statistics the loss was minimized under
        assert ctc_greedy_decode(model(images)) == targets


@pytest.mark.parametrize("name", ALL_MODELS)
def test_a_fresh_model_starts_at_the_blank_prior(models, name):
    # a fresh model reads most frames as blank from its first step, without favouring any letter
    with torch.no_grad():
        probs = models[name](torch.rand(2, 1, 32, 64)).softmax(-1)
    assert 0.7 < probs[..., 0].mean() < 0.9
    letters = probs[..., 1:].mean(dim=(0, 1))
    assert letters.max() < 3 * letters.min()
