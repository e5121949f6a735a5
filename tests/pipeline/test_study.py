"""pipeline.study with real Optuna: spaces, grid coverage, the NSGA-II front, pruning and dead workers."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import optuna
import pytest

from pipeline.config import ConfigError
from pipeline.study.objective import Objective, TrialMetrics
from pipeline.study.outputs import OUTPUT_FILES, best_trials, write_outputs
from pipeline.study.search import (
    PrunerCallback,
    StudySettings,
    TrialOutcome,
    create_or_load,
    fail_dead_trials,
    load_study,
    make_sampler,
    pruning_peers,
    run_worker,
)
from pipeline.study.space import default_space, parse_space, read_space_file
from pipeline.training.callbacks import EpochReport

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _fake_rows(variant: str, params: dict) -> TrialOutcome:
    """Figures that depend on the parameters, so objectives differ between trials."""
    ratio = float(params.get("calibration_batches", 1)) + (2.0 if "static" in variant else 1.0)
    cer = 0.05 + 0.01 * ratio
    return TrialOutcome(
        "finished",
        experiment_id=None,
        row={"cer": cer, "compression_ratio": ratio, "speedup": 4.0 / ratio, "size_bytes": int(1e6 / ratio),
             "latency_ms_p50": ratio},
        fp32_row={"cer": 0.05},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ({"strategy": []}, "no choices"),
        ({"strategy": ["ptq"], "qat_epochs": {"low": 3, "high": 1}}, "low 3 > high 1"),
        ({"strategy": ["ptq"], "warp_factor": [1, 2]}, "unknown config key 'warp_factor'"),
        ({"strategy": ["ptq"], "group_size": [32, 48]}, "group_size=48 is not allowed"),
        ({"strategy": ["teleport"]}, "strategy 'teleport' is not allowed"),
        ({"strategy": ["ptq"], "pruning_ratio": {"low": 0.1, "high": 0.5}}, "set by none of the strategies"),
        ({"strategy": ["pruned"], "pruning_ratio": {"low": 0.1, "high": 2.0}}, "out of range"),
        ({"group_size": [32]}, "no 'strategy'"),
        ({"strategy": ["qat"], "qat_epochs": {"low": 1, "high": 2, "log": True, "bogus": 1}}, "bogus"),
    ],
)
def test_bad_spaces_are_refused_with_one_line(space, message):
    with pytest.raises(ConfigError) as error:
        parse_space(space)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_space_file_and_defaults(tmp_path):
    path = tmp_path / "space.json"
    path.write_text(json.dumps({"strategy": ["qat"], "qat-epochs": {"low": 1, "high": 3}}))
    space = read_space_file(path)
    assert space.to_dict() == {"strategy": {"choices": ["qat"]}, "qat_epochs": {"low": 1, "high": 3}}
    assert default_space("quickstart", "crnn_tiny").kinds == (
        "ptq", "qat", "pruned-int8", "ort-int8-static", "ort-int8-dynamic",
    )  # fmt: skip
    assert "ort-int4-weight" in default_space("ocr_balanced", "svtr_small").kinds


def test_grid_search_visits_exactly_its_grid(tmp_path):
    space = {"strategy": ["ort-int8-static", "ort-int8-dynamic"], "calibration_batches": [1, 2, 4]}
    settings = StudySettings(name="grid", method="grid_search", n_trials=50, space=space)
    study, _ = create_or_load(settings, str(tmp_path / "j.log"))
    seen = []
    run_worker(study, settings, lambda n, v, p, c: (seen.append(v), _fake_rows(v, p))[1])
    visited = sorted((t.params["strategy"], t.params["calibration_batches"]) for t in study.trials)
    assert visited == sorted((s, c) for s in space["strategy"] for c in space["calibration_batches"])
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)


def test_workers_with_their_own_seeds_share_one_grid_without_repeats(tmp_path):
    """Each worker's sampler is seeded apart; a grid must still be one grid: trials store only a grid
    index, so a worker that shuffled the grid otherwise would run one point twice and miss another."""
    space = {"strategy": ["ort-int8-static"], "observer_type": ["min_max", "percentile", "entropy"]}
    settings = StudySettings(name="shared-grid", method="grid_search", n_trials=3, space=space)
    journal = str(tmp_path / "j.log")
    create_or_load(settings, journal)
    for worker in (0, 1, 2):  # one trial each, as three workers taking turns would
        study, stored = load_study("shared-grid", journal, worker=worker)
        stored.n_trials = worker + 1
        run_worker(study, stored, lambda n, v, p, c: _fake_rows(v, p))
    trials = load_study("shared-grid", journal)[0].trials
    assert sorted(t.params["observer_type"] for t in trials) == ["entropy", "min_max", "percentile"]


def test_nsga2_returns_a_non_dominated_front(tmp_path):
    space = {"strategy": ["ort-int8-static", "ort-int8-dynamic"], "calibration_batches": [1, 2, 4, 8, 16]}
    settings = StudySettings(name="front", method="nsga2", n_trials=12, space=space)
    study, _ = create_or_load(settings, str(tmp_path / "j.log"))
    run_worker(study, settings, lambda n, v, p, c: _fake_rows(v, p))
    front = best_trials(study)
    complete = [t for t in study.trials if t.values]
    assert len(study.directions) == 3 and front
    for member in front:
        assert not any(
            all(a <= b for a, b in zip(o.values, member.values, strict=True)) and o.values != member.values
            for o in complete
        )
    # every trial off the front is dominated by one on it
    off = [t for t in complete if t.number not in {m.number for m in front}]
    for trial in off:
        assert any(all(a <= b for a, b in zip(m.values, trial.values, strict=True)) for m in front)
    paths = write_outputs(study, settings, str(tmp_path / "j.log"), tmp_path / "out")
    assert [p.name for p in paths] == list(OUTPUT_FILES)
    assert json.loads((tmp_path / "out" / "best_quantization_config.json").read_text())["trial_numbers"]


def test_weighted_targets_and_threshold():
    metrics = TrialMetrics(
        cer=0.10, fp32_cer=0.05, compression_ratio=4.0, speedup=2.0, size_bytes=1, latency_ms=1
    )
    retention = 0.90 / 0.95
    assert Objective("balanced").score(metrics) == pytest.approx(0.6 * retention + 0.2 * 0.75 + 0.2 * 0.5)
    assert Objective("compression").score(metrics) == pytest.approx(0.3 * retention + 0.6 * 0.75 + 0.1 * 0.5)
    assert Objective("balanced", min_accuracy_threshold=0.99).constraint(metrics) > 0
    assert Objective("balanced", min_accuracy_threshold=0.90).constraint(metrics) <= 0


def test_pruner_callback_ends_the_run_pruned(tmp_path):
    settings = StudySettings(name="prune", n_trials=1, space={"strategy": ["qat"]})
    study = optuna.create_study(pruner=optuna.pruners.ThresholdPruner(upper=0.5))
    trial = study.ask()
    callback = PrunerCallback(trial)
    report = EpochReport("qat:qat", 1, 3, {"cer": 0.9}, 0.9, 0, 1.0)
    stop = callback.on_epoch_end(report)
    assert stop is not None and stop.ends_run and stop.status == "pruned"
    assert trial.storage.get_trial(trial._trial_id).intermediate_values == {1: 0.9}
    del settings


def test_a_trial_whose_training_is_done_is_measured_not_pruned():
    """Pruning at a phase's last epoch would save only the measurement and lose the finished training."""
    study = optuna.create_study(pruner=optuna.pruners.ThresholdPruner(upper=0.5))
    trial = study.ask()
    callback = PrunerCallback(trial)
    assert callback.on_epoch_end(EpochReport("finetune:pruned", 1, 2, {"cer": 0.3}, 0.3, 0, 1.0)) is None
    assert callback.on_epoch_end(EpochReport("finetune:pruned", 2, 2, {"cer": 0.9}, 0.3, 1, 2.0)) is None
    assert trial.storage.get_trial(trial._trial_id).intermediate_values == {1: 0.3, 2: 0.9}


