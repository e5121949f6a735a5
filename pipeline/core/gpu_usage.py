"""GPU utilisation and memory of a run's CUDA device, sampled for the heartbeat.

Memory comes from torch alone: this process's allocated, reserved and peak bytes, and the device's
used/total bytes from the CUDA runtime (``mem_get_info``, what ``nvidia-smi`` shows). Utilisation needs
NVML, which ``torch.cuda.utilization`` reads through the ``pynvml`` module of ``nvidia-ml-py`` (the
binding NVIDIA publishes); without it, or without a driver that answers, utilisation is ``None``. A sample
never fails the run: whatever cannot be read is left out. CPU runs sample nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch

from pipeline.core.events import DeviceUsage, EpochEnded, Event, Sink, StageProgress, StageStarted

SAMPLE_INTERVAL_S = 5.0
# Events after which a sample may be taken: they arrive through the whole run, and never in a hot loop
# faster than the interval lets through.
_SAMPLE_AFTER = (StageStarted, StageProgress, EpochEnded)


def sample_gpu(device: torch.device, cuda: Any = None) -> dict[str, Any] | None:
    """Utilisation and memory of ``device`` now, or ``None`` for a device that is not CUDA.

    Args:
        device: the run's device.
        cuda: the ``torch.cuda`` module (tests hand in a stand-in to exercise the reading on a CPU box).

    Returns:
        ``index``, ``name``, ``util_percent`` (None without NVML), ``memory_used_bytes`` and
        ``memory_total_bytes`` (the whole device), ``allocated_bytes``, ``reserved_bytes`` and
        ``peak_allocated_bytes`` (this process); each None when it could not be read.
    """
    if device.type != "cuda":
        return None
    cuda = cuda if cuda is not None else torch.cuda
    if not cuda.is_available():
        return None
    index = device.index if device.index is not None else cuda.current_device()
    sample: dict[str, Any] = {"index": index}
    sample["name"] = _read(lambda: str(cuda.get_device_name(index)))
    free_total = _read(lambda: cuda.mem_get_info(index))
    free, total = free_total if free_total is not None else (None, None)
    sample["memory_used_bytes"] = int(total - free) if free is not None else None
    sample["memory_total_bytes"] = int(total) if total is not None else None
    sample["allocated_bytes"] = _read(lambda: int(cuda.memory_allocated(index)))
    sample["reserved_bytes"] = _read(lambda: int(cuda.memory_reserved(index)))
    sample["peak_allocated_bytes"] = _read(lambda: int(cuda.max_memory_allocated(index)))
    sample["util_percent"] = _read(lambda: _percent(cuda.utilization(index)))
    return sample


def _percent(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and 0 <= value <= 100 else None


def _read(reader: Callable[[], Any]) -> Any:
    # ModuleNotFoundError (no pynvml), NVMLError (no driver), RuntimeError (CUDA): all mean "unknown".
    try:
        return reader()
    except Exception:  # noqa: BLE001 - a figure we cannot read is left out, never fatal
        return None


class DeviceUsageSink:
    """Forwards every event to ``sink`` and, at most every ``interval_s``, follows one with a sample.

    Args:
        sink: where events go.
        device: the run's device.
        interval_s: the least time between two samples.
        sampler: reads one sample (tests hand in one that does not need a GPU).
        clock: monotonic seconds (tests hand in their own).
    """

    def __init__(
        self,
        sink: Sink,
        device: torch.device,
        *,
        interval_s: float = SAMPLE_INTERVAL_S,
        sampler: Callable[[torch.device], dict[str, Any] | None] = sample_gpu,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sink, self.device, self.interval_s = sink, device, interval_s
        self.sampler, self.clock = sampler, clock
        self._last: float | None = None

    def __call__(self, event: Event) -> None:
        self.sink(event)
        if not isinstance(event, _SAMPLE_AFTER):
            return
        now = self.clock()
        if self._last is not None and now - self._last < self.interval_s:
            return
        self._last = now
        sample = self.sampler(self.device)
        if sample is not None:
            self.sink(DeviceUsage(gpus=[sample]))


def with_device_usage(sink: Sink, device: torch.device, interval_s: float = SAMPLE_INTERVAL_S) -> Sink:
    """``sink`` with GPU samples added on a CUDA device; on any other device ``sink`` itself."""
    if device.type != "cuda":
        return sink
    return DeviceUsageSink(sink, device, interval_s=interval_s)
