"""A small store filled through the real store API, the same on every run (fixed ids and timestamps).

Used by the Pilot tests, the snapshot app and by hand (`python -m tests.tui.store_fixtures HOME`).
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

from PIL import Image, ImageDraw

import store.store as store_module
import store.studies as studies_module
from store import Store

IDS = {
    "baseline": "a1a1a1a1a1a1",
    "qat": "b2b2b2b2b2b2",
    "pruned": "c3c3c3c3c3c3",
    "failed": "d4d4d4d4d4d4",
    "running": "e5e5e5e5e5e5",
    "deleted": "f6f6f6f6f6f6",
}
STUDY_ID = "5a5a5a5a5a5a"
START = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)


@contextlib.contextmanager
def fixed_clock() -> Iterator[None]:
    """Store timestamps from a clock that ticks one minute per call, starting at ``START``."""
    ticks = iter(range(100_000))

    def now_iso() -> str:
        return (START + timedelta(minutes=next(ticks))).isoformat(timespec="milliseconds")

    with (
        mock.patch.object(store_module, "now_iso", now_iso),
        mock.patch.object(studies_module, "now_iso", now_iso),
    ):
        yield


def _config(template: str, epochs: int, lr: float, variants: list[str], **extra: object) -> dict:
    return {
        "template": template,
        "name": None,
        "mode": "both",
        "model": {"model": "crnn_tiny", "charset": "ascii"},
        "train": {"epochs": epochs, "learning_rate": lr, "batch_size": 32, **extra},
        "deploy": {"variants": variants},
    }


def _epochs(count: int, start_cer: float, phase: str = "baseline") -> list[dict]:
    return [
        {
            "epoch": n,
            "phase": phase,
            "train_loss": round(3.0 / n + 0.2, 4),
            "val_loss": round(3.2 / n + 0.3, 4),
            "cer": round(start_cer / n, 4),
            "em": round(min(0.95, 0.1 * n), 4),
            "lr": 1e-3 / n,
            "seconds": 12.5,
        }  # fmt: skip
        for n in range(1, count + 1)
    ]


def _variant(name: str, backend: str, cer: float, em: float, size: int, p50: float, **more: object) -> dict:
    figures = {"cer": cer, "em": em, "ned": round(1 - cer / 3, 4), "size_bytes": size, "latency_ms_p50": p50}
    return {"name": name, "backend": backend, **figures, "latency_ms_p95": round(p50 * 1.15, 2), **more}


def _variants(cer: float) -> list[dict]:
    return [
        _variant("fp32", "torch", cer, 0.62, 1_640_000, 30.5, throughput_lines_per_s_b16=680.0),
        _variant("ort-fp32", "onnxruntime", cer, 0.62, 1_630_000, 7.5, cer_delta_pp=0.0,
                 compression_ratio=1.0, throughput_lines_per_s_b16=1400.0, speedup=1.0,
                 fidelity={"cosine": 1.0}, accuracy_guard="ok"),
        _variant("ort-int8-dynamic", "onnxruntime", cer + 0.004, 0.6, 441_000, 5.1, cer_delta_pp=0.4,
                 compression_ratio=3.7, throughput_lines_per_s_b16=2100.0, speedup=1.47,
                 fidelity={"cosine": 0.9991}, accuracy_guard="ok"),
        _variant("qat", "torchao", cer + 0.011, 0.57, 230_000, 9.9, cer_delta_pp=1.1, compression_ratio=7.1,
                 throughput_lines_per_s_b16=900.0, speedup=0.76, fidelity={"cosine": 0.998},
                 accuracy_guard="exceeded"),
    ]  # fmt: skip


def write_figure(path: Path) -> int:
    """A small training-curve-like PNG; returns its size in bytes."""
    image = Image.new("RGB", (160, 80), (250, 250, 250))
    draw = ImageDraw.Draw(image)
    draw.line([(5, 10), (40, 45), (80, 60), (155, 70)], fill=(200, 30, 30), width=3)
    draw.line([(5, 70), (60, 40), (155, 15)], fill=(30, 60, 200), width=3)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path.stat().st_size


def _finished(
    store: Store, key: str, name: str, template: str, cer: float, tags: list[str], **config_extra
) -> str:
    exp_id = IDS[key]
    store.create_experiment(
        name=name, template=template, model="crnn_tiny",
        config=_config(template, 4, 2e-3, ["ort-fp32", "ort-int8-dynamic"], **config_extra),
        experiment_id=exp_id,
    )  # fmt: skip
    store.set_status(exp_id, "running")
    for epoch in _epochs(4, cer * 4):
        store.record_epoch(exp_id, epoch)
    for variant in _variants(cer):
        store.record_variant(exp_id, variant)
    folder = store.experiment_dir(exp_id)
    size = write_figure(folder / "training_curves.png")
    store.record_artifact(exp_id, kind="figure", path=str(folder / "training_curves.png"), bytes=size)
    (folder / "report.json").write_text('{"ok": true}\n')
    store.record_artifact(exp_id, kind="report", path=str(folder / "report.json"), bytes=13)
    store.append_log(exp_id, "info", "run started on cpu with 1 threads")
    store.append_log(exp_id, "info", "stage train started: crnn_tiny, 4 epochs")
    store.append_log(exp_id, "info", "run finished")
    store.set_status(exp_id, "finished")
    store.update_summary(exp_id, best_cer=cer, best_em=0.62, size_ratio=3.7, speedup=1.47, stage="evaluate")
    if tags:
        store.tag(exp_id, add=tags)
    return exp_id


def fill_store(home: str | Path) -> Store:
    """Six experiments (finished, failed, running, deleted) and a two-objective study with four trials."""
    store = Store(home)
    with fixed_clock():
        _finished(store, "baseline", "baseline-fp32", "smoke", 0.081, ["baseline"])
        _finished(store, "qat", "qat-int4", "ocr_balanced", 0.094, ["qat", "int4"], weight_decay=0.02)
        _finished(store, "pruned", "pruned-30", "quickstart", 0.102, ["pruning"])
        store.set_note(IDS["pruned"], "pruned 30% of the channels")
        failed = store.create_experiment(
            name="too-big-lr", template="smoke", model="crnn_tiny", experiment_id=IDS["failed"],
            config=_config("smoke", 2, 0.5, ["ort-fp32"]),
        )["id"]  # fmt: skip
        store.set_status(failed, "running")
        store.record_epoch(failed, {**_epochs(1, 0.9)[0], "train_loss": None})
        store.append_log(failed, "error", "loss is NaN at step 12")
        store.set_status(failed, "failed", error="loss is NaN at step 12; lower learning_rate")
        running = store.create_experiment(
            name="live-run", template="smoke", model="crnn_tiny", experiment_id=IDS["running"],
            config=_config("smoke", 6, 2e-3, ["ort-fp32"]),
        )["id"]  # fmt: skip
        store.set_status(running, "running")
        for epoch in _epochs(2, 0.6):
            store.record_epoch(running, epoch)
        store.heartbeat(running, stage="train", progress="2/6")
        gone = store.create_experiment(
            name="old-try", template="smoke", model="crnn_tiny", experiment_id=IDS["deleted"],
            config=_config("smoke", 1, 1e-3, ["ort-fp32"]),
        )["id"]  # fmt: skip
        store.set_status(gone, "interrupted")
        store.soft_delete(gone)
        study = store.create_study(
            name="cer-vs-size", directions=["minimize", "maximize"],
            config={"objectives": ["cer", "size_ratio"], "template": "smoke"}, study_id=STUDY_ID,
        )["id"]  # fmt: skip
        trials = [
            (0, "complete", {"qat_epochs": 1, "pruning_ratio": 0.1}, [0.081, 3.7], IDS["baseline"]),
            (1, "complete", {"qat_epochs": 3, "pruning_ratio": 0.3}, [0.094, 7.1], IDS["qat"]),
            (2, "complete", {"qat_epochs": 2, "pruning_ratio": 0.5}, [0.102, 3.0], IDS["pruned"]),
            (3, "running", {"qat_epochs": 4, "pruning_ratio": 0.2}, None, IDS["running"]),
        ]
        add_optuna_study(store.home, "cer-vs-size", ["minimize", "maximize"], ["cer", "size_ratio"], trials)
        store.set_study_status(study, "running")
    return store


def add_optuna_study(
    home: Path, name: str, directions: list[str], metric_names: list[str], trials: list[tuple]
) -> str:
    """Write a real Optuna study (journal storage, where `ocrq study run` keeps it) with these trials:
    ``(number, state, params, values, experiment id)``; returns the storage path."""
    import optuna
    from optuna.distributions import FloatDistribution, IntDistribution
    from optuna.trial import TrialState

    from pipeline.study.storage import open_storage

    url = str(home / "studies" / name / "optuna.journal")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=name, storage=open_storage(url), directions=directions)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(metric_names)
    distributions = {"qat_epochs": IntDistribution(1, 4), "pruning_ratio": FloatDistribution(0.1, 0.5)}
    for number, state, params, values, exp_id in trials:
        frozen = optuna.trial.create_trial(
            state=TrialState[state.upper()], params=params, distributions=distributions,
            values=values, user_attrs={"experiment_id": exp_id},
        )  # fmt: skip
        study.add_trial(frozen)
        assert study.trials[-1].number == number
    return url


if __name__ == "__main__":
    fill_store(sys.argv[1])
    print(f"filled {sys.argv[1]}")


# -- a quickstart-sized experiment: six variants, 17 baseline epochs, finetune and QAT phases ------------

QUICK_ID = "a7a7a7a7a7a7"
QUICK_VARIANTS = ["ort-fp32", "ort-int8-dynamic", "ort-int8-static", "pruned", "qat"]


def _anatomy(size: int, weights: int) -> dict:
    return {"file_bytes": size, "weights_bytes": weights, "side_bytes": size - weights - 9_000,
            "graph_bytes": 9_000}  # fmt: skip


def fill_quickstart(store: Store) -> str:
    """Add a finished quickstart-like experiment (six variants, three phases, many artifacts)."""
    with fixed_clock():
        exp_id = store.create_experiment(
            name="quickstart-crnn_tiny", template="quickstart", model="crnn_tiny", experiment_id=QUICK_ID,
            config={**_config("quickstart", 30, 6e-3, QUICK_VARIANTS, qat_epochs=1, finetune_epochs=3),
                    "pruning": {"pruning_ratio": 0.5}},
        )["id"]  # fmt: skip
        store.set_status(exp_id, "running")
        epochs = _epochs(17, 0.9) + _epochs(3, 0.1, "finetune:pruned") + _epochs(1, 0.06, "qat:qat")
        for epoch in epochs:
            store.record_epoch(exp_id, epoch)
        variants = _variants(0.045)
        variants[1]["size_anatomy"] = _anatomy(1_630_000, 1_600_000)
        variants[2]["size_anatomy"] = _anatomy(441_000, 400_000)
        variants.insert(
            3,
            _variant(
                "ort-int8-static",
                "onnxruntime",
                0.047,
                0.6,
                430_000,
                4.8,
                cer_delta_pp=0.2,
                compression_ratio=3.79,
                speedup=1.56,
                throughput_lines_per_s_b16=2200.0,
                fidelity={"cosine": 0.999},
                accuracy_guard="ok",
                size_anatomy=_anatomy(430_000, 400_000),
            ),
        )
        variants.insert(
            4,
            _variant(
                "pruned",
                "onnxruntime",
                0.048,
                0.59,
                260_000,
                3.0,
                cer_delta_pp=0.31,
                compression_ratio=6.27,
                speedup=2.5,
                throughput_lines_per_s_b16=3000.0,
                fidelity={"cosine": 0.99},
                accuracy_guard="ok",
                size_anatomy=_anatomy(260_000, 230_000),
            ),
        )
        for variant in variants:
            store.record_variant(exp_id, variant)
        folder = store.experiment_dir(exp_id)
        files = [("figure", None, "training_curves.png"), ("figure", None, "accuracy_vs_size.png"),
                 ("report", None, "comparison.md"), ("report", None, "quantization_report.json"),
                 ("predictions", "fp32", "predictions.tsv")]  # fmt: skip
        files += [("onnx", name, f"variants/{name}/model.onnx") for name in QUICK_VARIANTS]
        files += [("checkpoint", None, "checkpoints/best.pt"), ("checkpoint", None, "checkpoints/last.pt")]
        for kind, variant, relative in files:
            path = folder / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            if relative.endswith(".png"):
                size = write_figure(path)
            else:
                path.write_text(_artifact_text(relative))
                size = path.stat().st_size
            store.record_artifact(exp_id, kind=kind, path=str(path), bytes=size, variant=variant)
        for line in [
            "run started on cpu with 2 threads",
            "stage train started: crnn_tiny, 30 epochs",
            *(f"epoch {n}: val CER {0.9 / n:.4f}" for n in range(1, 18)),
            "run finished",
        ]:
            store.append_log(exp_id, "info", line)
        store.set_status(exp_id, "finished")
        store.update_summary(exp_id, best_cer=0.045, best_em=0.62, size_ratio=6.27, speedup=2.5,
                             stage="evaluate")  # fmt: skip
        store.tag(exp_id, add=["quickstart"])
    return exp_id


def _artifact_text(relative: str) -> str:
    if relative.endswith("predictions.tsv"):
        rows = ["label\tprediction\tcer", "hello world\thello world\t0.0", "quick fox\tquick f0x\t0.111",
                "lazy dog\tlazy dog\t0.0", "ocr line\t0cr lin\t0.25"]  # fmt: skip
        return "\n".join(rows) + "\n"
    if relative.endswith(".json"):
        return '{\n  "variants": ["fp32", "qat"],\n  "ok": true\n}\n'
    if relative.endswith(".md"):
        return "# comparison\n\n| variant | CER |\n|---|---|\n| fp32 | 4.50% |\n| qat | 5.60% |\n"
    return "binary\n"