def test_failed_trial_is_recorded_and_the_study_goes_on(tmp_path):
    settings = StudySettings(
        name="fails", method="random_search", n_trials=3, space={"strategy": ["ort-int8-dynamic"]}
    )
    study, _ = create_or_load(settings, str(tmp_path / "j.log"))

    def run_trial(number, variant, params, callbacks):
        if number == 1:
            return TrialOutcome("failed", error="RuntimeError: NaN loss")
        return _fake_rows(variant, params)

    run_worker(study, settings, run_trial)
    states = [t.state.name for t in study.trials]
    assert states == ["COMPLETE", "FAIL", "COMPLETE"]
    assert study.trials[1].user_attrs["error"] == "RuntimeError: NaN loss"


def test_a_killed_workers_trial_is_failed_when_a_worker_starts(tmp_path):
    journal = tmp_path / "j.log"
    settings = StudySettings(name="killed", method="random_search", n_trials=2, space={"strategy": ["ptq"]})
    create_or_load(settings, str(journal))
    # A real process starts a trial and is SIGKILLed (it kills itself) while the trial runs.
    script = textwrap.dedent(f"""
        import os, signal
        from pipeline.study.search import load_study, run_worker
        study, settings = load_study("killed", {str(journal)!r})
        run_worker(study, settings, lambda *a: os.kill(os.getpid(), signal.SIGKILL))
    """)
    child = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).parents[2], timeout=120)
    assert child.returncode == -9
    study, _ = load_study("killed", str(journal))
    assert [t.state.name for t in study.trials] == ["RUNNING"]
    assert fail_dead_trials(study) == [0]
    trial = load_study("killed", str(journal))[0].trials[0]
    assert trial.state.name == "FAIL" and "worker died" in trial.user_attrs["error"]
    assert trial.user_attrs["pid"] != os.getpid()


