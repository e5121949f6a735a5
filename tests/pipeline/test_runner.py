"""How a run ends when Ctrl-C arrives somewhere other than the training loop."""

from __future__ import annotations

import torch

from pipeline.config import resolve_config
from pipeline.core.events import RunFailed, RunFinished, StageStarted
from pipeline.runner import prepare_experiment, run_experiment


def test_ctrl_c_inside_an_extension_import_ends_interrupted_not_failed(tmp_path):
    """A C extension interrupted while it initialises re-raises Ctrl-C as `ImportError: initialization
    failed` (ONNX Runtime does when a stop lands during its import); the run must still end `interrupted`."""
    torch.set_num_threads(1)
    config = resolve_config(
        "smoke", overrides={"num_train": "32", "num_val": "8", "num_test": "8", "epochs": "1"}
    )
    events: list = []

    def sink(event) -> None:
        events.append(event)
        if isinstance(event, StageStarted) and event.stage == "evaluate":
            try:
                raise KeyboardInterrupt
            except KeyboardInterrupt as interrupt:
                raise ImportError("initialization failed") from interrupt

    outcome = run_experiment(prepare_experiment(config), sink, tmp_path)
    assert outcome.status == "interrupted"
    assert not any(isinstance(e, RunFailed) for e in events)
    assert isinstance(events[-1], RunFinished) and events[-1].status == "interrupted"


def test_a_real_import_error_still_fails_the_run(tmp_path):
    torch.set_num_threads(1)
    config = resolve_config(
        "smoke", overrides={"num_train": "32", "num_val": "8", "num_test": "8", "epochs": "1"}
    )

    def sink(event) -> None:
        if isinstance(event, StageStarted) and event.stage == "evaluate":
            raise ImportError("initialization failed")

    outcome = run_experiment(prepare_experiment(config), sink, tmp_path)
    assert outcome.status == "failed" and "ImportError: initialization failed" in outcome.error
