"""The store recorder fed with the runner's real event dataclasses."""

from __future__ import annotations

import json
import time

import pytest

from pipeline.core.events import (
    ArtifactSaved,
    EpochEnded,
    LogMessage,
    RunFailed,
    RunFinished,
    RunStarted,
    StageProgress,
    StageStarted,
    VariantEvaluated,
)
from store import Store, StoreRecorder
from store import recorder as recorder_module


@pytest.fixture
def recorded(tmp_path):
    store = Store(tmp_path)
    exp_id = store.create_experiment(name="run", template="tiny", config={}, model="crnn")["id"]
    return store, exp_id, StoreRecorder(store, exp_id)


def _epoch(number: int, cer: float, em: float, phase: str = "baseline") -> EpochEnded:
    return EpochEnded(
        epoch=number, train_loss=1.0 / number, val_loss=float("nan"), cer=cer, em=em, lr=1e-3, seconds=0.5,
        phase=phase, extra={"grad_norm": 2.0},
    )  # fmt: skip


def test_a_whole_run_is_recorded(recorded):
    store, exp_id, recorder = recorded
    recorder(RunStarted(config={"template": "tiny"}, device="cpu", threads=1))
    summary = store.get(exp_id)
    assert summary["status"] == "running" and summary["heartbeat"]["progress"] == "started"

    recorder(StageStarted(stage="train", detail="baseline fp32", total=3))
    recorder(StageProgress(stage="train", completed=1, total=3, message="batch 10"))
    for number, cer, em in ((1, 0.40, 0.10), (2, 0.20, 0.30), (3, 0.25, 0.20)):
        recorder(_epoch(number, cer, em))
    recorder(_epoch(1, 0.05, 0.90, phase="qat:int8"))  # not the baseline: never the best
    document = store.get(exp_id)
    assert document["stage"] == "train" and document["heartbeat"]["stage"] == "train"
    assert [(epoch["epoch"], epoch["phase"]) for epoch in document["epochs"]] == [
        (1, "baseline"), (2, "baseline"), (3, "baseline"), (1, "qat:int8"),
    ]  # fmt: skip
    assert document["epochs"][0]["val_loss"] is None and document["epochs"][0]["extra"] == {"grad_norm": 2.0}
    # The index (O(experiments) to write) is not rewritten per epoch: the best waits for a stage end.
    assert document["best_cer"] is None

    recorder(StageStarted(stage="evaluate"))
    summary = store.list_experiments()[0]
    assert (summary["best_cer"], summary["best_em"], summary["stage"]) == (0.20, 0.30, "evaluate")

    recorder(VariantEvaluated(name="fp32", metrics={"cer": 0.2, "size_bytes": 4000}))
    recorder(VariantEvaluated(name="int8-static-ort", metrics={"cer": 0.21, "size_bytes": 1000}))
    recorder(VariantEvaluated(name="fp32", metrics={"cer": 0.19, "size_bytes": 4000}))
    recorder(
        ArtifactSaved(artifact_kind="onnx", path="models/int8.onnx", bytes=1000, variant="int8-static-ort")
    )
    recorder(LogMessage(level="warning", message="latency is noisy"))
    recorder(RunFinished(status="finished", summary={"size_ratio": 0.25, "speedup": 2.5, "status": "bogus"}))

    document = store.get(exp_id)
    assert document["status"] == "finished"
    assert (document["size_ratio"], document["speedup"], document["best_cer"]) == (0.25, 2.5, 0.20)
    assert [(v["name"], v["cer"]) for v in document["variants"]] == [
        ("fp32", 0.19),
        ("int8-static-ort", 0.21),
    ]
    # read back where it is in this home (stored relative to the experiment folder)
    assert document["artifacts"][0] | {"time": None} == {
        "kind": "onnx", "path": str(store.experiment_dir(exp_id) / "models/int8.onnx"), "bytes": 1000,
        "variant": "int8-static-ort", "time": None,
    }  # fmt: skip
    log = store.log_tail(exp_id)
    assert [line.split(" ", 1)[1] for line in log] == [
        "info run started on cpu with 1 threads",
        "info stage train started: baseline fp32",
        "info stage evaluate started",
        "warning latency is noisy",
        "info run finished",
    ]


def test_a_failed_run_keeps_its_error_and_best_so_far(recorded):
    store, exp_id, recorder = recorded
    recorder(RunStarted(config={}, device="cpu", threads=1, resumed_from_epoch=4))
    recorder(_epoch(5, 0.3, 0.5))
    recorder(RunFailed(error="RuntimeError: CUDA out of memory"))
    summary = store.list_experiments()[0]
    assert summary["status"] == "failed" and summary["error"] == "RuntimeError: CUDA out of memory"
    assert summary["best_cer"] == 0.3 and summary["best_em"] == 0.5
    assert store.log_tail(exp_id, 1)[0].endswith("error run failed: RuntimeError: CUDA out of memory")
    assert "resumed from epoch 4" in store.log_tail(exp_id)[0]


def test_an_interrupted_run(recorded):
    store, exp_id, recorder = recorded
    recorder(RunStarted(config={}, device="cpu", threads=1))
    recorder(RunFinished(status="interrupted"))
    assert store.get(exp_id)["status"] == "interrupted"


def test_the_heartbeat_thread_beats_while_no_event_comes(recorded):
    store, exp_id, recorder = recorded
    recorder(RunStarted(config={}, device="cpu", threads=1))
    recorder(StageStarted(stage="export", detail="onnx int8"))
    path = store.experiment_dir(exp_id) / "heartbeat.json"
    first = json.loads(path.read_text())["time"]
    recorder.start_heartbeat(interval=0.02)
    deadline = time.monotonic() + 5
    while json.loads(path.read_text())["time"] == first and time.monotonic() < deadline:
        time.sleep(0.01)
    beat = json.loads(path.read_text())
    recorder.stop()
    assert beat["time"] != first and beat["stage"] == "export" and beat["progress"] == "onnx int8"
    stopped_at = path.read_text()
    time.sleep(0.1)
    assert path.read_text() == stopped_at
    with pytest.raises(ValueError, match="interval=0"):
        recorder.start_heartbeat(interval=0)


def test_the_best_so_far_reaches_the_index_once_the_interval_passed(recorded, monkeypatch):
    store, exp_id, recorder = recorded
    recorder(RunStarted(config={}, device="cpu", threads=1))
    monkeypatch.setattr(recorder_module, "SUMMARY_INTERVAL_S", 0.0)
    recorder(_epoch(1, 0.4, 0.1))
    assert store.list_experiments()[0]["best_cer"] == 0.4