def test_trials_under_the_accuracy_threshold_are_infeasible_and_never_best(tmp_path):
    space = {"strategy": ["ort-int8-static", "ort-int8-dynamic"], "calibration_batches": [1, 2, 4]}
    settings = StudySettings(
        name="feasible", method="bayesian", n_trials=6, space=space, min_accuracy_threshold=0.9
    )
    study, _ = create_or_load(settings, str(tmp_path / "j.log"))

    def run_trial(number, variant, params, callbacks):
        outcome = _fake_rows(variant, params)
        if "static" in variant:  # the most compressed ones lose accuracy: infeasible
            outcome.row["cer"] = 0.6
        return outcome

    run_worker(study, settings, run_trial)
    best = best_trials(study)
    assert best and "dynamic" in best[0].user_attrs["variant"]
    assert any(t.user_attrs["constraint"] > 0 for t in study.trials)


def test_a_running_study_whose_process_is_gone_shows_crashed(tmp_path):
    from store import Store, this_host

    store = Store(tmp_path / "home")
    study = store.create_study(name="gone", directions=["maximize"], config={})
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    store.update_study(study["id"], pid=child.pid, host=this_host())
    store.set_study_status(study["id"], "running")
    assert store.get_study("gone")["status"] == "crashed"
    store.update_study(study["id"], pid=os.getpid())
    assert [s["status"] for s in store.list_studies()] == ["running"]


