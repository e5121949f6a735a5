"""`ocrq run --from IMPORTED --mode evaluate`: measure every variant of an imported experiment again from
the files in its folder (nothing is prepared or quantized again), on the import's line sets drawn anew
from its recorded settings, with the config's measuring settings (threads, runs, budget).

Measured figures are replaced; how a variant was built (graph preparation, the mixed variant's per-node
choice, notes) is kept from the last rows.
"""

from __future__ import annotations

import time
from pathlib import Path

from pipeline.core.events import RunFinished, RunStarted, StageStarted
from pipeline.core.result_row import VariantRow
from pipeline.variants.catalog import resolve_specs
from pipeline.variants.import_context import ImportContext, weights_of
from pipeline.variants.import_reopen import reopen_import
from pipeline.variants.imported import measure_baseline, measure_variant
from pipeline.variants.manifest import read_manifest, resolve_artifact
from pipeline.variants.remeasure import keep_unmeasured


def remeasure_import(experiment_dir: Path, config, previous: dict[str, dict], sink) -> dict[str, VariantRow]:
    """Re-measure `fp32` and every variant in the manifest; `previous` are the stored rows by name."""
    experiment_dir = Path(experiment_dir)
    prepared = reopen_import(experiment_dir, config)
    settings = prepared.settings
    manifest = read_manifest(experiment_dir)
    ctx = ImportContext(prepared, experiment_dir, sink, config)
    sink(RunStarted(config=config.to_dict(), device="cpu", threads=settings.latency_threads))
    sink(StageStarted(stage="evaluate", detail=f"re-measuring {len(manifest)} variants", total=len(manifest)))
    original = resolve_artifact(experiment_dir, manifest["fp32"]["artifact"])
    started = time.monotonic()
    old_fp32 = VariantRow.from_dict(previous.get("fp32", {}))
    fp32_row = measure_baseline(ctx, original, old_fp32.extra.get("import") or {})
    fp32_row.params = old_fp32.params
    ctx.fp32_row = fp32_row
    rows = {"fp32": fp32_row}
    _report(ctx, "fp32", fp32_row, started)
    specs = {spec.name: spec for spec in resolve_specs(config)}
    for name, entry in manifest.items():
        if name == "fp32" or name not in specs:
            continue
        started = time.monotonic()
        path = resolve_artifact(experiment_dir, entry["artifact"])
        if specs[name].kind == "ort-fp32":
            ctx.prepared_path = path
            ctx.weights = weights_of(path)
        old = VariantRow.from_dict(previous.get(name, {}))
        built = ctx.built(
            path, list(old.notes or []), list(old.float_layers or []), old.bits_per_weight or 32.0
        )
        rows[name] = measure_variant(
            ctx,
            specs[name],
            built,
            started,
            record=False,
            keep=lambda row, old=old: keep_unmeasured(row, old),
        )
    sink(RunFinished(status="finished", summary={"best_cer": fp32_row.cer, "remeasured": True}))
    return rows


def _report(ctx: ImportContext, name: str, row: VariantRow, started: float) -> None:
    from pipeline.core.events import VariantEvaluated

    row.build_seconds = time.monotonic() - started
    ctx.sink(VariantEvaluated(name=name, metrics=row.to_dict()))
