"""Training loop shared by the baseline, QAT and post-pruning finetuning.

The loop knows nothing about where events go or what the data is: it takes a function that yields the
batches of an epoch, a validation function, and a sink. Checkpoints hold everything a resumed run
needs (model, EMA, optimizer, scheduler, scaler, RNG, counters), so `--resume` ends where an
uninterrupted run would.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from pipeline.config.variant_specs import artifact_stem
from pipeline.core.checkpoint import rng_state, save_checkpoint, set_rng_state
from pipeline.core.device import autocast_dtype
from pipeline.core.events import ArtifactSaved, EpochEnded, Sink, StageProgress
from pipeline.evaluation.predict import Predictions
from pipeline.models.heads import head_of
from pipeline.training.callbacks import EpochReport, StopRequest, TrainingCallback, standard_callbacks
from pipeline.training.optim import ExponentialMovingAverage, LRSchedule, build_optimizer

CHECKPOINT_FORMAT = "ocrq-checkpoint-1"


@dataclass
class FitSettings:
    """What one call of :func:`fit` trains for; built from TrainConfig (and scaled for QAT/finetune)."""

    epochs: int
    learning_rate: float
    weight_decay: float = 0.01
    lr_schedule: str = "cosine"
    warmup_ratio: float = 0.05
    part_lr_multipliers: dict[str, float] = field(default_factory=dict)
    grad_clip_norm: float = 5.0
    ema: bool = True
    ema_decay: float = 0.998
    amp: str = "auto"
    early_stop_patience: int = 0
    target_cer: float = 0.0
    time_budget_minutes: float = 0.0

    @classmethod
    def from_train_config(
        cls, train, *, epochs: int | None = None, lr_multiplier: float = 1.0
    ) -> FitSettings:
        return cls(
            epochs=train.epochs if epochs is None else epochs,
            learning_rate=train.learning_rate * lr_multiplier,
            weight_decay=train.weight_decay,
            lr_schedule=train.lr_schedule,
            warmup_ratio=train.warmup_ratio,
            part_lr_multipliers={
                "backbone": train.backbone_lr_multiplier,
                "neck": train.neck_lr_multiplier,
                "head": train.head_lr_multiplier,
            },
            grad_clip_norm=train.grad_clip_norm,
            ema=train.ema,
            ema_decay=train.ema_decay,
            amp=train.amp,
            early_stop_patience=train.early_stop_patience,
            target_cer=train.target_cer,
            time_budget_minutes=train.time_budget_minutes,
        )


@dataclass
class FitResult:
    history: list[dict[str, Any]]
    best_cer: float
    best_em: float
    best_epoch: int
    stop_reason: str  # epochs, interrupted, or a callback's reason (target_cer, early_stop, time_budget, ...)
    eval_model: torch.nn.Module  # the weights that were validated (EMA when enabled), best-CER epoch
    stop: StopRequest | None = None  # the callback's request when one stopped training

    @property
    def interrupted(self) -> bool:
        return self.stop_reason == "interrupted"


# extra_loss(model, batch, logits, input_lengths) -> (loss tensor, {name: float}) for distillation etc.
ExtraLoss = Callable[
    [torch.nn.Module, Any, torch.Tensor, torch.Tensor], tuple[torch.Tensor, dict[str, float]]
]


def training_memory_format(model: torch.nn.Module, device: torch.device) -> torch.memory_format:
    """Channels-last for conv models on CPU: oneDNN's convolutions (and their backward, the larger
    half of a CRNN step) skip a layout conversion per layer. bench/train_bench.py measures the gain."""
    has_conv = any(isinstance(module, torch.nn.Conv2d) for module in model.modules())
    return torch.channels_last if has_conv and device.type == "cpu" else torch.contiguous_format


def fit(
    model: torch.nn.Module,
    settings: FitSettings,
    *,
    train_batches: Callable[[int], Iterable],
    steps_per_epoch: int,
    validate: Callable[[torch.nn.Module], Predictions],
    device: torch.device,
    sink: Sink,
    phase: str = "baseline",
    checkpoint_dir: Path | None = None,
    checkpoint_meta: dict[str, Any] | None = None,
    resume: dict[str, Any] | None = None,
    extra_loss: ExtraLoss | None = None,
    callbacks: list[TrainingCallback] | None = None,
) -> FitResult:
    """Train `model` for `settings.epochs`, validating and checkpointing after every epoch.

    Args:
        train_batches: epoch index -> the LineBatch iterable of that epoch (deterministic per epoch).
        steps_per_epoch: batches per epoch (sizes the LR schedule).
        validate: model -> Predictions on the validation set (with loss).
        checkpoint_dir: where `last.pt`, `best_cer.pt` and `best_em.pt` go; None keeps nothing on disk.
        checkpoint_meta: JSON-native facts saved in every checkpoint (model config, charset, experiment config).
        resume: a `last.pt` payload to continue from.
        extra_loss: adds terms to the head's loss (distillation, quantization penalty).
        callbacks: told of every validated epoch after the settings' own stops (target CER, early
            stop, time budget); the first that returns a `StopRequest` stops training.
    """
    callbacks = [*standard_callbacks(settings), *(callbacks or [])]
    model.to(device)
    memory_format = training_memory_format(model, device)
    model.to(memory_format=memory_format)
    head = head_of(model)
    optimizer = build_optimizer(
        model, settings.learning_rate, settings.weight_decay, settings.part_lr_multipliers
    )
    scheduler = LRSchedule(optimizer, settings.lr_schedule, settings.warmup_ratio)
    total_steps = max(1, settings.epochs * steps_per_epoch)
    budget_seconds = settings.time_budget_minutes * 60
    dtype = autocast_dtype(settings.amp, device)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    ema = ExponentialMovingAverage(model, settings.ema_decay) if settings.ema else None
    state = {
        "epoch": 0,
        "batch": 0,
        "global_step": 0,
        "best_cer": math.inf,
        "best_em": -1.0,
        "best_epoch": 0,
        "stale_epochs": 0,
        "elapsed": 0.0,
        "history": [],
    }
    if resume is not None:
        model.load_state_dict(resume["model"])
        optimizer.load_state_dict(resume["optimizer"])
        scheduler.load_state_dict(resume["scheduler"])
        scaler.load_state_dict(resume["scaler"])
        if ema is not None and resume.get("ema"):
            ema.load_state_dict(resume["ema"])
        state.update(resume["state"])
        set_rng_state(resume["rng"])
    best_state: dict[str, torch.Tensor] | None = resume.get("best_weights") if resume else None

    def payload(eval_module: torch.nn.Module) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "phase": phase,
            **(checkpoint_meta or {}),
            "model": model.state_dict(),
            "ema": ema.state_dict() if ema else None,
            "eval_weights": {k: v.detach().clone() for k, v in eval_module.state_dict().items()},
            "best_weights": best_state,
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict(),
            "rng": rng_state(),
            "state": dict(state),
        }

    def save(name: str, eval_module: torch.nn.Module) -> None:
        if checkpoint_dir is None:
            return
        path = (
            checkpoint_dir / f"{name}.pt"
            if phase == "baseline"
            else checkpoint_dir / f"{artifact_stem(phase)}-{name}.pt"
        )
        size = save_checkpoint(path, payload(eval_module))
        sink(
            ArtifactSaved(
                artifact_kind="checkpoint",
                path=str(path),
                bytes=size,
                variant=None if phase == "baseline" else phase,
            )
        )

    stop_reason = state.get("stop_reason") or "epochs"
    stop: StopRequest | None = None
    started = time.monotonic() - state["elapsed"]

    def progress() -> float:
        done = state["global_step"] / total_steps
        return max(done, (time.monotonic() - started) / budget_seconds) if budget_seconds else done

    model.train()
    try:
        while state["epoch"] < settings.epochs and not state.get("stop_reason"):
            epoch = state["epoch"]
            epoch_start = time.monotonic() - state.get("epoch_seconds", 0.0)
            # Sums survive an interrupt, so a resumed epoch reports the same mean loss.
            loss_sum = torch.tensor(state.get("epoch_loss_sum", 0.0), dtype=torch.float64)
            lines = state.get("epoch_lines", 0)
            batches = iter(train_batches(epoch))
            skip = state["batch"]
            if skip:  # resumed mid-epoch: the epoch's batch order is deterministic, so skip what was done
                batches = itertools.islice(batches, skip, None)
            for batch in batches:
                images = batch.images.to(device, non_blocking=True).contiguous(memory_format=memory_format)
                with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                    logits = model(images)
                lengths = head.output_lengths(model, batch.widths, logits.shape[1])
                loss = head.loss(logits, batch.targets.to(device), batch.target_lengths, lengths)
                if extra_loss is not None:
                    extra, _ = extra_loss(model, batch, logits, lengths)
                    loss = loss + extra
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                if settings.grad_clip_norm > 0:
                    scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip_norm)
                scaler.step(optimizer)
                scaler.update()
                if ema is not None:
                    ema.update(model)
                state["batch"] += 1
                state["global_step"] += 1
                scheduler.apply(progress())
                loss_sum += loss.detach().double() * len(batch.texts)
                lines += len(batch.texts)
                state["epoch_loss_sum"], state["epoch_lines"] = float(loss_sum), lines
                state["epoch_seconds"] = time.monotonic() - epoch_start
                if budget_seconds and time.monotonic() - started >= budget_seconds:
                    break  # the budget is spent: validate what we have and stop
                if state["batch"] % 10 == 0:
                    sink(
                        StageProgress(
                            stage=phase,
                            completed=epoch + state["batch"] / steps_per_epoch,
                            total=settings.epochs,
                            message=f"loss {float(loss.detach()):.3f}",
                        )
                    )
            batches = None  # let go of the epoch's lines (rendered ahead: in memory) before the next's
            eval_module = ema.module if ema is not None else model
            val = validate(eval_module)
            metrics = val.metrics()
            state["epoch"] += 1
            state["batch"] = 0
            state["epoch_loss_sum"], state["epoch_lines"], state["epoch_seconds"] = 0.0, 0, 0.0
            state["elapsed"] = time.monotonic() - started
            record = {
                "epoch": state["epoch"],
                "train_loss": float(loss_sum) / max(1, lines),
                "val_loss": val.loss if val.loss is not None else float("nan"),
                "cer": metrics.cer,
                "em": metrics.em,
                "ned": metrics.ned,
                "lr": optimizer.param_groups[0]["lr"],
                "seconds": time.monotonic() - epoch_start,
                "lines": lines,
            }
            state["history"].append(record)
            improved_cer = metrics.cer < state["best_cer"]
            if improved_cer:
                state["best_cer"], state["best_epoch"], state["stale_epochs"] = metrics.cer, state["epoch"], 0
                best_state = {k: v.detach().clone() for k, v in eval_module.state_dict().items()}
            else:
                state["stale_epochs"] += 1
            improved_em = metrics.em > state["best_em"]
            if improved_em:
                state["best_em"] = metrics.em
            sink(
                EpochEnded(
                    phase=phase,
                    **{
                        k: record[k]
                        for k in ("epoch", "train_loss", "val_loss", "cer", "em", "lr", "seconds")
                    },
                    extra={"ned": metrics.ned, "lines": lines},
                )
            )
            save("last", eval_module)
            if improved_cer:
                save("best_cer", eval_module)
            if improved_em:
                save("best_em", eval_module)
            report = EpochReport(
                phase=phase,
                epoch=state["epoch"],
                epochs=settings.epochs,
                record=record,
                best_cer=state["best_cer"],
                stale_epochs=state["stale_epochs"],
                elapsed_seconds=state["elapsed"],
            )
            # every callback hears every epoch (a search's pruner records it), the first request wins
            requests = [cb.on_epoch_end(report) for cb in callbacks]
            stop = next((request for request in requests if request is not None), None)
            if stop is not None:
                stop_reason = stop.reason
                break
        if not state.get("stop_reason"):
            # Remember why training ended, so a resumed run goes straight on to what follows.
            state["stop_reason"] = stop_reason
            save("last", ema.module if ema is not None else model)
    except KeyboardInterrupt:
        stop_reason = "interrupted"
        state["elapsed"] = time.monotonic() - started
        # Mid-epoch state: resume skips the batches already seen in this epoch.
        save("last", ema.module if ema is not None else model)
    eval_model = ema.module if ema is not None else model
    if best_state is not None:
        eval_model.load_state_dict(best_state)
    # what follows (export, pruning, evaluation) gets the usual layout back
    for module in (model, eval_model):
        module.to(memory_format=torch.contiguous_format)
    return FitResult(
        history=state["history"],
        best_cer=state["best_cer"],
        best_em=state["best_em"],
        best_epoch=state["best_epoch"],
        stop_reason=stop_reason,
        eval_model=eval_model,
        stop=stop,
    )