def test_pruned_trials_carry_no_objective_value(tmp_path):
    settings = StudySettings(name="cut", n_trials=2, space={"strategy": ["qat"]})
    study, _ = create_or_load(settings, str(tmp_path / "j.log"))

    def run_trial(number, variant, params, callbacks):
        callbacks[0].trial.report(0.7, 1)
        return TrialOutcome("pruned", error="cut")

    run_worker(study, settings, run_trial)
    from pipeline.study.storage import trial_record

    records = [trial_record(t) for t in study.trials]
    assert [r["state"] for r in records] == ["pruned", "pruned"]
    assert all(r["values"] is None and r["intermediate_cer"] == [0.7] for r in records)


def test_parallel_workers_do_not_draw_the_same_parameters(tmp_path):
    """Each worker process seeds its sampler apart; with one seed, two workers duplicated every trial."""
    space = default_space("quickstart", "crnn_tiny").to_dict()
    drawn = []
    for worker in (0, 1):
        settings = StudySettings(name=f"w{worker}", method="random_search", n_trials=6, space=space)
        study, _ = create_or_load(settings, str(tmp_path / f"{worker}.log"))
        study.sampler = make_sampler(settings, worker)
        run_worker(study, settings, lambda n, v, p, c: _fake_rows(v, p))
        drawn.append([t.params for t in study.trials])
    assert drawn[0] != drawn[1]


def test_the_templates_own_variants_are_the_first_trials(tmp_path):
    from pipeline.config import resolve_config
    from pipeline.study.search import enqueue_template_variants

    config = resolve_config("quickstart")
    space = default_space("quickstart", "crnn_tiny")
    settings = StudySettings(name="warm", n_trials=5, space=space.to_dict())
    study, _ = create_or_load(settings, str(tmp_path / "j.log"))
    kinds = ["ort-fp32", "ort-int8-dynamic", "ort-int8-static", "ptq", "qat", "pruned-int8"]
    queued = enqueue_template_variants(study, space, kinds, config.get)
    assert [q["strategy"] for q in queued] == [
        "ort-int8-dynamic",
        "ort-int8-static",
        "ptq",
        "qat",
        "pruned-int8",
    ]
    seen = []
    run_worker(study, settings, lambda n, v, p, c: (seen.append(v), _fake_rows(v, p))[1])
    assert (
        seen[4].startswith("pruned-int8(")
        and f"pruning_ratio={config.pruning.pruning_ratio}" in seen[4]
        and f"finetune_epochs={config.pruning.finetune_epochs}" in seen[4]
    )
    assert seen[:4] == [
        "ort-int8-dynamic",
        "ort-int8-static(calibration_batches=4,observer_type=percentile)",
        seen[2],
        seen[3],
    ] and seen[2].startswith("ptq(")


def test_the_warm_start_keeps_boolean_and_budget_settings_of_an_imports_variants(tmp_path):
    """An import's own variants are queued as they were built: skip_first_last=false is a choice like
    any other, and the mixed variant's own budget wins over the config's."""
    from pipeline.study.search import enqueue_template_variants
    from pipeline.study.space import default_import_space

    space = default_import_space(has_matmul=True)
    settings = StudySettings(name="warm-import", n_trials=4, space=space.to_dict())
    study, _ = create_or_load(settings, str(tmp_path / "j.log"))
    config = {"skip_first_last": False, "observer_type": "min_max", "accuracy_budget_pp": 0.1,
              "quantization_granularity": "per_channel", "group_size": 32}  # fmt: skip
    kinds = ["ort-fp32", "ort-int8-static", "ort-int8-mixed"]
    queued = enqueue_template_variants(study, space, kinds, config.get)
    assert queued == [
        {"strategy": "ort-int8-static", "observer_type": "min_max", "quantization_granularity": "per_channel",
         "skip_first_last": False},
        {"strategy": "ort-int8-mixed", "observer_type": "min_max", "quantization_granularity": "per_channel",
         "skip_first_last": False, "accuracy_budget_pp": 0.1},
    ]  # fmt: skip
    seen = []
    run_worker(study, settings, lambda n, v, p, c: (seen.append(v), _fake_rows(v, p))[1])
    assert (
        seen[0]
        == "ort-int8-static(observer_type=min_max,quantization_granularity=per_channel,skip_first_last=false)"
    )


