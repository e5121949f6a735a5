"""An imported recognizer as an experiment: a foreign ONNX model is the baseline, ocrq prepares its graph,
builds the ONNX Runtime variants on it and measures each with the same table as a trained experiment.

`prepare_import` checks everything before anything is written (model mapping, charset, data), so bad
input ends in one line; `run_import` does the work and tells a sink, as `pipeline.runner` does.
Rows: `fp32` is the user's file as it is (every ratio's baseline), `ort-fp32` the prepared graph,
then `ort-int8-static`, `ort-int8-dynamic`, `ort-int4-weight` (when there are MatMuls) and
`ort-int8-mixed` (static int8 with the most CER-costly nodes kept float until within budget).
"""

from __future__ import annotations

import random
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch

from pipeline.config.data_sections import AugmentationConfig, SyntheticDataConfig
from pipeline.core.charset import ASCII_CHARS, Charset
from pipeline.core.events import (
    ArtifactSaved,
    LogMessage,
    RunFinished,
    RunStarted,
    StageStarted,
    VariantEvaluated,
)
from pipeline.core.result_row import VariantRow
from pipeline.data.resize_rule import ResizeRule, ResizeRuleError
from pipeline.deploy.calibration import LineBatchReader, calibration_for
from pipeline.deploy.foreign_model import (
    ForeignLayout,
    ForeignOnnxRecognizer,
    ImportRefused,
    inspect_foreign_model,
    metadata_characters,
    to_model_input,
)
from pipeline.deploy.foreign_quantize import (
    ForeignStaticOptions,
    StaticQuantizer,
    quantize_dynamic_foreign,
    weight_layer_nodes,
)
from pipeline.deploy.onnx_anatomy import size_anatomy
from pipeline.deploy.onnx_graph import main_weight_names
from pipeline.deploy.onnx_prepare import EQUIVALENCE_TOLERANCE, max_abs_difference, prepare_graph
from pipeline.deploy.ort_quantize import quantize_weights_nbits
from pipeline.evaluation.metrics import output_fidelity
from pipeline.evaluation.predict import Predictions, predict
from pipeline.variants.build_basic import Built
from pipeline.variants.manifest import record_resize_rule, record_variant
from pipeline.variants.measure import (
    apply_accuracy_guard,
    compare,
    fidelity,
    measure_built,
    measure_onnx_latency,
)
from pipeline.variants.specs import VariantSpec

_METRIC_KEYS = ("cer", "em", "ned", "samples", "label_chars", "pred_chars", "edits", "buckets")
IMPORT_VARIANTS = ("ort-int8-static", "ort-int8-dynamic", "ort-int4-weight", "ort-int8-mixed")
MAX_FLOAT_NODES = 12  # mixed precision stops after this many float nodes even if still over budget


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
    observer_type: str = "min_max"
    variants: tuple[str, ...] = IMPORT_VARIANTS
    accuracy_budget_pp: float = 0.5
    mixed_budget_pp: float = 0.1
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
    """A checked import: the model's mapping, its characters, the evaluation and calibration lines."""

    settings: ImportSettings
    layout: ForeignLayout
    charset: Charset
    charset_source: str
    data_label: str
    test_batches: list
    calibration_batches: list
    # the horizontal stretch the model was trained with: 1.0 (aspect kept) unless ocrq's metadata says more
    width_scale: float = 1.0

    @property
    def test_lines(self) -> int:
        return sum(len(b.texts) for b in self.test_batches)

    @property
    def calibration_line_count(self) -> int:
        return sum(len(b.texts) for b in self.calibration_batches)


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
    if settings.calibration_lines < 1 or settings.lines < 1:
        raise ImportRefused("--lines and --calibration-lines must be >= 1")
    layout = inspect_foreign_model(
        settings.model,
        height=settings.height,
        normalize=settings.normalize,
        blank=settings.blank,
        width=settings.width,
    )
    charset, charset_source = model_charset(settings, layout.classes)
    width_scale = trained_width_scale(settings.model)
    label, test, calibration = _load_lines(settings, layout, charset, width_scale)
    return PreparedImport(settings, layout, charset, charset_source, label, test, calibration, width_scale)


def trained_width_scale(path: Path) -> float:
    """The width stretch a model exported by ocrq was trained with (its ONNX metadata); 1.0 for others."""
    from pipeline.variants.resize import onnx_resize_rule

    try:
        rule = onnx_resize_rule(path)
    except ResizeRuleError as error:
        raise ImportRefused(f"{path}: {error}") from None
    return 1.0 if rule is None else rule.width_scale


