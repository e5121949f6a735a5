"""Training callbacks: every epoch of every phase reaches them, the built-in stops behave as the settings
say, and a stop that ends the run is recorded with its own status, never as a failure."""

from __future__ import annotations

import torch

from pipeline.config import resolve_config
from pipeline.core.events import RunFailed, RunFinished
from pipeline.runner import prepare_experiment, run_experiment
from pipeline.training.callbacks import EarlyStop, EpochReport, StopRequest, TargetCer, TimeBudget
from store import Store, StoreRecorder


class Recorder:
    """Hears every epoch; optionally ends the run after `stop_after` reports, as a search's pruner would."""

    def __init__(self, stop_after: int | None = None, phase: str | None = None) -> None:
        self.reports: list[EpochReport] = []
        self.stop_after = stop_after
        self.phase = phase

    def on_epoch_end(self, report: EpochReport) -> StopRequest | None:
        self.reports.append(report)
        if self.stop_after is not None and (self.phase is None or report.phase.startswith(self.phase)):
            if sum(r.phase.startswith(self.phase or "") for r in self.reports) >= self.stop_after:
                return StopRequest(
                    "pruned", "trial pruned at intermediate CER", ends_run=True, status="pruned"
                )
        return None


def _config(**overrides):
    base = {"num_train": "32", "num_val": "8", "num_test": "8", "epochs": "2", "qat_epochs": "1"}
    return resolve_config("smoke", overrides={**base, **overrides})


def _report(**values) -> EpochReport:
    base = dict(phase="baseline", epoch=3, epochs=10, record={"cer": 0.2}, best_cer=0.1, stale_epochs=0)
    return EpochReport(**{**base, "elapsed_seconds": 0.0, **values})


def test_builtin_stops_follow_their_settings():
    assert TargetCer(0.2).on_epoch_end(_report()).reason == "target_cer"
    assert TargetCer(0.1).on_epoch_end(_report()) is None
    assert EarlyStop(2).on_epoch_end(_report(stale_epochs=2)).reason == "early_stop"
    assert EarlyStop(2).on_epoch_end(_report(stale_epochs=1)) is None
    assert TimeBudget(1.0).on_epoch_end(_report(elapsed_seconds=61)).reason == "time_budget"
    assert not TargetCer(0.2).on_epoch_end(_report()).ends_run


def test_every_epoch_of_baseline_and_qat_reaches_the_callbacks(tmp_path):
    torch.set_num_threads(1)
    heard = Recorder()
    config = _config(variants="ort-fp32,qat")
    outcome = run_experiment(prepare_experiment(config), lambda e: None, tmp_path, callbacks=[heard])
    assert outcome.status == "finished"
    assert [(r.phase, r.epoch) for r in heard.reports] == [("baseline", 1), ("baseline", 2), ("qat:qat", 1)]
    assert all(r.epochs == (2 if r.phase == "baseline" else 1) for r in heard.reports)


def test_a_stop_that_ends_the_run_is_recorded_pruned_not_failed(tmp_path):
    torch.set_num_threads(1)
    store = Store(tmp_path / "home")
    config = _config(epochs="3")
    exp_id = store.create_experiment(
        name="pruned-trial", template="smoke", config=config.to_dict(), model=config.model.model
    )["id"]
    recorder = StoreRecorder(store, exp_id)
    events: list = []

    def sink(event) -> None:
        events.append(event)
        recorder(event)

    pruner = Recorder(stop_after=1, phase="baseline")
    outcome = run_experiment(
        prepare_experiment(config), sink, store.experiment_dir(exp_id), callbacks=[pruner]
    )
    assert outcome.status == "pruned" and outcome.summary["stop_reason"] == "pruned"
    assert len(pruner.reports) == 1  # training stopped at the first epoch, nothing after it ran
    assert not any(isinstance(e, RunFailed) for e in events)
    assert isinstance(events[-1], RunFinished) and events[-1].status == "pruned"
    assert store.get(exp_id)["status"] == "pruned"
