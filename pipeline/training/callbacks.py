"""Training callbacks: `fit` reports every epoch to them, and any of them may ask it to stop.

A stop is a `StopRequest`: why (`reason`) and what the run becomes (`status`). The built-in stops
(target CER, early stop, time budget) end training only, and the run goes on to evaluate and compress
the best weights (`status="finished"`). A stop with `ends_run` (a search's pruner cutting a poor
trial) ends the whole run with its own status, such as `pruned`: the runner records it as that,
never as `failed`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

# Statuses a run can end with when a callback stops it (beside finished, failed and interrupted).
STOP_STATUSES = ("pruned", "stopped")


@dataclass(frozen=True)
class EpochReport:
    """What a callback learns after each validated epoch.

    Attributes:
        phase: `baseline`, or the QAT / finetune phase (`qat:qat`, `finetune:pruned`).
        epoch: Epochs done in this phase (1-based).
        epochs: Epochs this phase was asked for.
        record: The epoch's figures (train_loss, val_loss, cer, em, ned, lr, seconds, lines).
        best_cer: Best validation CER of the phase so far.
        stale_epochs: Epochs since the CER last improved.
        elapsed_seconds: Training time of the phase so far.
    """

    phase: str
    epoch: int
    epochs: int
    record: dict[str, Any]
    best_cer: float
    stale_epochs: int
    elapsed_seconds: float


@dataclass(frozen=True)
class StopRequest:
    """A callback's request to stop.

    Attributes:
        reason: Short name recorded as the stop reason (`target_cer`, `early_stop`, `pruned`, ...).
        message: One line for the log.
        ends_run: Stop the whole run, not only this training phase.
        status: The run's status when `ends_run` (one of `STOP_STATUSES`).
    """

    reason: str
    message: str = ""
    ends_run: bool = False
    status: str = "finished"

    def __post_init__(self) -> None:
        if self.ends_run and self.status not in STOP_STATUSES:
            raise ValueError(f"status={self.status!r} cannot end a run; allowed {', '.join(STOP_STATUSES)}")


class TrainingCallback(Protocol):
    """Anything with `on_epoch_end(report) -> StopRequest | None`."""

    def on_epoch_end(self, report: EpochReport) -> StopRequest | None: ...


class RunStopped(Exception):
    """Raised past `fit` when a callback's stop ends the run; the runner records `stop.status`."""

    def __init__(self, stop: StopRequest) -> None:
        super().__init__(stop.message or stop.reason)
        self.stop = stop


@dataclass
class TargetCer:
    """Stop once validation CER reaches `target` (a fraction)."""

    target: float

    def on_epoch_end(self, report: EpochReport) -> StopRequest | None:
        if report.record["cer"] <= self.target:
            return StopRequest("target_cer", f"validation CER reached target_cer={self.target}")
        return None


@dataclass
class EarlyStop:
    """Stop after `patience` epochs without a better validation CER."""

    patience: int

    def on_epoch_end(self, report: EpochReport) -> StopRequest | None:
        if report.stale_epochs >= self.patience:
            return StopRequest("early_stop", f"no CER gain in {self.patience} epochs")
        return None


@dataclass
class TimeBudget:
    """Stop once training has taken `minutes`."""

    minutes: float

    def on_epoch_end(self, report: EpochReport) -> StopRequest | None:
        if report.elapsed_seconds >= self.minutes * 60:
            return StopRequest("time_budget", f"time_budget_minutes={self.minutes} spent")
        return None


def standard_callbacks(settings) -> list[TrainingCallback]:
    """The stops a `FitSettings` asks for, in the order they are checked."""
    callbacks: list[TrainingCallback] = []
    if settings.target_cer > 0:
        callbacks.append(TargetCer(settings.target_cer))
    if settings.early_stop_patience:
        callbacks.append(EarlyStop(settings.early_stop_patience))
    if settings.time_budget_minutes:
        callbacks.append(TimeBudget(settings.time_budget_minutes))
    return callbacks