def _load_lines(
    settings: ImportSettings, layout: ForeignLayout, charset: Charset, width_scale: float = 1.0
) -> tuple[str, list, list]:
    from pipeline.data.label_files import find_label_file
    from pipeline.data.labelled import LabelledLineDataset, load_label_file
    from pipeline.data.loader import make_loader
    from pipeline.data.synthetic import SyntheticLineDataset

    max_width = layout.fixed_width or int(16 * layout.height * width_scale)

    def batches(dataset) -> list:
        loader = make_loader(
            dataset,
            settings.batch_size,
            charset=charset,
            width_multiple=layout.stride,
            shuffle=False,
            seed=settings.seed,
            with_sources=True,
        )
        return list(loader)

    if settings.data == "synthetic":
        drawable = "".join(c for c in ASCII_CHARS if c in charset.chars)
        if len(drawable) < 10:
            raise ImportRefused(
                "--data synthetic renders ASCII lines, but the model's charset has almost no ASCII characters; "
                "give --data a label file"
            )
        config = SyntheticDataConfig(
            image_height=layout.height, max_image_width=max_width, max_length=25, width_scale=width_scale
        )
        render = Charset("ascii-in-model", drawable)
        test = SyntheticLineDataset(
            config, AugmentationConfig(), render, size=settings.lines, seed=settings.seed, split="test"
        )
        calibration = SyntheticLineDataset(
            config,
            AugmentationConfig(),
            render,
            size=settings.calibration_lines,
            seed=settings.seed,
            split="train",
        )
        label = f"synthetic ({settings.lines} test lines, {settings.calibration_lines} calibration lines)"
        return label, batches(test), batches(calibration)
    label_file = find_label_file(settings.data)
    samples, _ = load_label_file(label_file, charset, allow_empty=True)
    if len(samples) <= settings.calibration_lines:
        raise ImportRefused(
            f"--data {label_file} has {len(samples)} lines, not more than --calibration-lines "
            f"{settings.calibration_lines}; lower --calibration-lines or give more lines"
        )
    order = list(range(len(samples)))
    random.Random(settings.seed).shuffle(order)  # calibration lines apart from the measured ones
    cal = [samples[i] for i in order[: settings.calibration_lines]]
    rest = [samples[i] for i in sorted(order[settings.calibration_lines :])][: settings.lines]

    def dataset(part):
        return LabelledLineDataset(
            part,
            image_height=layout.height,
            max_image_width=max_width,
            too_wide="resize",
            width_scale=width_scale,
        )

    label = f"{label_file} ({len(rest)} test lines, {len(cal)} calibration lines)"
    return label, batches(dataset(rest)), batches(dataset(cal))


# --- measuring ----------------------------------------------------------------------------------------


@dataclass
class _DeploySettings:
    latency_threads: int
    latency_runs: int
    accuracy_budget_pp: float


@dataclass
class _Config:
    deploy: _DeploySettings


@dataclass
class ImportContext:
    """What `measure_built` reads of a variant context, for an imported model."""

    prepared: PreparedImport
    workdir: Path
    sink: Any
    config: _Config
    fp32_row: VariantRow | None = None
    reference_recognizer: Any = None
    fp32_test: Predictions | None = None
    fp32_model: Any = None
    extras: dict[str, Any] = field(default_factory=dict)

    def predict(self, recognizer, device=None, *, keep_logits: bool = True, batches=None) -> Predictions:
        return predict(
            recognizer,
            self.prepared.test_batches if batches is None else batches,
            self.prepared.charset,
            torch.device("cpu"),
            compute_loss=False,
            keep_logits=keep_logits,
        )

    def fp32_reference(self) -> Predictions:
        return self.fp32_test

    def log(self, message: str, level: str = "info") -> None:
        self.sink(LogMessage(level=level, message=message))


def _weights_of(path: Path) -> tuple[int, int]:
    """(weights, non-zero weights) of a float ONNX graph's main weights."""
    model = onnx.load(str(path))
    names = main_weight_names(model.graph)
    arrays = [onnx.numpy_helper.to_array(t) for t in model.graph.initializer if t.name in names]
    return sum(a.size for a in arrays), sum(int(np.count_nonzero(a)) for a in arrays)


def _built(
    ctx: ImportContext, path: Path, notes: list[str], float_nodes: list[str], bits: float, extra=None
) -> Built:
    params, nonzero = ctx.extras["weights"]
    return Built(
        recognizer=ForeignOnnxRecognizer(
            path, ctx.prepared.layout, threads=ctx.config.deploy.latency_threads
        ),
        artifact=path,
        artifact_format="onnx",
        backend="onnxruntime",
        device=torch.device("cpu"),
        params=params,
        nonzero_params=nonzero,
        bits_per_weight=bits,
        float_layers=float_nodes,
        notes=notes,
        extra=dict(extra or {}),
    )


