"""The FP32 baseline a study's trials compress, found on whichever box a worker runs.

The baseline is a trained experiment's `model_fp32.pt`, or an imported experiment's copy of its ONNX
model. The study records the file's sha256 and the experiment's config (and import record) in its Optuna
storage (the `ocrq` user attribute), so a worker on another box (`ocrq study worker NAME --storage URL
--baseline FILE`) can check that its copy is the very model the first box used, and trial on it without
the first box's home.
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
IMPORT_RECORD = "import.json"


def is_import_folder(folder: Path) -> bool:
    return (Path(folder) / IMPORT_RECORD).is_file()


def baseline_model(folder: Path) -> Path:
    """The file trials compress in a baseline folder: its imported ONNX copy, else `model_fp32.pt`."""
    if is_import_folder(folder):
        from pipeline.variants.import_reopen import imported_model_file
        from pipeline.variants.manifest import ManifestError

        try:
            return imported_model_file(folder)
        except ManifestError:
            return Path(folder) / "variants" / "imported-model.onnx"  # absent: reported as missing
    return Path(folder) / MODEL_FILE


def record_baseline(store: Store, settings) -> None:
    """Put the baseline experiment's folder, model sha256, config and import record into the settings."""
    folder = store.experiment_dir(settings.baseline_experiment)
    if is_import_folder(folder) and not (folder / "config.json").is_file():  # imported by an older ocrq
        config = store.get(settings.baseline_experiment)["config"]
        write_text_atomic(folder / "config.json", json.dumps(config, indent=2))
    settings.baseline_dir = str(folder)
    settings.baseline_sha256 = file_sha256(baseline_model(folder))
    settings.baseline_config = json.loads((folder / "config.json").read_text())
    if is_import_folder(folder):
        settings.baseline_import = json.loads((folder / IMPORT_RECORD).read_text())


def find_baseline(store: Store, settings, given: Path | None) -> Path:
    """The folder (with model_fp32.pt and config.json) this worker's trials start from.

    ``given`` (a copy of the baseline model from the first box) goes first, checked against the recorded
    sha256 and set up in ``HOME/studies/NAME/baseline/``; else the baseline experiment in this home; else
    the first box's folder where a shared path reaches it.

    Raises:
        UsageError: (exit 2) no baseline here and none given, or a copy whose sha256 differs.
    """
    recorded = settings.baseline_sha256
    short = (settings.baseline_experiment or "?")[:12]
    wanted = _model_name(settings)
    if given is not None:
        if recorded is None:
            raise UsageError(
                f"study {settings.name} has no recorded baseline sha256 (made by an older ocrq), so --baseline "
                "cannot be checked; run this worker in the home that trained the baseline"
            )
        if not given.is_file():
            raise UsageError(
                f"--baseline {given} is not a file; give a copy of {wanted} of experiment {short}"
            )
        _check(given, recorded, f"--baseline {given}", short, wanted)
        return _materialize(store, settings, given)
    for folder in _candidates(store, settings):
        model = baseline_model(folder)
        if model.is_file() and (folder / "config.json").is_file():
            if recorded is not None:
                _check(model, recorded, f"the baseline at {model}", short, wanted)
            return folder
    raise UsageError(
        f"the baseline of study {settings.name} (experiment {short}) is not in this home ({store.home}); copy its "
        f"{wanted} from the box that made it and give --baseline FILE"
    )


def _model_name(settings) -> str:
    """What the baseline file is called where it was made (for messages)."""
    record = settings.baseline_import
    if record:
        return "imported model " + Path(record["settings"]["model"]).name.removeprefix("imported-")
    return MODEL_FILE


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


def _check(path: Path, recorded: str, what: str, short: str, wanted: str) -> None:
    actual = file_sha256(path)
    if actual != recorded:
        raise UsageError(
            f"{what} has sha256 {str(actual)[:16]}…, but study's baseline (experiment {short}) has "
            f"{recorded[:16]}…; copy the {wanted} of that experiment"
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
    record = settings.baseline_import
    if record:  # an imported model: its copy where the manifest says, and the import record beside it
        stem = Path(record["settings"]["model"]).stem.removeprefix("imported-")
        target = folder / "variants" / f"imported-{stem}.onnx"
        target.parent.mkdir(exist_ok=True)
    else:
        target = folder / MODEL_FILE
    if not (target.is_file() and file_sha256(target) == settings.baseline_sha256):
        partial = target.parent / f".{target.name}.partial"
        shutil.copyfile(model, partial)
        partial.replace(target)  # never a half-copied model under the real name
    write_text_atomic(folder / "config.json", json.dumps(settings.baseline_config, indent=2))
    if record:
        from pipeline.variants.manifest import record_variant

        record_variant(folder, "fp32", target, "onnx", "onnxruntime")
        write_text_atomic(folder / IMPORT_RECORD, json.dumps(record, indent=2))
    return folder
