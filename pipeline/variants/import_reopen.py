"""An imported experiment opened again from its folder: its copy of the model, the layout and characters
recorded at import and its line sets drawn anew from the recorded settings.

Re-measuring an import, compressing it again (`ocrq run --from IMPORTED --mode compress`) and the trials
of a study over an import all start here, never from the user's original path, which may be gone or hold
another file by now.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from pipeline.core.charset import Charset
from pipeline.deploy.foreign_model import ForeignLayout
from pipeline.variants.evaluate_imported import read_import
from pipeline.variants.import_lines import load_line_sets
from pipeline.variants.imported import ImportSettings, PreparedImport, trained_width_scale
from pipeline.variants.manifest import ManifestError, read_manifest, read_resize_rule, resolve_artifact

IMPORT_RECORD = "import.json"


def is_imported(experiment_dir: Path) -> bool:
    """Whether the folder holds an imported experiment (its import record)."""
    return (Path(experiment_dir) / IMPORT_RECORD).is_file()


def imported_model_file(experiment_dir: Path) -> Path:
    """The experiment's copy of the imported file (the manifest's `fp32` entry).

    Raises:
        ManifestError: the manifest has no `fp32` entry or its file is gone.
    """
    experiment_dir = Path(experiment_dir)
    entry = read_manifest(experiment_dir).get("fp32")
    if entry is None:
        raise ManifestError(f"{experiment_dir} has no imported model in its manifest; import the model again")
    path = resolve_artifact(experiment_dir, entry["artifact"])
    if not path.is_file():
        raise ManifestError(f"the imported model {path} is gone; import the model again")
    return path


def reopen_import(experiment_dir: Path, config=None) -> PreparedImport:
    """The import of `experiment_dir` ready to build or measure variants again.

    The settings are the recorded ones with `model` set to the folder's copy; `config` (the new run's)
    supplies the measuring settings (threads, runs, accuracy budget) and the variant kinds.

    Raises:
        ManifestError: the folder's import record or model copy is missing or damaged.
        ImportRefused: the recorded data can no longer give the line sets.
    """
    record, settings, layout, charset, width_scale = _recorded(Path(experiment_dir))
    if config is not None:
        settings.latency_threads = config.deploy.latency_threads
        settings.latency_runs = config.deploy.latency_runs
        settings.accuracy_budget_pp = config.deploy.accuracy_budget_pp
        settings.variants = _import_kinds(config)
    lines = load_line_sets(settings, layout, charset, width_scale)
    return PreparedImport(settings, layout, charset, record.get("charset", ""), lines, width_scale)


def import_settings(experiment_dir: Path) -> tuple[ImportSettings, ForeignLayout, Charset, float]:
    """(recorded settings with `model` set to the folder's copy, layout, characters, width stretch).

    Raises:
        ManifestError: the import record or the model copy is missing or damaged.
    """
    return _recorded(Path(experiment_dir))[1:]


def _recorded(experiment_dir: Path) -> tuple[dict, ImportSettings, ForeignLayout, Charset, float]:
    """The import record read once, with what `import_settings` makes of it."""
    record, layout, charset = read_import(experiment_dir)
    known = {f.name for f in dataclasses.fields(ImportSettings)}
    settings = ImportSettings(**{k: v for k, v in record["settings"].items() if k in known})
    settings.model = imported_model_file(experiment_dir)
    settings.charset_file = None  # the characters come from the record, not a file that may be gone
    settings.variants = tuple(settings.variants)
    rule = read_resize_rule(experiment_dir)
    width_scale = rule.width_scale if rule is not None else trained_width_scale(settings.model)
    return record, settings, layout, charset, width_scale


def _import_kinds(config) -> tuple[str, ...]:
    from pipeline.config.variant_specs import parse_variants

    kinds = [entry.kind for entry in parse_variants(list(config.deploy.variants))]
    return tuple(dict.fromkeys(kind for kind in kinds if kind not in ("fp32", "ort-fp32")))


def check_import_variants(variants: list[str]) -> list[str]:
    """The variants of a run over an imported model, `ort-fp32` (the prepared graph every other variant is
    made from) first; ValueError naming the kinds an import can build."""
    from pipeline.config.variant_specs import parse_variant
    from pipeline.variants.catalog import import_kinds

    allowed = ("ort-fp32", *import_kinds())
    entries = [parse_variant(text) for text in variants]
    wrong = [entry.text() for entry in entries if entry.kind not in allowed and entry.kind != "fp32"]
    if wrong:
        raise ValueError(
            f"variant {wrong[0]} cannot be built from an imported ONNX model; allowed {', '.join(allowed)}"
        )
    texts = [entry.text() for entry in entries if entry.kind != "fp32"]
    if not any(entry.kind == "ort-fp32" for entry in entries):
        texts.insert(0, "ort-fp32")
    return texts
