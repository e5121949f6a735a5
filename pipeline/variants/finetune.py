"""Short training runs after the baseline (QAT stages, post-pruning finetuning) through `pipeline.training.fit.fit`,
so their epochs reach the sink, and the store, with their own phase."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from pipeline.evaluation.predict import predict
from pipeline.training.callbacks import RunStopped
from pipeline.variants.context import VariantContext


def finetune(
    ctx: VariantContext,
    model: nn.Module,
    *,
    epochs: int,
    lr_multiplier: float,
    phase: str,
    extra_loss: Callable | None,
) -> tuple[nn.Module, list[dict]]:
    """Train `model` for `epochs` at `learning_rate x lr_multiplier`; returns (best validated model, history).

    EMA, early stopping, target CER and the time budget of the baseline are off: these runs are short, and an
    EMA of a few hundred steps would mostly hold the starting weights.
    """
    from pipeline.training.fit import FitSettings, fit

    settings = FitSettings.from_train_config(ctx.config.train, epochs=epochs, lr_multiplier=lr_multiplier)
    settings.ema = False
    settings.early_stop_patience = 0
    settings.target_cer = 0.0
    settings.time_budget_minutes = 0.0
    data, device = ctx.prepared.data, ctx.device

    def validate(module: nn.Module):
        return predict(module, data.val_batches(), ctx.prepared.charset, device, decoding="greedy")

    result = fit(
        model,
        settings,
        train_batches=data.train_batches,
        steps_per_epoch=data.steps_per_epoch,
        validate=validate,
        device=device,
        sink=ctx.sink,
        phase=phase,
        checkpoint_dir=None,
        extra_loss=extra_loss,
        callbacks=ctx.callbacks,
    )
    data.drop_rendered()
    if result.stop is not None and result.stop.ends_run:
        raise RunStopped(result.stop)
    # fit keeps Ctrl-C to itself; the run must still stop, not go on to measure a half-trained model
    if result.interrupted:
        raise KeyboardInterrupt
    return result.eval_model.eval(), result.history


def cpu_copy(model: nn.Module) -> nn.Module:
    return model.to(torch.device("cpu")).eval()