def test_a_short_study_queues_no_more_template_variants_than_it_runs(tmp_path):
    """A one-trial study must not leave the template's other variants queued as `waiting` for good."""
    from pipeline.config import resolve_config
    from pipeline.study.search import enqueue_template_variants

    config = resolve_config("quickstart")
    space = default_space("quickstart", "crnn_tiny")
    settings = StudySettings(name="short", n_trials=1, space=space.to_dict())
    study, _ = create_or_load(settings, str(tmp_path / "j.log"))
    kinds = ["ort-fp32", "ort-int8-dynamic", "ort-int8-static", "ptq", "qat", "pruned-int8"]
    queued = enqueue_template_variants(study, space, kinds, config.get, limit=settings.n_trials)
    assert [q["strategy"] for q in queued] == ["ort-int8-dynamic"]
    run_worker(study, settings, lambda n, v, p, c: _fake_rows(v, p))
    assert [t.state.name for t in study.trials] == ["COMPLETE"]


_STRATEGIES = optuna.distributions.CategoricalDistribution(["qat", "pruned", "pruned-int8"])
_CUTS = optuna.distributions.CategoricalDistribution([0.3, 0.7])
_LR = optuna.distributions.CategoricalDistribution([0.3, 1.0])
_DISTRIBUTIONS = {"pruning_ratio": _CUTS, "finetune_lr_multiplier": _LR}


def _finished_trial(strategy: str, cers: list[float], value: float, **params) -> optuna.trial.FrozenTrial:
    return optuna.trial.create_trial(
        params={"strategy": strategy, **params}, value=value,
        distributions={"strategy": _STRATEGIES, **{name: _DISTRIBUTIONS[name] for name in params}},
        intermediate_values=dict(enumerate(cers, start=1)),
    )  # fmt: skip


def _running_trial(
    study: optuna.Study, strategy: str, cers: list[float], **params
) -> tuple[optuna.Trial, list[bool]]:
    """A trial of `strategy` (and `params`) reporting `cers`, with what the study's pruner said after each epoch."""
    study.enqueue_trial({"strategy": strategy, **params})
    trial = study.ask()
    trial.suggest_categorical("strategy", list(_STRATEGIES.choices))
    for name in params:
        trial.suggest_categorical(name, list(_DISTRIBUTIONS[name].choices))
    said = []
    for step, cer in enumerate(cers, start=1):
        trial.report(cer, step)
        said.append(bool(trial.should_prune()))
    return trial, said


def test_the_median_pruner_compares_a_trial_only_with_trials_of_its_strategy(tmp_path):
    settings = StudySettings(
        name="mixed", pruner="median", n_trials=10, space={"strategy": ["qat", "pruned"]}
    )
    study, _ = create_or_load(settings, str(tmp_path / "j.log"))
    for _ in range(4):  # prune-and-finetune trials: their epochs' CER is low from the start
        study.add_trial(_finished_trial("pruned", [0.05, 0.04, 0.03], 0.9))
    # A QAT trial whose epochs read worse than every finetune epoch (another curve, not a worse trial).
    qat, said = _running_trial(study, "qat", [0.6, 0.5, 0.4])
    assert said == [False, False, False]
    assert qat.params["strategy"] == "qat"
    # A median over every trial would have cut it at the first epoch.
    everyone = optuna.create_study(direction="minimize")
    everyone.add_trials([t for t in study.trials if t.state.name == "COMPLETE"])
    plain = optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=0)
    assert plain.prune(everyone, study._storage.get_trial(qat._trial_id))
    # Among its own strategy, a trial reading worse than the rest is still cut, and a better one is not
    # (the study maximizes its score; the intermediate values are CER, lower is better).
    assert _running_trial(study, "pruned", [0.7, 0.6, 0.5])[1][0]
    assert _running_trial(study, "pruned", [0.02, 0.01, 0.01])[1] == [False, False, False]
    assert study.direction.name == "MAXIMIZE"


