"""torchao PTQ strategies and the checks that refuse impossible settings before any work starts."""

from __future__ import annotations

import pytest
import torch

from pipeline.compress.plan_check import check_compression_plan
from pipeline.compress.ptq import apply_ptq, load_torchao_model, plan_linear_layers, save_torchao_model
from pipeline.compress.schemes import WeightScheme, scheme_from_config
from pipeline.config import ConfigError, resolve_config
from pipeline.evaluation.metrics import output_fidelity
from pipeline.models import create_model
from pipeline.models.layers import weight_layers
from pipeline.variants.catalog import resolve_specs

# Relative output error (||FP32 - quantized|| / ||FP32||) a strategy may cause on a small ViT.
FIDELITY_BOUND = {8: 0.05, 4: 0.35}


@pytest.fixture(scope="module")
def vit():
    torch.manual_seed(0)
    return create_model("vit_tiny", num_classes=40, depth=2, embed_dim=64, num_heads=2, neck_dim=64).eval()


@pytest.fixture(scope="module")
def lines():
    return torch.rand(3, 1, 32, 96, generator=torch.Generator().manual_seed(1)) * 2 - 1


@pytest.mark.parametrize(
    ("strategy", "granularity", "symmetric"),
    [
        ("int8_weight_only", "per_tensor", True),
        ("int8_weight_only", "per_channel", False),
        ("int8_dyn_act_int8_weight", "per_channel", True),
        ("int8_dyn_act_int8_weight", "per_group", False),
        ("int8_dyn_act_int4_weight", "per_group", True),
        ("int8_dyn_act_int4_weight", "per_channel", False),
        ("int4_weight_only", "per_group", True),
        ("int4_weight_only", "per_group", False),
    ],
)
def test_each_strategy_runs_within_its_fidelity_bound(vit, lines, strategy, granularity, symmetric):
    from pipeline.compress.schemes import STRATEGIES

    bits, dynamic = STRATEGIES[strategy]
    scheme = WeightScheme(
        bits=bits, granularity=granularity, group_size=32, symmetric=symmetric, dynamic_activations=dynamic
    )
    plan = plan_linear_layers(vit, scheme)
    quantized = apply_ptq(vit, plan)
    with torch.no_grad():
        reference, output = vit(lines), quantized(lines)
    fidelity = output_fidelity(reference.numpy(), output.numpy())
    assert fidelity["relative_error"] < FIDELITY_BOUND[bits], fidelity
    assert fidelity["relative_error"] > 0  # the weights really changed
    assert hasattr(quantized.head.weight, "qdata")  # a torchao tensor holding integers
    assert not hasattr(vit.head.weight, "qdata")  # the FP32 model was copied, not changed


def test_group_size_falls_back_when_it_does_not_divide_a_layer():
    model = create_model("crnn_tiny", num_classes=20).eval()
    head = weight_layers(model)[-1]
    scheme = WeightScheme(bits=4, granularity="per_group", group_size=128)
    plan = plan_linear_layers(model, scheme)
    expected = scheme.group_for(head.in_features)
    assert expected is None or head.in_features % expected == 0
    if head.in_features % 128:
        assert any("not a multiple of group_size=128" in note for note in plan.notes)


def test_skip_first_last_keeps_the_classifier_float(vit):
    plan = plan_linear_layers(vit, WeightScheme(bits=8, granularity="per_channel"), skip_first_last=True)
    assert plan.schemes["head"] is None
    assert "head" in plan.torch_float_layers()
    assert "backbone.vit.patch_embed.proj" in plan.torch_float_layers()  # a conv: torchao leaves it float


def test_torchao_file_reloads_to_the_same_outputs(vit, lines, tmp_path):
    plan = plan_linear_layers(
        vit, WeightScheme(bits=4, granularity="per_group", group_size=32, dynamic_activations=True)
    )
    quantized = apply_ptq(vit, plan)
    path = tmp_path / "ptq.pt"
    size = save_torchao_model(quantized, plan, path, {"model_config": vit.config()})
    assert size == path.stat().st_size
    reloaded = load_torchao_model(path)
    with torch.no_grad():
        assert torch.allclose(reloaded(lines), quantized(lines), atol=1e-5)


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"weight_bits": "3"}, "weight_bits"),
        ({"group_size": "48"}, "group_size"),
        ({"activation_bits": "4"}, "activation_bits"),
        ({"pruning_ratio": "1.2"}, "pruning_ratio"),
    ],
)
def test_impossible_fields_are_rejected_by_the_config(overrides, words):
    with pytest.raises(ConfigError, match=words):
        resolve_config("smoke", overrides=overrides)


def test_impossible_combinations_are_rejected_before_any_work():
    config = resolve_config(
        "smoke",
        overrides={"variants": "ort-fp32,ptq:int4_weight_only", "quantization_granularity": "per_tensor"},
    )
    with pytest.raises(
        ValueError, match=r"per_tensor is not available for 4-bit weights.*allowed per_channel or per_group"
    ):
        check_compression_plan(config, resolve_specs(config))
    config = resolve_config(
        "smoke",
        overrides={"variants": "qat:int8_dyn_act_int8_weight", "quantization_granularity": "per_tensor"},
    )
    with pytest.raises(ValueError, match="qat with quantization_granularity=per_tensor"):
        check_compression_plan(config, resolve_specs(config))


def test_scheme_from_config_follows_the_strategy_suffix():
    config = resolve_config("smoke", overrides={"quantization_granularity": "per_group", "group_size": "64"})
    scheme = scheme_from_config(config.quantization, "int4_weight_only")
    assert (scheme.bits, scheme.dynamic_activations, scheme.group_size) == (4, False, 64)
    assert scheme.theoretical_bits(128) == pytest.approx(4 + 32 / 64)


def test_torchao_file_loads_in_a_fresh_process(vit, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    plan = plan_linear_layers(vit, WeightScheme(bits=8, granularity="per_channel"))
    path = tmp_path / "ptq.pt"
    save_torchao_model(apply_ptq(vit, plan), plan, path, {"model_config": vit.config()})
    code = "import sys; from pipeline.compress.ptq import load_torchao_model; load_torchao_model(sys.argv[1]); print('ok')"
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, cwd=root, timeout=300
    )
    assert done.returncode == 0, done.stderr[-500:]
    assert done.stdout.strip().endswith("ok")
