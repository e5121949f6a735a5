"""An imported recognizer as an experiment: a foreign ONNX model is the baseline, ocrq prepares its graph,
builds the variant kinds that have an import builder (`pipeline.variants.build_imported`) and measures
each with the same table as a trained experiment, on clean and on hard lines.

`prepare_import` checks everything before anything is written (model mapping, charset, data), so bad
input ends in one line; `run_import` does the work and tells a sink, as `pipeline.runner` does.
Rows: `fp32` is the user's file as it is (every ratio's baseline), `ort-fp32` the prepared graph, then
the experiment config's `variants` in build order, each through the registry.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pipeline.core.charset import Charset
from pipeline.core.events import (
    ArtifactSaved,
    RunFinished,
    RunStarted,
    StageStarted,
    VariantEvaluated,
)
from pipeline.core.result_row import VariantRow
from pipeline.data.resize_rule import ResizeRule, ResizeRuleError
from pipeline.deploy.foreign_model import (
    ForeignLayout,
    ImportRefused,
    inspect_foreign_model,
    metadata_characters,
)
from pipeline.deploy.onnx_anatomy import size_anatomy
from pipeline.variants.catalog import build_order, import_builders, import_kinds, resolve_specs
from pipeline.variants.import_context import ImportContext
from pipeline.variants.import_lines import LineSets, load_line_sets
from pipeline.variants.manifest import record_resize_rule, record_variant
from pipeline.variants.measure import (
    apply_accuracy_guard,
    compare,
    fidelity,
    measure_built,
    measure_onnx_latency,
    peak_memory,
)

_METRIC_KEYS = ("cer", "em", "ned", "samples", "label_chars", "pred_chars", "edits", "buckets")


@dataclass
class ImportSettings:
    """What `ocrq import` was asked for."""

    model: Path
    data: str
    charset_file: Path | None = None
    height: int | None = None
    width: int | None = None
    normalize: str = "paddle"
    blank: int | None = None
    lines: int = 300
    calibration_lines: int = 64
    sensitivity_lines: int = 200  # at 64 the per-node costs on PP-OCRv4 were noise (bench/import_bench.py)
    hard_lines: int = 100
    observer_type: str = "min_max"
    variants: tuple[str, ...] = ()  # empty: every kind with an import builder but ort-fp32
    accuracy_budget_pp: float = 0.5
    mixed_budget_pp: float = 0.1
    mixed_min_ratio: float = 3.0
    latency_threads: int = 1
    latency_runs: int = 30
    batch_size: int = 16
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["model"] = str(self.model)
        data["charset_file"] = str(self.charset_file) if self.charset_file else None
        data["variants"] = list(self.variants)
        return data


@dataclass
class PreparedImport:
    """A checked import: the model's mapping, its characters and its line sets (`import_lines`)."""

    settings: ImportSettings
    layout: ForeignLayout
    charset: Charset
    charset_source: str
    lines: LineSets
    # the horizontal stretch the model was trained with: 1.0 (aspect kept) unless ocrq's metadata says more
    width_scale: float = 1.0
    # the imported experiment this one was made from (`ocrq run --from IMPORTED --mode compress`, a study)
    source_experiment: str | None = None

    @property
    def data_label(self) -> str:
        return self.lines.label

    @property
    def test_batches(self) -> list:
        return self.lines.clean

    @property
    def calibration_batches(self) -> list:
        return self.lines.calibration

    @property
    def sensitivity_batches(self) -> list:
        return self.lines.sensitivity

    @property
    def hard_batches(self) -> list:
        return self.lines.hard

    @property
    def test_lines(self) -> int:
        return self.lines.sizes()["clean_lines"]

    @property
    def sensitivity_lines(self) -> int:
        return self.lines.sizes()["sensitivity_lines"]


def model_charset(settings: ImportSettings, classes: int) -> tuple[Charset, str]:
    """The characters of classes 1..C-1: `--charset FILE` or the model's metadata (PaddleOCR appends a
    space when the output has one class more than its list)."""
    if settings.charset_file is not None:
        path = Path(settings.charset_file)
        if not path.is_file():
            raise ImportRefused(f"--charset '{path}' is not a file; give a UTF-8 file, one character a line")
        chars = path.read_text(encoding="utf-8").splitlines()
        source = str(path)
    else:
        chars = metadata_characters(settings.model)
        if chars is None:
            raise ImportRefused(
                f"{settings.model.name} carries no character list in its metadata; set --charset FILE"
            )
        source = "model metadata ('character')"
    chars = [c for c in chars if c != ""]
    if len(chars) == classes - 2 and " " not in chars:
        chars.append(" ")  # PaddleOCR's use_space_char
    if len(chars) != classes - 1:
        raise ImportRefused(
            f"the charset from {source} has {len(chars)} characters but the model scores {classes} classes "
            f"(blank + {classes - 1}); set --charset FILE with {classes - 1} characters"
        )
    bad = [c for c in chars if len(c) != 1]
    if bad:
        raise ImportRefused(
            f"the charset from {source} has entries that are not one character ({bad[:3]!r}); set --charset FILE"
        )
    try:
        return Charset(f"imported:{settings.model.name}", "".join(chars)), source
    except ValueError as error:
        raise ImportRefused(f"{error}; set --charset FILE") from None


