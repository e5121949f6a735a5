"""The experiment runner: data -> train -> evaluate -> compress/export -> compare, reported to a sink.

`prepare_experiment` checks everything that can be checked before any work (charset, fonts, label
files), so the CLI records nothing for bad input. `run_experiment` then does the work and tells its
sink about every stage, epoch, variant and artifact; it never knows who listens.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipeline.config import ExperimentConfig
from pipeline.core.atomic import write_text_atomic
from pipeline.core.charset import Charset
from pipeline.core.checkpoint import load_checkpoint, save_checkpoint
from pipeline.core.device import autocast_dtype, configure_threads, resolve_device
from pipeline.core.events import (
    ArtifactSaved,
    LogMessage,
    RunFailed,
    RunFinished,
    RunStarted,
    Sink,
    StageStarted,
    VariantEvaluated,
)
from pipeline.core.exceptions import cause_of_type
from pipeline.core.gpu_usage import with_device_usage
from pipeline.core.result_row import VariantRow
from pipeline.data.bundle import DataBundle, build_data
from pipeline.evaluation.predict import Predictions, predict, write_predictions_tsv
from pipeline.models import create_model, model_info
from pipeline.reports.training_curves import training_curves
from pipeline.training.callbacks import RunStopped, TrainingCallback
from pipeline.training.fit import FitSettings, fit


@dataclass
class PreparedExperiment:
    """A validated config with its charset and data, ready to run."""

    config: ExperimentConfig
    charset: Charset
    data: DataBundle


@dataclass
class RunOutcome:
    status: str  # finished, interrupted, failed, or a callback stop's status (pruned, stopped)
    summary: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def prepare_experiment(config: ExperimentConfig) -> PreparedExperiment:
    """Load the charset, fonts and label files; raises ValueError (one line) for bad input."""
    charset = Charset.from_spec(config.model.charset)
    width_multiple = model_info(config.model.model, image_height=config.synthetic.image_height)[
        "width_multiple"
    ]
    data = build_data(config, charset, width_multiple)
    return PreparedExperiment(config=config, charset=charset, data=data)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def run_experiment(
    prepared: PreparedExperiment,
    sink: Sink,
    workdir: Path,
    *,
    resume: bool = False,
    baseline_dir: Path | None = None,
    callbacks: list[TrainingCallback] | None = None,
) -> RunOutcome:
    """Run one experiment in `workdir`; every failure is reported to the sink as well as returned.

    Args:
        resume: continue from `workdir/checkpoints/last.pt`.
        baseline_dir: skip training and start from the FP32 model of the experiment in this folder
            (`--mode compress --from ID`, or `--mode evaluate` on the experiment itself).
        callbacks: told of every training epoch (baseline, QAT, finetune); one whose stop ends the
            run (a search's pruner) ends it with that stop's status, e.g. `pruned`.
    """
    try:
        return _run(
            prepared, sink, Path(workdir), resume=resume, baseline_dir=baseline_dir, callbacks=callbacks or []
        )
    except RunStopped as stopped:
        summary = {"stop_reason": stopped.stop.reason, "stop_message": stopped.stop.message}
        sink(RunFinished(status=stopped.stop.status, summary=summary))
        return RunOutcome(status=stopped.stop.status, summary=summary)
    except KeyboardInterrupt:
        sink(RunFinished(status="interrupted", summary={}))
        return RunOutcome(status="interrupted")
    except Exception as error:
        if (
            cause_of_type(error, KeyboardInterrupt) is not None
        ):  # e.g. Ctrl-C inside a C extension's import: "initialization failed"
            sink(RunFinished(status="interrupted", summary={}))
            return RunOutcome(status="interrupted")
        message = f"{type(error).__name__}: {error}"
        sink(RunFailed(error=message))
        return RunOutcome(status="failed", error=message)
    finally:
        prepared.data.close()  # the processes that render epochs ahead, if any


@dataclass
class Baseline:
    """The FP32 model every variant starts from, and how it came to be."""

    model: torch.nn.Module
    history: list[dict[str, Any]]
    best_cer: float | None
    stop_reason: str
    model_path: Path


def _run(
    prepared: PreparedExperiment,
    sink: Sink,
    workdir: Path,
    *,
    resume: bool,
    baseline_dir: Path | None,
    callbacks: list[TrainingCallback],
) -> RunOutcome:
    config, charset, data = prepared.config, prepared.charset, prepared.data
    threads = configure_threads(config.train.threads, data_workers=config.data.num_workers)
    device = resolve_device(config.train.device)
    sink = with_device_usage(sink, device)  # GPU utilisation and memory into the heartbeat; CPU: as is
    seed_everything(config.train.seed)
    resume_payload = None
    last_path = workdir / "checkpoints" / "last.pt"
    if resume and last_path.is_file():
        resume_payload = load_checkpoint(last_path)
    sink(
        RunStarted(
            config=config.to_dict(),
            device=str(device),
            threads=threads,
            resumed_from_epoch=resume_payload["state"]["epoch"] if resume_payload else 0,
        )
    )
    _save_json(workdir / "config.json", config.to_dict(), sink, "config")
    for problem in data.problems[:20]:  # only with --skip-bad-samples: otherwise they stopped the run earlier
        sink(LogMessage(level="warning", message=f"skipped label-file line: {problem}"))
    if len(data.problems) > 20:
        sink(LogMessage(level="warning", message=f"... and {len(data.problems) - 20} more skipped lines"))
    if config.mode == "evaluate":  # re-measure the files already there; nothing is trained or rebuilt
        from pipeline.variants.remeasure import remeasure_experiment

        variants = remeasure_experiment(workdir, prepared, sink, device)
        summary = {**_variant_summary(variants), "remeasured": True}
        _refresh_report(workdir / "report.json", variants, summary, sink)
        sink(RunFinished(status="finished", summary=summary))
        return RunOutcome(status="finished", summary=summary)
    if baseline_dir is not None:
        baseline = _load_baseline(baseline_dir, workdir, sink)
    else:
        baseline = _train_baseline(prepared, sink, workdir, device, threads, resume_payload, callbacks)
        if baseline is None:
            return RunOutcome(status="interrupted")
    fp32_model = baseline.model.eval()

    sink(StageStarted(stage="evaluate", detail=f"FP32 on {data.test_size} test lines", total=1))
    decoding = dict(decoding=config.train.decoding, beam_width=config.train.beam_width)
    keep_logits = config.mode in ("both", "compress") and any(v != "fp32" for v in config.deploy.variants)
    test = predict(fp32_model, data.test_batches(), charset, device, keep_logits=keep_logits, **decoding)
    size = write_predictions_tsv(test, workdir / "predictions.tsv")
    sink(
        ArtifactSaved(
            artifact_kind="predictions", path=str(workdir / "predictions.tsv"), bytes=size, variant="fp32"
        )
    )
    from pipeline.variants.measure import fp32_torch_row
    from pipeline.variants.produce import produce_variants

    fp32_row = fp32_torch_row(test, fp32_model, baseline.model_path, config.deploy, device)
    if data.has_held_out_fonts:
        held = predict(fp32_model, data.test_batches(fonts="held_out"), charset, device, **decoding).metrics()
        fp32_row.held_out_fonts = {"cer": held.cer, "em": held.em, "ned": held.ned, "samples": held.samples}
    sink(VariantEvaluated(name="fp32", metrics=fp32_row.to_dict()))
    variants: dict[str, VariantRow] = {"fp32": fp32_row}
    if config.mode in ("both", "compress"):
        variants.update(
            produce_variants(fp32_model, prepared, fp32_row, test, sink, workdir, device, callbacks=callbacks)
        )

    summary = _summary(baseline, variants)
    report = {
        "config": config.to_dict(),
        "history": baseline.history,
        "variants": {name: row.to_dict() for name, row in variants.items()},
        "summary": summary,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    _save_json(workdir / "report.json", report, sink, "report")
    sink(RunFinished(status="finished", summary=summary))
    return RunOutcome(status="finished", summary=summary)


def _train_baseline(
    prepared,
    sink: Sink,
    workdir: Path,
    device: torch.device,
    threads: int,
    resume_payload,
    callbacks: list[TrainingCallback],
) -> Baseline | None:
    """Train the FP32 baseline; None when interrupted (checkpoints/last.pt holds the state)."""
    config, charset, data = prepared.config, prepared.charset, prepared.data
    model = create_model(
        config.model.model, num_classes=charset.num_classes, image_height=config.synthetic.image_height
    )
    meta = {
        "model_config": model.config(),
        "charset": charset.to_dict(),
        "experiment_config": config.to_dict(),
    }
    amp_dtype = autocast_dtype(config.train.amp, device)
    precision = "fp32" if amp_dtype is None else f"{str(amp_dtype).removeprefix('torch.')} autocast"
    sink(
        LogMessage(
            level="info",
            message=f"{config.model.model}: {sum(p.numel() for p in model.parameters()):,} "
            f"parameters, device {device}, {threads} thread(s), training in {precision} (amp={config.train.amp})",
        )
    )
    sink(
        StageStarted(
            stage="train",
            detail=f"{config.model.model}, {config.train.epochs} epochs of {data.lines_per_epoch} lines",
            total=config.train.epochs,
        )
    )

    def validate(module: torch.nn.Module) -> Predictions:
        return predict(
            module, data.val_batches(), charset, device, decoding="greedy", autocast_dtype=amp_dtype
        )

    result = fit(
        model,
        FitSettings.from_train_config(config.train),
        train_batches=data.train_batches,
        steps_per_epoch=data.steps_per_epoch,
        validate=validate,
        device=device,
        sink=sink,
        phase="baseline",
        checkpoint_dir=workdir / "checkpoints",
        checkpoint_meta=meta,
        resume=resume_payload,
        callbacks=callbacks,
    )
    data.drop_rendered()
    if result.stop is not None and result.stop.ends_run:
        raise RunStopped(result.stop)
    if result.history:
        size = training_curves(
            result.history, workdir / "training_curves.png", title=config.name or config.model.model
        )
        sink(ArtifactSaved(artifact_kind="figure", path=str(workdir / "training_curves.png"), bytes=size))
    if result.interrupted:
        sink(
            LogMessage(
                level="warning",
                message=f"interrupted after {len(result.history)} epoch(s); "
                "`ocrq run --resume ID` continues from checkpoints/last.pt",
            )
        )
        sink(RunFinished(status="interrupted", summary={"trained_epochs": len(result.history)}))
        return None
    sink(
        LogMessage(
            level="info",
            message=f"training stopped: {result.stop_reason}; best validation CER "
            f"{100 * result.best_cer:.2f}% at epoch {result.best_epoch}",
        )
    )
    model_path = workdir / "model_fp32.pt"
    fp32_model = result.eval_model.eval()
    # The EMA copy was frozen; variants finetune, prune (autograd-traced) and QAT-train from it.
    fp32_model.requires_grad_(True)
    size = save_checkpoint(model_path, {**meta, "format": "ocrq-model-1", "weights": fp32_model.state_dict()})
    sink(ArtifactSaved(artifact_kind="model", path=str(model_path), bytes=size, variant="fp32"))
    return Baseline(fp32_model, result.history, result.best_cer, result.stop_reason, model_path)


def _load_baseline(baseline_dir: Path, workdir: Path, sink: Sink) -> Baseline:
    """The FP32 model of an earlier experiment, copied into this one so it stands on its own."""
    source = baseline_dir / "model_fp32.pt"
    if not source.is_file():
        raise FileNotFoundError(f"{baseline_dir} has no model_fp32.pt; its baseline never finished training")
    payload = load_checkpoint(source)
    model_config = dict(payload["model_config"])
    model = create_model(model_config.pop("name"), **model_config)
    model.load_state_dict(payload["weights"])
    target = workdir / "model_fp32.pt"
    if source.resolve() != target.resolve():
        shutil.copyfile(source, target)
        sink(
            ArtifactSaved(
                artifact_kind="model", path=str(target), bytes=target.stat().st_size, variant="fp32"
            )
        )
    sink(LogMessage(level="info", message=f"baseline FP32 model from {source}"))
    report = baseline_dir / "report.json"
    history = json.loads(report.read_text())["history"] if report.is_file() else []
    return Baseline(model, history, None, "reused", target)


def _variant_summary(variants: dict[str, VariantRow]) -> dict[str, Any]:
    """Index fields: the FP32 test CER/EM and the best size ratio / speed-up a variant within its CER budget reached."""
    fp32 = variants["fp32"]
    kept = [v for name, v in variants.items() if name != "fp32" and v.accuracy_guard in (None, "ok")]
    ratios = [v.compression_ratio for v in kept if v.compression_ratio]
    speedups = [v.speedup for v in kept if v.speedup]
    return {
        "best_cer": fp32.cer,
        "best_em": fp32.em,
        "size_ratio": max(ratios) if ratios else None,
        "speedup": max(speedups) if speedups else None,
    }


def _summary(baseline: Baseline, variants: dict[str, VariantRow]) -> dict[str, Any]:
    return {
        **_variant_summary(variants),
        "val_best_cer": baseline.best_cer,
        "trained_epochs": len(baseline.history),
        "stop_reason": baseline.stop_reason,
    }


def _refresh_report(path: Path, variants: dict[str, VariantRow], summary: dict[str, Any], sink: Sink) -> None:
    """Put re-measured rows into the run's `report.json` (its config and training history stay), so no file
    of the experiment keeps the figures the re-measurement replaced."""
    if not path.is_file():
        return
    report = json.loads(path.read_text(encoding="utf-8"))
    report["variants"] = {name: row.to_dict() for name, row in variants.items()}
    report["summary"] = {**report.get("summary", {}), **summary}
    report["remeasured"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    _save_json(path, report, sink, "report")


def _save_json(path: Path, payload: dict[str, Any], sink: Sink, kind: str) -> None:
    size = write_text_atomic(path, json.dumps(payload, indent=2, default=_json_default))
    sink(ArtifactSaved(artifact_kind=kind, path=str(path), bytes=size))


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")