def _measure(ctx: ImportContext, name: str, kind: str, built: Built, started: float) -> VariantRow:
    record_variant(ctx.workdir, name, built.artifact, "onnx", "onnxruntime")
    ctx.sink(
        ArtifactSaved(
            artifact_kind="onnx", path=str(built.artifact), bytes=built.artifact.stat().st_size, variant=name
        )
    )
    row, _ = measure_built(ctx, VariantSpec(name, kind), built, ctx.fp32_row, memory=False)
    row.ratio_baseline = "fp32 (the imported file)"
    row.build_seconds = time.monotonic() - started
    apply_accuracy_guard(name, kind, row, ctx.config.deploy.accuracy_budget_pp, ctx.sink)
    ctx.sink(VariantEvaluated(name=name, metrics=row.to_dict()))
    return row


def _model_inputs(prepared: PreparedImport, batches: list) -> list[dict[str, np.ndarray]]:
    layout = prepared.layout
    return [{layout.input_name: to_model_input(b.images.numpy(), layout)} for b in batches]


def run_import(prepared: PreparedImport, sink, workdir: Path) -> dict[str, VariantRow]:
    """Baseline, graph preparation and variants of an imported model, each measured and told to `sink`."""
    settings, layout = prepared.settings, prepared.layout
    workdir = Path(workdir)
    variants_dir = workdir / "variants"
    variants_dir.mkdir(parents=True, exist_ok=True)
    deploy = _DeploySettings(settings.latency_threads, settings.latency_runs, settings.accuracy_budget_pp)
    ctx = ImportContext(prepared, workdir, sink, _Config(deploy))
    sink(RunStarted(config={"import": settings.to_dict()}, device="cpu", threads=settings.latency_threads))
    import_doc = {
        "source": str(settings.model.resolve()),
        "layout": layout.to_dict(),
        "charset": prepared.charset_source,
        "data": prepared.data_label,
    }
    # the baseline: the user's file as it is
    started = time.monotonic()
    sink(StageStarted(stage="evaluate", detail=f"imported FP32 on {prepared.test_lines} lines", total=1))
    original = variants_dir / f"imported-{settings.model.name}"
    shutil.copyfile(settings.model, original)
    ctx.extras["weights"] = (0, 0)
    fp32_built = _built(ctx, original, ["the imported file as it is"], [], 32.0)
    ctx.fp32_test = ctx.predict(fp32_built.recognizer)
    metrics = ctx.fp32_test.metrics()
    record_resize_rule(workdir, ResizeRule(layout.height, prepared.width_scale, layout.stride))
    record_variant(workdir, "fp32", original, "onnx", "onnxruntime")
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
    fp32_row.fidelity = fidelity(ctx.fp32_test, ctx.fp32_test)
    fp32_row.extra["import"] = import_doc
    ctx.fp32_row = fp32_row
    compare(fp32_row, fp32_row, None, deploy.accuracy_budget_pp)
    fp32_row.ratio_baseline = "fp32 (the imported file)"
    fp32_row.build_seconds = time.monotonic() - started
    ctx.reference_recognizer = fp32_built.recognizer
    sink(VariantEvaluated(name="fp32", metrics=fp32_row.to_dict()))
    rows = {"fp32": fp32_row}

    # graph preparation, checked against the original on the test lines
    started = time.monotonic()
    sink(StageStarted(stage="prepare", detail="opset, constants, BatchNorm folding, shapes", total=1))
    prepared_path = variants_dir / "ort-fp32.onnx"
    report = prepare_graph(settings.model, prepared_path)
    report.max_abs_diff = max_abs_difference(
        settings.model, prepared_path, _model_inputs(prepared, prepared.test_batches)
    )
    report.checked_lines = prepared.test_lines
    ctx.log(report.summary())
    if report.max_abs_diff > EQUIVALENCE_TOLERANCE:
        ctx.log(
            f"the prepared graph differs from the original by {report.max_abs_diff:.2e}, over {EQUIVALENCE_TOLERANCE:g}",
            "warning",
        )
    ctx.extras["weights"] = _weights_of(prepared_path)
    fp32_row.params = ctx.extras["weights"][0]
    built = _built(
        ctx,
        prepared_path,
        ["the prepared graph: " + "; ".join(report.steps)],
        [],
        32.0,
        {"preparation": report.to_dict()},
    )
    rows["ort-fp32"] = _measure(ctx, "ort-fp32", "ort-fp32", built, started)

    nodes = weight_layer_nodes(prepared_path)
    reader = LineBatchReader.from_line_batches(
        prepared.calibration_batches,
        input_name=layout.input_name,
        transform=lambda b: to_model_input(b, layout),
    )
    quantizer = StaticQuantizer(prepared_path, reader, workdir / "variants" / "work")
    calibration = calibration_for(settings.observer_type)
    wanted = [v for v in IMPORT_VARIANTS if v in settings.variants]
    for name in wanted:
        started = time.monotonic()
        sink(StageStarted(stage=f"variant:{name}", detail=name, total=None))
        path = variants_dir / f"{name}.onnx"
        if name == "ort-int8-static":
            quantizer.quantize(path, ForeignStaticOptions(calibration=calibration))
            notes = [
                f"static QDQ int8, per-channel weights, calibration {calibration.description} on "
                f"{reader.lines} of the user's lines (padded per batch); attention's activation products float"
            ]
            built = _built(ctx, path, notes, [], 8.0)
        elif name == "ort-int8-dynamic":
            quantize_dynamic_foreign(prepared_path, path)
            matmuls = [n for n in nodes if "MatMul" in n or "Gemm" in n]
            built = _built(
                ctx,
                path,
                ["dynamic int8 MatMul/Gemm weights; convs stay float"],
                [n for n in nodes if n not in matmuls],
                8.0,
            )
        elif name == "ort-int4-weight":
            if not any(
                n.op_type == "MatMul"
                for n in onnx.load(str(prepared_path), load_external_data=False).graph.node
            ):
                ctx.log("ort-int4-weight skipped: the model has no MatMul")
                continue
            quantize_weights_nbits(prepared_path, path, bits=4, block_size=32, symmetric=True)
            built = _built(
                ctx, path, ["MatMulNBits: 4-bit MatMul weights in blocks of 32; convs stay float"], [], 4.0
            )
        else:  # ort-int8-mixed
            float_nodes, scan = mixed_by_sensitivity(ctx, quantizer, calibration, nodes, path)
            notes = [
                f"static int8 with {len(float_nodes)} node(s) kept float by a sensitivity scan on the "
                f"calibration lines (budget {settings.mixed_budget_pp} pp)"
            ]
            built = _built(ctx, path, notes, float_nodes, 8.0, {"sensitivity": scan})
        rows[name] = _measure(ctx, name, name, built, started)
    kept = [r for n, r in rows.items() if n != "fp32" and r.accuracy_guard == "ok"]
    summary = {
        "best_cer": fp32_row.cer,
        "best_em": fp32_row.em,
        "size_ratio": max((r.compression_ratio for r in kept if r.compression_ratio), default=None),
        "speedup": max((r.speedup for r in kept if r.speedup), default=None),
    }
    sink(RunFinished(status="finished", summary=summary))
    return rows