def prepare_import(settings: ImportSettings) -> PreparedImport:
    """Check the model, charset and data; ImportRefused / ValueError (one line) for anything wrong."""
    settings.model = Path(settings.model)
    if not settings.model.is_file():
        raise ImportRefused(f"MODEL '{settings.model}' is not a file; give the .onnx recognizer to import")
    if (
        min(settings.calibration_lines, settings.sensitivity_lines, settings.lines) < 1
        or settings.hard_lines < 0
    ):
        raise ImportRefused(
            "--lines, --calibration-lines and --sensitivity-lines must be >= 1, --hard-lines >= 0"
        )
    if settings.mixed_min_ratio < 1:
        raise ImportRefused(f"--mixed-min-ratio {settings.mixed_min_ratio} is below 1; allowed >= 1")
    layout = inspect_foreign_model(
        settings.model,
        height=settings.height,
        normalize=settings.normalize,
        blank=settings.blank,
        width=settings.width,
    )
    charset, charset_source = model_charset(settings, layout.classes)
    width_scale = trained_width_scale(settings.model)
    lines = load_line_sets(settings, layout, charset, width_scale)
    return PreparedImport(settings, layout, charset, charset_source, lines, width_scale)


def trained_width_scale(path: Path) -> float:
    """The width stretch a model exported by ocrq was trained with (its ONNX metadata); 1.0 for others."""
    from pipeline.variants.resize import onnx_resize_rule

    try:
        rule = onnx_resize_rule(path)
    except ResizeRuleError as error:
        raise ImportRefused(f"{path}: {error}") from None
    return 1.0 if rule is None else rule.width_scale


