"""Latency, throughput and memory measurements shared by every variant, so figures compare fairly."""

from __future__ import annotations

import gc
import resource
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np


def time_calls(call: Callable[[], Any], *, runs: int, warmup: int = 3, collect: bool = True) -> list[float]:
    """Wall-clock milliseconds of `runs` calls after `warmup` untimed ones.

    The garbage collector is paused while timing (as `timeit` does), so no collection lands inside a timed
    call; `collect` runs one first. A caller that times in many short turns collects once itself: a full
    collection costs ~0.25 s in a process holding a model and its data, far more than the calls it precedes.
    """
    for _ in range(warmup):
        call()
    if collect:
        gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    timings = []
    try:
        for _ in range(runs):
            start = time.perf_counter()
            call()
            timings.append((time.perf_counter() - start) * 1000)
    finally:
        if was_enabled:
            gc.enable()
    return timings


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100) of a non-empty list."""
    return float(np.percentile(values, q))


def latency_summary(batch1: list[float], batch16: list[float] | None = None) -> dict[str, float]:
    """p50/p95/mean at batch 1 and lines per second at batch 16."""
    summary = {
        "latency_ms_p50": percentile(batch1, 50),
        "latency_ms_p95": percentile(batch1, 95),
        "latency_ms_mean": statistics.fmean(batch1),
        # the fastest call: what the variant costs when nothing else competes for the core
        "latency_ms_min": min(batch1),
    }
    if batch16:
        summary["throughput_lines_per_s_b16"] = 16 * 1000 / percentile(batch16, 50)
    return summary


def peak_rss_bytes() -> int:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
