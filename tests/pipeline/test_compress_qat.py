"""torchao QAT in progressive stages, distillation and the quantization penalty."""

from __future__ import annotations

import pytest
import torch

from pipeline.compress.distill import make_extra_loss, quantization_error
from pipeline.compress.ptq import plan_linear_layers
from pipeline.compress.qat import run_qat, stage_epochs, stage_parts
from pipeline.compress.schemes import WeightScheme
from pipeline.models import create_model
from pipeline.models.heads.losses import ctc_loss, distillation_kl


def test_progressive_stages_accumulate_parts():
    assert stage_parts([]) == [("backbone", "neck", "head")]
    assert stage_parts(["head", "neck", "backbone"]) == [
        ("head",),
        ("head", "neck"),
        ("head", "neck", "backbone"),
    ]
    assert stage_parts(["head"]) == [("head", "backbone", "neck")]
    assert stage_epochs(5, 3) == [1, 1, 3] and stage_epochs(1, 3) == [1, 1, 1]
    with pytest.raises(ValueError, match="progressive_stages"):
        stage_parts(["decoder"])


def _fake_quantized(model) -> set[str]:
    return {name for name, module in model.named_modules() if hasattr(module, "weight_fake_quantizer")}


def test_qat_fake_quantizes_stage_by_stage_then_converts():
    torch.manual_seed(0)
    model = create_model("vit_tiny", num_classes=20, depth=1, embed_dim=32, num_heads=2, neck_dim=32).eval()
    plan = plan_linear_layers(
        model, WeightScheme(bits=4, granularity="per_group", group_size=32, dynamic_activations=True)
    )
    seen: list[set[str]] = []
    images = torch.rand(2, 1, 32, 64) * 2 - 1

    def fit_stage(stage_model, index, epochs, extra_loss):
        seen.append(_fake_quantized(stage_model))
        optimizer = torch.optim.SGD(stage_model.parameters(), lr=1e-3)
        for _ in range(epochs):
            loss = stage_model(images).pow(2).mean() + quantization_error(stage_model)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return stage_model, [{"epoch": index + 1}]

    result = run_qat(
        model,
        plan,
        fit_stage=fit_stage,
        qat_epochs=3,
        progressive_stages=["head", "neck", "backbone"],
        teacher=None,
        distillation_weight=0.0,
        temperature=2.0,
        quantization_loss_weight=0.0,
    )
    assert seen[0] == {"head"}
    assert seen[1] == {"head", "neck.proj"}
    assert seen[2] == set(plan.quantized)
    assert _fake_quantized(result.fake_quant_model) == set(plan.quantized)
    assert not _fake_quantized(result.float_model)
    assert hasattr(result.quantized_model.head.weight, "qdata")
    with torch.no_grad():
        fake, real = result.fake_quant_model(images), result.quantized_model(images)
    assert torch.allclose(
        fake, real, atol=0.05 * fake.abs().max().item()
    )  # convert reproduces the fake quantization
    assert not _fake_quantized(model)  # the FP32 model is untouched


def test_distillation_blends_ctc_and_kl_by_the_weight():
    torch.manual_seed(0)
    student = create_model("crnn_tiny", num_classes=12)
    teacher = create_model("crnn_tiny", num_classes=12).eval()

    class Batch:
        images = torch.rand(2, 1, 32, 64) * 2 - 1
        targets = torch.tensor([1, 2, 3, 4])
        target_lengths = torch.tensor([2, 2])

    logits = student(Batch.images)
    lengths = torch.tensor([16, 12])
    extra = make_extra_loss(teacher, distillation_weight=0.3, temperature=4.0)
    value, parts = extra(student, Batch, logits, lengths)
    with torch.no_grad():
        kl = distillation_kl(logits, teacher(Batch.images), 4.0, lengths)
    ctc = ctc_loss(logits, Batch.targets, Batch.target_lengths, lengths)
    assert value.item() == pytest.approx((0.3 * (kl - ctc)).item(), rel=1e-5)
    assert parts["kl"] == pytest.approx(kl.item(), rel=1e-5)
    assert make_extra_loss(None, distillation_weight=0.3, temperature=4.0) is None


def test_bit_width_stages_train_at_8_bits_before_the_planned_4():
    from pipeline.compress.qat import qat_stages

    stages = qat_stages(["8bit"])
    assert [(set(s.parts), s.bits) for s in stages] == [
        ({"backbone", "neck", "head"}, 8),
        ({"backbone", "neck", "head"}, None),
    ]
    torch.manual_seed(0)
    model = create_model("vit_tiny", num_classes=20, depth=1, embed_dim=32, num_heads=2, neck_dim=32).eval()
    plan = plan_linear_layers(model, WeightScheme(bits=4, granularity="per_group", group_size=32))
    seen_bits = []

    def fit_stage(stage_model, index, epochs, extra_loss):
        quantizer = stage_model.head.weight_fake_quantizer
        seen_bits.append(quantizer.config.dtype)
        return stage_model, []

    run_qat(
        model,
        plan,
        fit_stage=fit_stage,
        qat_epochs=2,
        progressive_stages=["8bit"],
        teacher=None,
        distillation_weight=0.0,
        temperature=2.0,
        quantization_loss_weight=0.0,
    )
    assert seen_bits == [torch.int8, torch.int4]