def import_config(settings: ImportSettings, height: int, name: str):
    """The experiment config of an import: measuring settings as a run's, `variants` the import's kinds
    (the mixed variant with its own accuracy_budget_pp), so they resolve to typed specs like any run's."""
    from pipeline.config import resolve_config

    variants = ["ort-fp32"]
    for kind in settings.variants or import_kinds():
        if kind == "ort-int8-mixed":
            variants.append(
                f"ort-int8-mixed(accuracy_budget_pp={settings.mixed_budget_pp},name=ort-int8-mixed)"
            )
        else:
            variants.append(kind)
    batches = -(-settings.calibration_lines // settings.batch_size)
    return resolve_config(
        "smoke",
        overrides={
            "name": name,
            "image_height": height,
            "latency_threads": settings.latency_threads,
            "latency_runs": settings.latency_runs,
            "accuracy_budget_pp": settings.accuracy_budget_pp,
            "observer_type": settings.observer_type,
            "calibration_batches": batches,
            "variants": variants,
            "mode": "compress",
        },
        overrides_are_text=False,
    )


# --- measuring ----------------------------------------------------------------------------------------


def _hard_figures(ctx: ImportContext, built) -> dict[str, Any] | None:
    """CER / EM of a variant on the hard lines, beside the clean figures of its row."""
    if not ctx.prepared.hard_batches:
        return None
    got = ctx.predict(built.recognizer, batches=ctx.prepared.hard_batches, keep_logits=False).metrics()
    base = ctx.fp32_on("hard").metrics()
    return {
        "cer": got.cer,
        "em": got.em,
        "samples": got.samples,
        "cer_delta_pp": 100 * (got.cer - base.cer),
        "definition": ctx.prepared.lines.hard_note,
    }


def measure_variant(
    ctx: ImportContext, spec, built, started: float, *, record: bool = True, keep=None
) -> VariantRow:
    """Measure a built variant of the import (clean and hard lines, latency, memory) and tell the sink;
    `record` enters its file in the deploy manifest first (a new build); `keep(row)` fills in what the
    measurement does not make (a re-measurement keeps how the variant was built)."""
    if record:
        record_variant(ctx.workdir, spec.name, built.artifact, "onnx", "onnxruntime")
        ctx.sink(
            ArtifactSaved(
                artifact_kind="onnx",
                path=str(built.artifact),
                bytes=built.artifact.stat().st_size,
                variant=spec.name,
            )
        )
    row, _ = measure_built(ctx, spec, built, ctx.fp32_row)
    row.ratio_baseline = "fp32 (the imported file)"
    row.extra["hard_lines"] = _hard_figures(ctx, built)
    row.build_seconds = time.monotonic() - started
    if keep is not None:
        keep(row)
    apply_accuracy_guard(spec.name, spec.kind, row, ctx.config.deploy.accuracy_budget_pp, ctx.sink)
    ctx.sink(VariantEvaluated(name=spec.name, metrics=row.to_dict()))
    return row


def measure_baseline(ctx: ImportContext, original: Path, import_doc: dict[str, Any]) -> VariantRow:
    """The `fp32` row: the imported file as it is, on the clean and hard lines (every ratio's baseline)."""
    settings, deploy = ctx.prepared.settings, ctx.config.deploy
    fp32_built = ctx.built(original, ["the imported file as it is"], [], 32.0)
    ctx.reference_recognizer = fp32_built.recognizer
    ctx.fp32_test = ctx.predict(fp32_built.recognizer)
    metrics = ctx.fp32_test.metrics()
    fp32_row = VariantRow(**{k: v for k, v in metrics.to_dict().items() if k in _METRIC_KEYS})
    fp32_row.update(
        {
            "kind": "fp32",
            "size_bytes": original.stat().st_size,
            "size_source": f"bytes on disk of {settings.model.name} (the imported file)",
            "size_anatomy": size_anatomy(original),
            "bits_per_weight": 32.0,
            "backend": "onnxruntime",
            "artifact": str(original),
            "artifact_format": "onnx",
            "notes": fp32_built.notes,
            **measure_onnx_latency(fp32_built.recognizer, deploy),
        }
    )
    probe = peak_memory(
        ctx.workdir, "fp32", threads=deploy.latency_threads, artifact=original, **ctx.memory_input()
    )
    if probe:
        fp32_row.peak_memory_bytes, fp32_row.model_memory_bytes = (
            probe["peak_rss_bytes"],
            probe["model_bytes"],
        )
    fp32_row.fidelity = fidelity(ctx.fp32_test, ctx.fp32_test)
    fp32_row.extra["import"] = import_doc
    fp32_row.extra["hard_lines"] = _hard_figures(ctx, fp32_built)
    ctx.fp32_row = fp32_row
    compare(fp32_row, fp32_row, None, deploy.accuracy_budget_pp)
    fp32_row.ratio_baseline = "fp32 (the imported file)"
    return fp32_row


def run_import(prepared: PreparedImport, sink, workdir: Path, config=None) -> dict[str, VariantRow]:
    """Baseline, graph preparation and variants of an imported model, each measured and told to `sink`.

    `config` is the experiment's (`import_config`); made from the settings when not given."""
    settings, layout = prepared.settings, prepared.layout
    workdir = Path(workdir)
    config = config or import_config(settings, layout.height, f"import-{settings.model.stem}")
    (workdir / "variants").mkdir(parents=True, exist_ok=True)
    ctx = ImportContext(prepared, workdir, sink, config)
    sink(RunStarted(config={"import": settings.to_dict()}, device="cpu", threads=settings.latency_threads))
    import_doc = {
        "source": str(settings.model.resolve()),
        "layout": layout.to_dict(),
        "charset": prepared.charset_source,
        "data": prepared.data_label,
        "line_sets": prepared.lines.sizes(),
    }
    if prepared.source_experiment:
        import_doc["derived_from"] = prepared.source_experiment
    # the baseline: the user's file as it is
    started = time.monotonic()
    sink(StageStarted(stage="evaluate", detail=f"imported FP32 on {prepared.test_lines} lines", total=1))
    # a run over an imported experiment copies that experiment's copy under the same name
    original = ctx.artifact_path(f"imported-{settings.model.stem.removeprefix('imported-')}")
    shutil.copyfile(settings.model, original)
    record_resize_rule(workdir, ResizeRule(layout.height, prepared.width_scale, layout.stride))
    record_variant(workdir, "fp32", original, "onnx", "onnxruntime")
    fp32_row = measure_baseline(ctx, original, import_doc)
    fp32_row.build_seconds = time.monotonic() - started
    sink(VariantEvaluated(name="fp32", metrics=fp32_row.to_dict()))
    rows = {"fp32": fp32_row}
    if prepared.hard_batches:
        hard = fp32_row.extra["hard_lines"]
        ctx.log(f"imported FP32 on {hard['samples']} hard lines: CER {100 * hard['cer']:.2f}%")

    builders = import_builders()
    for planned in build_order(resolve_specs(config)):
        spec = planned.spec
        started = time.monotonic()
        stage = "prepare" if spec.kind == "ort-fp32" else f"variant:{spec.name}"
        sink(StageStarted(stage=stage, detail=spec.name, total=None))
        built = builders[spec.kind](ctx, spec)
        if built is None:
            continue
        rows[spec.name] = measure_variant(ctx, spec, built, started)
        if spec.kind == "ort-fp32":
            fp32_row.params = ctx.weights[0]
    kept = [r for n, r in rows.items() if n != "fp32" and r.accuracy_guard == "ok"]
    summary = {
        "best_cer": fp32_row.cer,
        "best_em": fp32_row.em,
        "size_ratio": max((r.compression_ratio for r in kept if r.compression_ratio), default=None),
        "speedup": max((r.speedup for r in kept if r.speedup), default=None),
    }
    sink(RunFinished(status="finished", summary=summary))
    return rows
