"""The FP32 baseline a study's trials compress, found on whichever box a worker runs.

The study records the baseline's sha256 and config in its Optuna storage (the `ocrq` user attribute), so
a worker on another box (`ocrq study worker NAME --storage URL --baseline model_fp32.pt`) can check that
its copy is the very model the first box trained, and trial on it without the first box's home.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from cli.console import UsageError
from pipeline.core.atomic import write_text_atomic
from store import ExperimentNotFound, Store
from store.files import file_sha256

MODEL_FILE = "model_fp32.pt"


def record_baseline(store: Store, settings) -> None:
    """Put the baseline experiment's folder, sha256 and config into the study's settings."""
    folder = store.experiment_dir(settings.baseline_experiment)
    settings.baseline_dir = str(folder)
    settings.baseline_sha256 = file_sha256(folder / MODEL_FILE)
    settings.baseline_config = json.loads((folder / "config.json").read_text())


def find_baseline(store: Store, settings, given: Path | None) -> Path:
    """The folder (with model_fp32.pt and config.json) this worker's trials start from.

    ``given`` (a copy of model_fp32.pt from the first box) goes first, checked against the recorded sha256
    and set up in ``HOME/studies/NAME/baseline/``; else the baseline experiment in this home; else the
    first box's folder where a shared path reaches it.

    Raises:
        UsageError: (exit 2) no baseline here and none given, or a copy whose sha256 differs.
    """
    recorded = settings.baseline_sha256
    short = (settings.baseline_experiment or "?")[:12]
    if given is not None:
        if recorded is None:
            raise UsageError(
                f"study {settings.name} has no recorded baseline sha256 (made by an older ocrq), so --baseline "
                "cannot be checked; run this worker in the home that trained the baseline"
            )
        if not given.is_file():
            raise UsageError(
                f"--baseline {given} is not a file; give a copy of {MODEL_FILE} of experiment {short}"
            )
        _check(given, recorded, f"--baseline {given}", short)
        return _materialize(store, settings, given)
    for folder in _candidates(store, settings):
        model = folder / MODEL_FILE
        if model.is_file() and (folder / "config.json").is_file():
            if recorded is not None:
                _check(model, recorded, f"the baseline at {model}", short)
            return folder
    raise UsageError(
        f"the baseline of study {settings.name} (experiment {short}) is not in this home ({store.home}); copy its "
        f"{MODEL_FILE} from the box that trained it and give --baseline FILE"
    )


def _candidates(store: Store, settings) -> list[Path]:
    folders = []
    if settings.baseline_experiment:
        try:
            folders.append(store.experiment_dir(settings.baseline_experiment))
        except ExperimentNotFound:
            pass
    if settings.baseline_dir:
        folders.append(Path(settings.baseline_dir))  # the first box's folder, on a shared filesystem
    return folders


def _check(path: Path, recorded: str, what: str, short: str) -> None:
    actual = file_sha256(path)
    if actual != recorded:
        raise UsageError(
            f"{what} has sha256 {str(actual)[:16]}…, but study's baseline (experiment {short}) has "
            f"{recorded[:16]}…; copy {MODEL_FILE} of that experiment"
        )


def _materialize(store: Store, settings, model: Path) -> Path:
    """``HOME/studies/NAME/baseline/`` holding the checked model and the recorded config."""
    if not settings.baseline_config:
        raise UsageError(
            f"study {settings.name} has no recorded baseline config (made by an older ocrq); run this worker "
            "in the home that trained the baseline"
        )
    folder = store.home / "studies" / settings.name / "baseline"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / MODEL_FILE
    if not (target.is_file() and file_sha256(target) == settings.baseline_sha256):
        partial = folder / f".{MODEL_FILE}.partial"
        shutil.copyfile(model, partial)
        partial.replace(target)  # never a half-copied model under the real name
    write_text_atomic(folder / "config.json", json.dumps(settings.baseline_config, indent=2))
    return folder
