"""Training behaviour a user relies on: a tiny model can learn, and a resumed run ends where an
uninterrupted one would."""

from __future__ import annotations

import pytest
import torch

from pipeline.config import resolve_config
from pipeline.core.charset import Charset
from pipeline.core.cpu_features import has_native_bf16
from pipeline.core.events import StageProgress
from pipeline.data.bundle import build_data
from pipeline.evaluation.predict import predict
from pipeline.models import create_model
from pipeline.runner import seed_everything
from pipeline.training.fit import FitSettings, fit


def tiny_config(**overrides):
    base = {
        "num_train": "48",
        "num_val": "16",
        "num_test": "16",
        "batch_size": "8",
        "num_workers": "0",
        "ema": "false",
        "epochs": "2",
        "fresh_data_each_epoch": "false",
        "variants": "ort-fp32",
    }
    return resolve_config("smoke", overrides={**base, **overrides})


def make_fit_inputs(config):
    charset = Charset.from_spec(config.model.charset)
    data = build_data(config, charset, width_multiple=4)
    device = torch.device("cpu")

    def validate(module):
        return predict(module, data.val_batches(), charset, device)

    return charset, data, device, validate


# bf16: what `amp: auto` trains in on CPUs that multiply bf16 in hardware (the weights and the optimizer
# stay fp32; autocast runs convs, the LSTM and the head in bf16)
@pytest.mark.parametrize(
    "amp",
    [
        "off",
        pytest.param(
            "bf16",
            marks=pytest.mark.skipif(
                not has_native_bf16(),
                reason="bf16 is emulated on this CPU (slow); amp=auto trains in fp32 here",
            ),
        ),
    ],
)
def test_tiny_model_overfits_sixteen_fixed_lines_to_cer_zero(amp):
    config = tiny_config(
        amp=amp,
        num_train="16",
        num_val="16",
        batch_size="16",
        learning_rate="0.01",
        epochs="300",
        target_cer="0.000001",
        lr_schedule="onecycle",
        max_length="12",
        blank_ratio="0",
        # the loop is under test, not the renderer: plain lines without the realism augmentations
        doubled_letter_ratio="0",
        rgb_prob="0",
        tight_crop_prob="0",
        underline_prob="0",
        strike_prob="0",
        shadow_prob="0",
        outline_prob="0",
        lowres_prob="0",
        highres_prob="0",
        width_scale="1.0",
    )
    charset, data, device, _ = make_fit_inputs(config)
    # Validate on exactly the 16 training lines: memorising them must drive CER to 0.
    train_lines = list(data.train_batches(0))

    def validate(module):
        return predict(module, train_lines, charset, device)

    seed_everything(0)
    model = create_model("crnn_tiny", num_classes=charset.num_classes)
    result = fit(
        model,
        FitSettings.from_train_config(config.train),
        train_batches=lambda epoch: train_lines,
        steps_per_epoch=len(train_lines),
        validate=validate,
        device=device,
        sink=lambda e: None,
    )
    assert result.stop_reason == "target_cer", result.history[-1]
    assert result.best_cer == 0.0
    final = predict(result.eval_model, train_lines, charset, device)
    assert final.predictions == final.labels


def run_fit(config, checkpoint_dir, sink, resume=None):
    charset, data, device, validate = make_fit_inputs(config)
    seed_everything(config.train.seed)
    model = create_model("crnn_tiny", num_classes=charset.num_classes)
    return fit(
        model,
        FitSettings.from_train_config(config.train),
        train_batches=data.train_batches,
        steps_per_epoch=data.steps_per_epoch,
        validate=validate,
        device=device,
        sink=sink,
        checkpoint_dir=checkpoint_dir,
        resume=resume,
    ), model


def test_resume_after_interrupt_matches_an_uninterrupted_run(tmp_path):
    from pipeline.core.checkpoint import load_checkpoint

    config = tiny_config(ema="true", epochs="2", fresh_data_each_epoch="true", num_train="96")
    straight, straight_model = run_fit(config, tmp_path / "a", lambda e: None)

    seen = []

    def interrupt_in_second_epoch(event):
        # StageProgress comes every 10 batches: the first one after epoch 1 ends is mid-epoch 2.
        if isinstance(event, StageProgress) and event.completed > 1.0:
            seen.append(event)
            raise KeyboardInterrupt

    interrupted, _ = run_fit(config, tmp_path / "b", interrupt_in_second_epoch)
    assert interrupted.stop_reason == "interrupted" and seen
    payload = load_checkpoint(tmp_path / "b" / "last.pt")
    assert payload["state"]["epoch"] == 1 and payload["state"]["batch"] > 0  # saved mid-epoch

    resumed, resumed_model = run_fit(config, tmp_path / "b", lambda e: None, resume=payload)
    assert [round(h["cer"], 6) for h in resumed.history] == [round(h["cer"], 6) for h in straight.history]
    assert abs(resumed.history[-1]["train_loss"] - straight.history[-1]["train_loss"]) < 1e-5
    for (name, a), (_, b) in zip(
        straight_model.state_dict().items(), resumed_model.state_dict().items(), strict=True
    ):
        assert torch.allclose(a.float(), b.float(), atol=1e-5), name