def mixed_by_sensitivity(
    ctx: ImportContext, quantizer: StaticQuantizer, calibration, nodes: list[str], target: Path
) -> tuple[list[str], dict[str, Any]]:
    """Static int8 with the costliest nodes kept float until the CER on the calibration lines is within
    `mixed_budget_pp` of FP32 (at most MAX_FLOAT_NODES). Each node's cost is measured by quantizing it
    alone: its CER rise in pp and the KL divergence of its outputs from FP32 (which orders nodes of equal CER)."""
    settings = ctx.prepared.settings
    lines = ctx.prepared.calibration_batches
    work = ctx.workdir / "variants" / "work"
    reference = ctx.predict(ctx.reference_recognizer, keep_logits=True, batches=lines)
    base_cer = reference.metrics().cer

    def measure(path: Path) -> tuple[float, float]:
        got = ctx.predict(ForeignOnnxRecognizer(path, ctx.prepared.layout), keep_logits=True, batches=lines)
        error = output_fidelity(np.concatenate(reference.logits)[None], np.concatenate(got.logits)[None])
        return 100 * (got.metrics().cer - base_cer), float(error["kl"])

    costs = []
    probe = work / "sensitivity-probe.onnx"
    for index, node in enumerate(nodes):
        quantizer.quantize(
            probe, ForeignStaticOptions(calibration=calibration, exclude=[n for n in nodes if n != node])
        )
        cer_pp, error = measure(probe)
        costs.append({"node": node, "cer_pp": cer_pp, "output_error": error})
        if (index + 1) % 10 == 0:
            ctx.log(f"sensitivity: {index + 1}/{len(nodes)} nodes measured")
    costs.sort(key=lambda c: (-c["cer_pp"], -c["output_error"]))
    float_nodes: list[str] = []
    steps = []
    while True:
        quantizer.quantize(target, ForeignStaticOptions(calibration=calibration, exclude=float_nodes))
        cer_pp, error = measure(target)
        steps.append({"float_nodes": len(float_nodes), "cer_pp": cer_pp, "output_error": error})
        if cer_pp <= settings.mixed_budget_pp or len(float_nodes) >= min(MAX_FLOAT_NODES, len(costs)):
            break
        float_nodes.append(costs[len(float_nodes)]["node"])
    ctx.log(
        f"mixed precision: {len(float_nodes)} float node(s) ({', '.join(float_nodes) or 'none'}), "
        f"+{cer_pp:.2f} pp on the calibration lines"
    )
    return float_nodes, {"lines": "calibration", "base_cer": base_cer, "nodes": costs, "steps": steps}
