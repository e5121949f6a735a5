"""Device and thread choices, made explicitly: oversubscribed CPU threads make torch ~10x slower."""

from __future__ import annotations

import os
import time

import torch

from pipeline.core.cpu_features import has_native_bf16


def physical_cores() -> int:
    """CPU cores this process may use (affinity-aware), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def idle_cores(cores: set[int] | None = None, window_s: float = 0.25) -> float | None:
    """How many of `cores` (default: this process's) were idle over the next `window_s` seconds.

    Measured from /proc/stat rather than the load average: the 1-minute average still counts work that
    ended a minute ago, and counts this process's own start-up. None where /proc/stat is missing.
    """
    cores = cores if cores is not None else _affinity()

    def sample() -> tuple[int, int]:
        idle = total = 0
        with open("/proc/stat", encoding="ascii") as handle:
            for line in handle:
                name, *fields = line.split()
                if not name.startswith("cpu") or name == "cpu":
                    continue
                if name[3:].isdigit() and (cores is None or int(name[3:]) in cores):
                    values = [int(value) for value in fields[:8]]
                    idle += values[3] + values[4]  # idle + iowait
                    total += sum(values)
        return idle, total

    try:
        idle_before, total_before = sample()
        time.sleep(window_s)
        idle_after, total_after = sample()
    except (OSError, ValueError, IndexError):
        return None
    ticks = total_after - total_before
    if ticks <= 0:
        return None
    return len(cores or ()) * (idle_after - idle_before) / ticks if cores else None


def _affinity() -> set[int] | None:
    try:
        return set(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return None


def configure_threads(threads: int, *, data_workers: int = 0) -> int:
    """Set torch's intra-op threads; 0 picks one per idle core left after the data workers. Returns the count.

    Never more threads than free cores: the LSTM and conv kernels synchronise their threads at every
    step, so one preempted thread stalls them all.
    """
    if threads <= 0:
        cores = physical_cores()
        idle = idle_cores()
        if idle is None:
            try:
                idle = cores - os.getloadavg()[0]
            except OSError:
                idle = cores
        threads = max(1, min(cores - max(0, data_workers), int(idle + 0.5)))
    torch.set_num_threads(threads)
    return threads


def resolve_device(name: str) -> torch.device:
    """`auto` is CUDA when present, else CPU; an explicit CUDA request without CUDA is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RuntimeError(
                f"device={name} was asked for but CUDA is not available here; use --device cpu or auto"
            )
        index = int(name.split(":")[1]) if ":" in name else 0
        if index >= torch.cuda.device_count():
            raise RuntimeError(
                f"device={name} does not exist; this machine has {torch.cuda.device_count()} CUDA device(s)"
            )
    return torch.device(name)


def autocast_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for a config's `amp` on a device, or None for full precision.

    `auto` uses bf16 on CUDA devices that support it (fp16 otherwise), and on CPUs that multiply bf16
    in hardware: there a quickstart training step ran 1.1-1.5x faster (`python bench/train_bench.py`),
    and a 6-minute quickstart trained 20 epochs in bf16 where fp32 trained 17, to a lower CER. Other CPUs
    stay FP32: emulated bf16 only adds conversions. Autocast changes the arithmetic of training and
    validation only; every measured test CER and every exported model is FP32 (or the variant's own
    precision).
    """
    if amp == "off":
        return None
    if amp == "bf16":
        return torch.bfloat16
    if amp == "fp16":
        return torch.float16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and has_native_bf16():
        return torch.bfloat16
    return None
