"""GPU utilisation and memory for the heartbeat: read from torch/NVML on a GPU, nothing on a CPU run."""

from __future__ import annotations

import json

import pytest
import torch

from pipeline.config import resolve_config
from pipeline.core.events import DeviceUsage, EpochEnded, LogMessage, StageProgress, StageStarted
from pipeline.core.gpu_usage import DeviceUsageSink, sample_gpu, with_device_usage
from pipeline.runner import prepare_experiment, run_experiment
from store import Store, StoreRecorder

GIB = 1024**3


class _CudaOfAnH200:
    """The part of ``torch.cuda`` the sampler reads, answering as a busy H200 would (no GPU here)."""

    def __init__(self, *, nvml: bool = True) -> None:
        self.nvml = nvml

    def is_available(self) -> bool:
        return True

    def current_device(self) -> int:
        return 0

    def get_device_name(self, index: int) -> str:
        return "NVIDIA H200"

    def mem_get_info(self, index: int) -> tuple[int, int]:
        return 100 * GIB, 140 * GIB

    def memory_allocated(self, index: int) -> int:
        return 30 * GIB

    def memory_reserved(self, index: int) -> int:
        return 36 * GIB

    def max_memory_allocated(self, index: int) -> int:
        return 33 * GIB

    def utilization(self, index: int) -> int:
        if not self.nvml:
            raise ModuleNotFoundError("pynvml does not seem to be installed or it can't be imported.")
        return 87


def test_the_sampler_reads_memory_and_utilisation_of_the_runs_device():
    sample = sample_gpu(torch.device("cuda:0"), cuda=_CudaOfAnH200())
    assert sample == {
        "index": 0, "name": "NVIDIA H200", "memory_used_bytes": 40 * GIB, "memory_total_bytes": 140 * GIB,
        "allocated_bytes": 30 * GIB, "reserved_bytes": 36 * GIB, "peak_allocated_bytes": 33 * GIB,
        "util_percent": 87,
    }  # fmt: skip


def test_without_nvml_utilisation_is_unknown_and_memory_still_read():
    sample = sample_gpu(torch.device("cuda"), cuda=_CudaOfAnH200(nvml=False))
    assert sample["util_percent"] is None and sample["memory_used_bytes"] == 40 * GIB


def test_a_cpu_device_samples_nothing_and_keeps_the_sink_as_is():
    assert sample_gpu(torch.device("cpu")) is None

    def sink(event) -> None: ...

    assert with_device_usage(sink, torch.device("cpu")) is sink


def test_a_cuda_run_follows_progress_events_with_a_sample_at_most_every_interval():
    events: list = []
    now = [0.0]
    sink = DeviceUsageSink(
        events.append,
        torch.device("cuda:0"),
        interval_s=5.0,
        sampler=lambda device: sample_gpu(device, cuda=_CudaOfAnH200()),
        clock=lambda: now[0],
    )
    sink(StageStarted(stage="train", total=3))
    for second in (1, 2, 6):
        now[0] = second
        sink(StageProgress(stage="train", completed=second, total=10))
    sink(LogMessage(level="info", message="not a progress event"))
    kinds = [type(event).__name__ for event in events]
    assert kinds == [
        "StageStarted", "DeviceUsage", "StageProgress", "StageProgress", "StageProgress", "DeviceUsage",
        "LogMessage",
    ]  # fmt: skip
    assert events[1].gpus[0]["util_percent"] == 87


def test_the_recorder_puts_the_sample_in_every_heartbeat(tmp_path):
    store = Store(tmp_path)
    exp_id = store.create_experiment(name="gpu", template="tiny", config={}, model="crnn")["id"]
    recorder = StoreRecorder(store, exp_id)
    sample = sample_gpu(torch.device("cuda:0"), cuda=_CudaOfAnH200())
    recorder(StageStarted(stage="train", total=3))
    recorder(DeviceUsage(gpus=[sample]))
    recorder(EpochEnded(epoch=1, train_loss=1.0, val_loss=1.0, cer=0.5, em=0.1, lr=1e-3, seconds=1.0))
    beat = json.loads((store.experiment_dir(exp_id) / "heartbeat.json").read_text())
    assert beat["progress"] == "epoch 1" and beat["gpus"] == [sample]
    with pytest.raises(ValueError, match="gpus='87%' is not allowed; give a list of dicts"):
        store.heartbeat(exp_id, stage="train", gpus="87%")


def test_a_cpu_run_records_no_gpu_figures(tmp_path):
    torch.set_num_threads(1)
    config = resolve_config(
        "smoke",
        overrides={"num_train": "32", "num_val": "8", "num_test": "8", "epochs": "1", "device": "cpu"},
    )
    store = Store(tmp_path / "home")
    exp_id = store.create_experiment(name="cpu", template="smoke", config=config.to_dict(), model="crnn")[
        "id"
    ]
    recorder = StoreRecorder(store, exp_id)
    events: list = []
    beats: list = []

    def sink(event) -> None:
        events.append(event)
        recorder(event)
        beats.append(store.read_heartbeat(exp_id))
        if isinstance(event, StageStarted) and event.stage == "evaluate":
            raise KeyboardInterrupt  # trained and recorded: the rest of the run adds nothing here

    outcome = run_experiment(prepare_experiment(config), sink, store.experiment_dir(exp_id))
    assert outcome.status == "interrupted" and any(isinstance(event, EpochEnded) for event in events)
    assert not any(isinstance(event, DeviceUsage) for event in events)
    assert all(beat is not None and "gpus" not in beat for beat in beats)
