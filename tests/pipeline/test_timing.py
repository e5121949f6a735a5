"""Latency timing: no garbage collection lands inside a timed call, and the collector is left as found."""

import gc

import pytest

from pipeline.evaluation.timing import time_calls


@pytest.mark.parametrize("collect", [True, False])
def test_the_collector_is_paused_while_timing_and_restored_after(collect):
    seen = []
    timings = time_calls(lambda: seen.append(gc.isenabled()), runs=5, warmup=2, collect=collect)
    assert len(timings) == 5 and all(t >= 0 for t in timings)
    assert seen[:2] == [True, True]  # warm-up calls run as the program would
    assert seen[2:] == [False] * 5  # timed calls: no collection can stall one of them
    assert gc.isenabled()


def test_a_call_that_raises_leaves_the_collector_on():
    def boom():
        if not gc.isenabled():
            raise RuntimeError("failed mid-measurement")

    with pytest.raises(RuntimeError):
        time_calls(boom, runs=3, warmup=0)
    assert gc.isenabled()
