"""Plain events the runner sends to its sink.

The runner never knows who listens: the CLI fans events out to the store recorder and a progress
display, tests collect them in a list. Every event is a frozen dataclass with a ``kind`` string and
JSON-native fields, so a listener that must not import ``pipeline`` (the store) can read it with
``dataclasses.asdict`` and dispatch on ``kind``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True)
class Event:
    kind: ClassVar[str] = "event"


@dataclass(frozen=True)
class RunStarted(Event):
    kind: ClassVar[str] = "run_started"
    config: dict[str, Any]
    device: str
    threads: int
    resumed_from_epoch: int = 0


@dataclass(frozen=True)
class StageStarted(Event):
    """A stage of the run began: ``data``, ``train``, ``compress``, ``export``, ``evaluate``."""

    kind: ClassVar[str] = "stage_started"
    stage: str
    detail: str = ""
    total: int | None = None  # steps in this stage when known (epochs, variants)


@dataclass(frozen=True)
class StageProgress(Event):
    """Coarse progress inside a stage (for progress bars); never stored per step."""

    kind: ClassVar[str] = "stage_progress"
    stage: str
    completed: float
    total: float
    message: str = ""


@dataclass(frozen=True)
class EpochEnded(Event):
    kind: ClassVar[str] = "epoch_ended"
    epoch: int
    train_loss: float
    val_loss: float
    cer: float
    em: float
    lr: float
    seconds: float
    phase: str = "baseline"  # which model trains: baseline, qat:<variant>, finetune:<variant>
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DeviceUsage(Event):
    """GPU utilisation and memory now (``pipeline.core.gpu_usage.sample_gpu``), one dict a device."""

    kind: ClassVar[str] = "device_usage"
    gpus: list[dict[str, Any]]


@dataclass(frozen=True)
class VariantEvaluated(Event):
    """One row of the comparison table: every figure measured on the shared test set."""

    kind: ClassVar[str] = "variant_evaluated"
    name: str
    metrics: dict[str, Any]


@dataclass(frozen=True)
class ArtifactSaved(Event):
    kind: ClassVar[str] = "artifact_saved"
    artifact_kind: str  # checkpoint, onnx, figure, report, predictions, config, log
    path: str
    bytes: int
    variant: str | None = None


@dataclass(frozen=True)
class LogMessage(Event):
    kind: ClassVar[str] = "log"
    level: str  # info, warning, error
    message: str


@dataclass(frozen=True)
class RunFinished(Event):
    kind: ClassVar[str] = "run_finished"
    status: str  # finished, interrupted, or a training callback's stop status (pruned, stopped)
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunFailed(Event):
    kind: ClassVar[str] = "run_failed"
    error: str


Sink = Callable[[Event], None]


def null_sink(event: Event) -> None:
    """A sink that drops every event."""
