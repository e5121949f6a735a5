"""`ocrq run --auto_optimize`: the seed's shortcut, a small study that keeps the smallest good variant."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from cli.console import CliError, UsageError, info
from cli.study_cmd import run
from store import Store


def auto_optimize(
    template: str | None,
    kwargs: dict[str, Any],
    *,
    target_ratio: float,
    preserve_accuracy: bool,
    n_trials: int = 8,
    name: str | None = None,
) -> None:
    """`ocrq run --auto_optimize`: a small compression-first study, then the smallest variant that meets the
    ratio (and, with `preserve_accuracy`, stays within accuracy_budget_pp of FP32), said with why."""
    if target_ratio <= 0:
        raise UsageError(f"--target-compression-ratio {target_ratio} is not allowed; give a size ratio > 0")
    # The seed writes 0.25 for "a quarter of the size"; 4 means the same as a compression ratio.
    wanted = 1.0 / target_ratio if target_ratio < 1 else target_ratio
    study_name = name or f"auto-{os.getpid()}"
    run(template, n_trials=n_trials, target="compression", study_name=study_name, **_run_defaults(), **kwargs)
    store = Store()
    doc = store.get_study(study_name)
    from pipeline.study.search import load_study

    study, settings = load_study(study_name, doc["storage_url"])
    budget_pp = json.loads((Path(settings.baseline_dir) / "config.json").read_text())["deploy"][
        "accuracy_budget_pp"
    ]
    candidates = []
    for trial in study.trials:
        metrics = trial.user_attrs.get("metrics")
        if trial.state.name != "COMPLETE" or not metrics:
            continue
        ratio = metrics.get("compression_ratio") or 0.0
        rise_pp = 100 * (metrics["cer"] - metrics["fp32_cer"])
        if ratio >= wanted and (not preserve_accuracy or rise_pp <= budget_pp):
            candidates.append((ratio, -rise_pp, trial, rise_pp))
    if not candidates:
        raise CliError(
            f"no trial reached {wanted:.2f}x smaller"
            + (f" within {budget_pp} pp of FP32 CER" if preserve_accuracy else "")
            + f" in {len(study.trials)} trials; raise the budget, lower the ratio or run `ocrq study run` longer"
        )
    ratio, _, best, rise_pp = max(candidates, key=lambda item: item[:2])
    from pipeline.study.outputs import reproduce_command

    info(
        f"kept trial {best.number}: {best.user_attrs['variant']} — {ratio:.2f}x smaller (asked {wanted:.2f}x), "
        f"CER {rise_pp:+.2f} pp vs FP32"
        + (f" (budget {budget_pp} pp)" if preserve_accuracy else " (accuracy not constrained)")
        + f"; the smallest of {len(candidates)} trial(s) that met the target; experiment "
        f"{best.user_attrs.get('experiment_id', '?')[:8]}"
    )
    info(f"reproduce: {reproduce_command(settings, best)}")


def _run_defaults() -> dict[str, Any]:
    """`run`'s own defaults, for calling it as a function."""
    return {
        "method": "bayesian", "timeout": None, "min_accuracy": 0.0, "param_config": None, "dry_run": False,
        "from_ref": None, "jobs": 1, "storage": None, "pruner": "median", "seed": 0, "json_": False,
    }  # fmt: skip