def test_the_best_trials_follow_each_objectives_direction():
    from optuna.trial import TrialState, create_trial

    from pipeline.study.storage import best_trials

    def trial(number, state, values):
        frozen = create_trial(state=state, values=values)
        frozen.number = number
        return frozen

    trials = [
        trial(0, TrialState.COMPLETE, [0.10, 3.0]),
        trial(1, TrialState.COMPLETE, [0.12, 7.0]),
        trial(2, TrialState.COMPLETE, [0.12, 2.0]),  # worse than 0 on both
        trial(3, TrialState.RUNNING, None),
        trial(4, TrialState.PRUNED, None),
    ]
    assert {t.number for t in best_trials(trials, ["minimize", "maximize"])} == {0, 1}
    assert {t.number for t in best_trials(trials, ["maximize", "minimize"])} == {
        2
    }  # ties on CER, smaller size
    single = [trial(0, TrialState.COMPLETE, [0.5]), trial(1, TrialState.COMPLETE, [0.7]), trials[4]]
    assert [t.number for t in best_trials(single, ["maximize"])] == [1]
    assert [t.number for t in best_trials(single, ["minimize"])] == [0]


def test_hyperband_prunes_through_the_same_strategy_view(tmp_path):
    """Hyperband builds its own bracket studies over the storage it is given: they see the filtered view."""
    settings = StudySettings(name="hb", pruner="hyperband", method="random_search", n_trials=12,
                             space={"strategy": ["qat", "pruned"]})  # fmt: skip
    study, _ = create_or_load(settings, str(tmp_path / "j.log"))

    def run_trial(number, variant, params, callbacks):
        cer = 0.05 if params["strategy"] == "pruned" else 0.6  # the finetune curve is far lower
        for step in range(1, 10):
            callbacks[0].trial.report(cer + (0.3 if number % 3 == 0 else 0.0), step)
            if callbacks[0].trial.should_prune():
                return TrialOutcome("pruned", error="cut")
        return _fake_rows(variant, params)

    run_worker(study, settings, run_trial)
    pruned = [t.number for t in study.trials if t.state.name == "PRUNED"]
    assert len(study.trials) == 12
    assert pruned and all(number % 3 == 0 for number in pruned)  # only the worse trials of their own kind


def test_the_default_space_searches_how_hard_a_pruned_model_is_finetuned():
    """The finetune lr and length decide how much accuracy a cut model recovers: the lr range holds the
    field's default (0.3) and the baseline's own lr (1.0, the field's ceiling); quickstart's epochs and
    distillation weight lie inside their ranges, not on an edge, so a study can go past the template."""
    from pipeline.config import resolve_config

    space = default_space("quickstart", "crnn_tiny_strided")
    quickstart = resolve_config("quickstart")
    lr, epochs = space.get("finetune_lr_multiplier"), space.get("finetune_epochs")
    assert lr is not None and lr.log and lr.low < 0.3 < quickstart.get("finetune_lr_multiplier") == lr.high
    assert epochs is not None and epochs.low < quickstart.get("finetune_epochs") < epochs.high
    weight = space.get("distillation_weight")
    assert weight is not None and weight.low < quickstart.get("distillation_weight") < weight.high
    cpu_long = resolve_config("cpu_long")  # finetunes longer than quickstart: its space goes past it too
    long_epochs = default_space("cpu_long", cpu_long.get("model")).get("finetune_epochs")
    assert long_epochs.low < cpu_long.get("finetune_epochs") < long_epochs.high
    assert weight.low < cpu_long.get("distillation_weight") < weight.high


