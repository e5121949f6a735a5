"""Thread choice: explicit counts are kept; automatic counts leave busy cores alone."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from pipeline.core import cpu_features
from pipeline.core.device import autocast_dtype, configure_threads, idle_cores

CPU = torch.device("cpu")


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_a_core_kept_busy_by_another_process_is_not_idle():
    core = min(os.sched_getaffinity(0))
    spinner = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import os, time; os.sched_setaffinity(0, {{{core}}}); end = time.time() + 20\nwhile time.time() < end: pass",
        ]
    )
    try:
        idle = idle_cores({core}, window_s=0.5)  # the spinner starts within the window's first part
        idle = idle_cores({core}, window_s=0.5)
    finally:
        spinner.kill()
        spinner.wait()
    assert idle is not None and idle < 0.3


def test_explicit_thread_counts_are_kept_and_auto_leaves_room_for_workers(restore_threads):
    assert configure_threads(3) == 3 and torch.get_num_threads() == 3
    cores = len(os.sched_getaffinity(0))
    assert configure_threads(0, data_workers=cores) == 1  # every core given to data workers: one thread
    assert 1 <= configure_threads(0) <= cores


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ({"avx2", "avx512f", "avx512_bf16"}, torch.bfloat16),  # Zen 4, Cooper Lake
        ({"avx2", "amx_tile", "amx_bf16"}, torch.bfloat16),  # Sapphire Rapids
        ({"asimd", "bf16"}, torch.bfloat16),  # Arm with the BF16 extension (Graviton 3)
        ({"avx2", "avx512f", "avx512_vnni"}, None),  # Cascade Lake: bf16 would only be emulated
        ({"asimd"}, None),
        (set(), None),  # no /proc/cpuinfo (macOS, Windows)
    ],
)
def test_amp_auto_trains_in_bf16_only_on_cpus_that_multiply_it_in_hardware(monkeypatch, flags, expected):
    monkeypatch.setattr(cpu_features, "cpu_flags", lambda: frozenset(flags))
    assert autocast_dtype("auto", CPU) is expected
    assert autocast_dtype("off", CPU) is None
    assert autocast_dtype("bf16", CPU) is torch.bfloat16  # asked for by name: given, emulated or not
