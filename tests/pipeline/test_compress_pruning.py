"""Pruning reaches the requested sparsity; structured pruning really removes channels and the model runs."""

from __future__ import annotations

import pytest
import torch

from pipeline.compress.pruning import (
    PruningSpec,
    apply_unstructured,
    gradient_importance,
    make_permanent,
    spec_from_config,
    weight_parameters,
    weight_sparsity,
)
from pipeline.compress.shrink import structured_prune
from pipeline.config import resolve_config
from pipeline.models import create_model
from pipeline.models.layers import weight_layers


def _model(name: str = "crnn_tiny"):
    torch.manual_seed(0)
    return create_model(name, num_classes=30).eval()


def _images(batch: int = 2, width: int = 64) -> torch.Tensor:
    return torch.rand(batch, 1, 32, width, generator=torch.Generator().manual_seed(3)) * 2 - 1


@pytest.mark.parametrize("strategy", ["l1_unstructured", "random_unstructured"])
def test_unstructured_pruning_reaches_the_ratio_and_masks_become_permanent(strategy):
    model = _model()
    apply_unstructured(model, PruningSpec(strategy, {"backbone": 0.5, "neck": 0.5, "head": 0.5}))
    assert weight_sparsity(model) == pytest.approx(0.5, abs=0.01)
    masked = model(_images())
    assert make_permanent(model) > 0
    assert not any(name.endswith("_mask") for name, _ in model.named_buffers())
    assert weight_sparsity(model) == pytest.approx(0.5, abs=0.01)
    assert torch.allclose(model(_images()), masked)


def test_per_part_ratios_prune_each_part_by_its_own_share():
    model = _model()
    apply_unstructured(model, PruningSpec("l1_unstructured", {"backbone": 0.6, "neck": 0.2, "head": 0.0}))
    make_permanent(model)
    shares = {}
    for module, name, part in weight_parameters(model):
        weight = getattr(module, name)
        zeros, total = shares.get(part, (0, 0))
        shares[part] = (zeros + int((weight == 0).sum()), total + weight.numel())
    assert shares["backbone"][0] / shares["backbone"][1] == pytest.approx(0.6, abs=0.01)
    assert shares["neck"][0] / shares["neck"][1] == pytest.approx(0.2, abs=0.01)
    assert shares["head"][0] == 0


def test_gradient_criterion_uses_weight_times_gradient():
    model = _model()
    images = _images(4)

    def loss(module, batch):
        return module(batch).pow(2).mean()

    scores = gradient_importance(model, [images], loss)
    apply_unstructured(
        model,
        PruningSpec("l1_unstructured", {"backbone": 0.3, "neck": 0.3, "head": 0.3}, criterion="grad"),
        scores,
    )
    assert weight_sparsity(model) == pytest.approx(0.3, abs=0.01)


@pytest.mark.parametrize("name", ["crnn_tiny", "svtr_tiny"])
def test_structured_pruning_shrinks_tensor_shapes_and_the_model_still_runs(name):
    model = _model(name)
    before = {layer.name: layer.params for layer in weight_layers(model)}
    params_before = sum(p.numel() for p in model.parameters())
    report = structured_prune(
        model, PruningSpec("l1_structured", {"backbone": 0.3, "neck": 0.3, "head": 0.3}), _images(1)
    )
    assert report.removed, report.skipped
    for layer, (channels_before, channels_after) in report.removed.items():
        if layer.endswith(".qkv+proj"):  # every head narrowed by the same share
            heads = model.get_submodule(layer.removesuffix(".qkv+proj")).num_heads
            width = channels_before // heads
            assert channels_after == heads * (width - round(width * 0.3))
        else:
            assert channels_after == channels_before - round(channels_before * 0.3)
    after = {layer.name: layer.params for layer in weight_layers(model)}
    assert any(after[n] < before[n] for n in before)
    assert sum(p.numel() for p in model.parameters()) < 0.85 * params_before
    output = model(_images(2, 96))
    assert output.shape == (2, 24, 30)
    assert "head" in report.skipped or "head.1" in report.skipped  # the classes are never pruned


def test_structured_pruning_narrows_every_attention_head_and_keeps_the_output_close():
    model = _model("svtr_tiny")
    attentions = {n: m for n, m in model.named_modules() if type(m).__name__ == "Attention"}
    widths = {n: (m.num_heads, m.head_dim) for n, m in attentions.items()}
    images = _images(2, 96)
    with torch.no_grad():
        reference = model(images)
    report = structured_prune(
        model, PruningSpec("l1_structured", {"backbone": 0.25, "neck": 0.0, "head": 0.0}), _images(1)
    )
    assert widths
    for name, (heads, width) in widths.items():
        attention = model.get_submodule(name)
        kept = width - round(width * 0.25)
        assert attention.head_dim == kept and attention.num_heads == heads
        assert attention.qkv.out_features == 3 * heads * kept and attention.proj.in_features == heads * kept
        assert report.removed[f"{name}.qkv+proj"] == (heads * width, heads * kept)
        assert f"{name}.qkv" not in report.skipped
    with torch.no_grad():
        pruned = model(images)
    assert pruned.shape == reference.shape and torch.isfinite(pruned).all()
    # the least important quarter of each head goes: the output moves, but stays recognisably the same
    assert torch.nn.functional.cosine_similarity(pruned.flatten(), reference.flatten(), dim=0) > 0.5


def test_structured_pruning_of_a_crnn_removes_lstm_hidden_units():
    model = _model()
    hidden = model.neck.lstm.hidden_size
    structured_prune(
        model,
        PruningSpec("ln_structured", {"backbone": 0.0, "neck": 0.25, "head": 0.0}, criterion="l2"),
        _images(1),
    )
    assert model.neck.lstm.hidden_size == hidden - round(hidden * 0.25)
    assert model.head[-1].in_features == 2 * model.neck.lstm.hidden_size
    assert model(_images()).shape[-1] == 30


def test_spec_from_config_uses_per_part_ratios_and_global_ranking_otherwise():
    config = resolve_config(
        "smoke", overrides={"enable_pruning": "true", "pruning_ratio": "0.4", "neck_pruning_ratio": "0.1"}
    )
    spec = spec_from_config(config.pruning)
    assert spec.ratios == {"backbone": 0.4, "neck": 0.1, "head": 0.4}
    assert not spec.global_ranking
    with pytest.raises(ValueError, match="out of range"):
        PruningSpec("l1_unstructured", {"backbone": 1.2})