def _pruned_wins_with_a_hard_finetune(variant: str, params: dict) -> TrialOutcome:
    """Only pruned-int8 finetuned near the baseline's lr keeps FP32 accuracy; everything else loses some."""
    if params["strategy"] == "pruned-int8":
        cer = 0.10 + 0.02 * abs(math.log10(params["finetune_lr_multiplier"]))
        ratio, speedup = 6.0, 2.5
    else:
        cer, ratio, speedup = 0.12, 3.5, 1.8
    return TrialOutcome(
        "finished",
        row={
            "cer": cer,
            "compression_ratio": ratio,
            "speedup": speedup,
            "size_bytes": 1,
            "latency_ms_p50": 1.0,
        },
        fp32_row={"cer": 0.10},
    )


def test_bayesian_search_moves_the_finetune_lr_toward_the_one_that_recovers_accuracy(tmp_path):
    """After a warm start with pruned-int8 at lr x 0.3 (the field's default; quickstart itself now uses 1.0),
    TPE keeps choosing the strategy that scores best and finds the finetune lr that keeps FP32 accuracy,
    which the default space searches (a space without it could only ever re-measure x 0.3)."""
    from pipeline.config import resolve_config
    from pipeline.study.search import enqueue_template_variants

    config = resolve_config("quickstart")
    space = default_space("quickstart", "crnn_tiny_strided")
    settings = StudySettings(name="exploit", n_trials=20, space=space.to_dict(), seed=3)
    study, _ = create_or_load(settings, str(tmp_path / "j.log"))
    kinds = ["ort-fp32", "ort-int8-dynamic", "ort-int8-static", "ptq", "qat", "pruned-int8"]

    def setting(name: str):
        return 0.3 if name == "finetune_lr_multiplier" else config.get(name)

    warm = len(enqueue_template_variants(study, space, kinds, setting, limit=settings.n_trials))
    run_worker(study, settings, lambda n, v, p, c: _pruned_wins_with_a_hard_finetune(v, p))
    searched = study.trials[warm:]
    assert sum(t.params["strategy"] == "pruned-int8" for t in searched) >= len(searched) // 2
    assert study.best_trial.number >= warm and study.best_trial.params["finetune_lr_multiplier"] > 0.6


def test_the_pruner_compares_a_cut_only_with_trials_of_the_same_cut(tmp_path):
    """A harder cut reads worse after every finetune epoch and pays it back in size and speed, which CER
    does not show: it is judged against trials of its own cut, and a worse finetune of a cut still is."""
    settings = StudySettings(
        name="cuts", pruner="median", n_trials=10,
        space={"strategy": ["pruned-int8"], "pruning_ratio": [0.3, 0.7], "finetune_lr_multiplier": [0.3, 1.0]},
    )  # fmt: skip
    study, _ = create_or_load(settings, str(tmp_path / "j.log"))
    light = {"pruning_ratio": 0.3, "finetune_lr_multiplier": 1.0}
    for _ in range(4):
        study.add_trial(_finished_trial("pruned-int8", [0.05, 0.04, 0.03], 0.9, **light))
    heavy = {"pruning_ratio": 0.7, "finetune_lr_multiplier": 1.0}
    assert _running_trial(study, "pruned-int8", [0.2, 0.15, 0.12], **heavy)[1] == [False, False, False]
    for _ in range(3):
        study.add_trial(_finished_trial("pruned-int8", [0.2, 0.15, 0.12], 0.92, **heavy))
    slow = {"pruning_ratio": 0.7, "finetune_lr_multiplier": 0.3}
    assert _running_trial(study, "pruned-int8", [0.4, 0.35, 0.3], **slow)[1][0]
    # every part's cut counts, not only the overall ratio; how a cut is finetuned does not
    base = {"strategy": "pruned-int8", "pruning_ratio": 0.5}
    for part in ("backbone_pruning_ratio", "neck_pruning_ratio", "decoder_pruning_ratio"):
        assert pruning_peers({**base, part: 0.1}) != pruning_peers({**base, part: 0.3})
    assert pruning_peers({**base, "finetune_lr_multiplier": 0.3}) == pruning_peers(base)
