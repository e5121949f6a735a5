"""`analyze_experiment`: read an experiment's lines with FP32 and its variants once, run the chosen parts,
write figures, analysis.json and analysis.md under `<experiment>/analysis/`, and say what was written.

Recognizers (and their ONNX Runtime sessions) are loaded once and reused by every part; the clean
readings (with per-frame log-probabilities) are shared by errors, changes, alignment and confidence.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.analysis import alignment as alignment_views
from pipeline.analysis import figures
from pipeline.analysis.changes import char_accuracy_deltas, flips, frame_agreement, grown_confusions
from pipeline.analysis.confidence import confidence_report
from pipeline.analysis.errors import error_report
from pipeline.analysis.lines import LineSet, Reading, read_lines
from pipeline.analysis.report import write_markdown
from pipeline.analysis.robustness import robustness_report
from pipeline.analysis.subject import open_subject
from pipeline.config import config_from_dict
from pipeline.config.variant_specs import artifact_stem
from pipeline.core.atomic import write_text_atomic
from pipeline.core.charset import Charset
from pipeline.core.device import configure_threads
from pipeline.data.samples import tensor_to_image
from pipeline.evaluation.metrics import edit_distance

PARTS = ("errors", "changes", "alignment", "robustness", "confidence", "training")
ANALYSIS_DIR = "analysis"

Progress = Callable[[str, int, int, str], None]


@dataclass
class AnalysisSettings:
    """What to analyse.

    Attributes:
        parts: Subset of PARTS.
        data: "test", "synthetic" or a label file / folder (see `load_line_set`).
        count: At most this many lines (None: all of `data`).
        robustness_lines: Lines read under each corruption (the costly part; the first N of the set).
        alignment_lines: Line indices for alignment views (None: flipped, then worst).
        alignment_count: How many alignment views per variant.
        augmentation_lines: Lines rendered per augmentation for the training part.
        threads: CPU threads for torch and ONNX Runtime.
    """

    parts: tuple[str, ...] = PARTS
    data: str = "test"
    count: int | None = None
    robustness_lines: int = 256
    alignment_lines: list[int] | None = None
    alignment_count: int = 3
    augmentation_lines: int = 128
    threads: int = 1

    def __post_init__(self) -> None:
        unknown = [p for p in self.parts if p not in PARTS]
        if unknown or not self.parts:
            raise ValueError(
                f"analysis part(s) {', '.join(unknown) or '(none)'} unknown; allowed {', '.join(PARTS)}"
            )
        for name in ("robustness_lines", "alignment_count", "augmentation_lines", "threads"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}={value!r} is not allowed; give an integer >= 1")


@dataclass
class AnalysisResult:
    """What `analyze_experiment` computed and wrote."""

    document: dict[str, Any]
    files: list[Path] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def _pixels(image) -> np.ndarray:
    return np.asarray(tensor_to_image(image))


def _caption(label: str, ref_name: str, ref: str, var_name: str, var: str, index: int) -> str:
    return f"#{index}  label {label!r}\n{ref_name}: {ref!r}   {var_name}: {var!r}"


class _Reader:
    """Loads each recognizer once and reads line sets with it."""

    def __init__(self, load_model: Callable[[str], object], config, charset: Charset) -> None:
        self._load = load_model
        self.config, self.charset, self.models = config, charset, {}

    def model(self, variant: str):
        if variant not in self.models:
            self.models[variant] = self._load(variant)
        return self.models[variant]

    def read(
        self,
        variant: str,
        lines: LineSet,
        transform=None,
        keep_logits: bool = True,
        batch_size: int | None = None,
    ) -> Reading:
        return read_lines(
            self.model(variant),
            lines,
            self.charset,
            self.config,
            transform=transform,
            keep_logits=keep_logits,
            batch_size=batch_size,
        )


def analyze_experiment(
    experiment_dir: Path,
    experiment_config: dict[str, Any],
    variants: list[str],
    settings: AnalysisSettings | None = None,
    progress: Progress | None = None,
) -> AnalysisResult:
    """Run the analyses of `settings.parts` on one experiment and write them under `analysis/`.

    Args:
        experiment_dir: The experiment's folder.
        experiment_config: Its stored config (nested dict).
        variants: Variant names; "fp32" (the reference) is put first when missing.
        settings: What to analyse.
        progress: `(part, done, total, message)`, called as work advances.

    Raises:
        ValueError: for data that cannot be read (the message says what is allowed).
    """
    settings = settings or AnalysisSettings()
    experiment_dir = Path(experiment_dir)
    say = progress or (lambda *_: None)
    config = config_from_dict(experiment_config)
    subject = open_subject(experiment_dir, config, settings.threads)
    charset = subject.charset
    configure_threads(settings.threads)
    variants = ["fp32", *[v for v in dict.fromkeys(variants) if v != "fp32"]]
    out_dir = experiment_dir / ANALYSIS_DIR
    colors = figures.variant_colors(variants)
    seconds: dict[str, float] = {}
    files: list[Path] = []
    doc: dict[str, Any] = {"variants": variants, "parts": list(settings.parts)}

    started = time.monotonic()
    say("read", 0, len(variants) + 1, "loading lines")
    lines = subject.load_lines(settings.data, settings.count)
    doc["data"] = {
        "description": lines.description,
        "lines": len(lines),
        "synthetic": lines.fonts is not None,
    }
    bad = [i for i in settings.alignment_lines or [] if not 0 <= i < len(lines)]
    if bad:
        raise ValueError(f"--line {bad[0]} is out of range; allowed 0..{len(lines) - 1}")
    # Bad input is refused above, before anything is written.
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in (*out_dir.glob("*.png"), out_dir / "analysis.json", out_dir / "analysis.md"):
        old.unlink(missing_ok=True)  # a rerun with other parts must not leave stale figures behind
    reader = _Reader(subject.load_model, config, charset)
    readings: dict[str, Reading] = {}
    for i, variant in enumerate(variants):
        say("read", i + 1, len(variants) + 1, variant)
        readings[variant] = reader.read(variant, lines)
    seconds["read"] = time.monotonic() - started
    labels = lines.labels
    ref = readings["fp32"]

    def timed(part: str, body: Callable[[], None]) -> None:
        if part in settings.parts:
            began = time.monotonic()
            body()
            seconds[part] = time.monotonic() - began

    def errors_part() -> None:
        reports = {}
        for i, variant in enumerate(variants):
            say("errors", i, len(variants), variant)
            reports[variant] = error_report(
                readings[variant].predictions, labels, fonts=lines.fonts, augmentations=lines.augmentations
            )
        doc["errors"] = reports
        files.append(
            figures.error_kinds_figure(
                {v: r["kinds"] for v, r in reports.items()}, colors, out_dir / "error_kinds.png"
            )
        )
        for variant, report in reports.items():
            path = figures.confusion_heatmap(
                report["confusions"],
                out_dir / f"confusions_{artifact_stem(variant)}.png",
                title=f"Top confusions: {variant}",
            )
            files.extend([path] if path else [])
        for key, title, column in (
            ("by_length", "CER by label length", "bucket"),
            ("by_class", "CER by character class", "class"),
            ("by_font", "CER by font", "group"),
            ("by_augmentation", "CER of lines with each augmentation", "group"),
        ):
            if reports["fp32"].get(key) is None:
                continue
            categories = [row[column] for row in reports["fp32"][key]][:16]
            values = {v: {row[column]: row["cer"] for row in r[key]} for v, r in reports.items()}
            files.append(
                figures.grouped_bars(
                    values,
                    categories,
                    colors,
                    out_dir / f"cer_{key}.png",
                    title=title,
                    ylabel="CER (%)",
                    percent=True,
                )
            )

    def changes_part() -> None:
        if "errors" not in doc:
            errors_part()
        changes = {}
        for i, variant in enumerate(variants[1:]):
            say("changes", i, len(variants) - 1, variant)
            reading = readings[variant]
            flipped = flips(ref.correct, reading.correct)
            agreement = frame_agreement(ref.logits, reading.logits)
            per_line = agreement.pop("per_line_agreement")
            changes[variant] = {
                "flips": flipped.to_dict(),
                "flipped_lines": [
                    {
                        "index": i,
                        "label": labels[i],
                        "fp32": ref.predictions[i],
                        "variant": reading.predictions[i],
                    }
                    for i in flipped.broke + flipped.fixed
                ],
                "grown_confusions": grown_confusions(ref.predictions, reading.predictions, labels),
                "char_accuracy_deltas": char_accuracy_deltas(
                    doc["errors"]["fp32"]["char_accuracy"], doc["errors"][variant]["char_accuracy"]
                ),
                **agreement,
                "least_agreeing_lines": [int(i) for i in np.argsort(per_line)[:5]],
            }
            indices = flipped.broke + flipped.fixed
            captions = [
                ("broke " if i in flipped.broke else "fixed ")
                + _caption(labels[i], "fp32", ref.predictions[i], variant, reading.predictions[i], i)
                for i in indices
            ]
            path = figures.contact_sheet(
                [_pixels(lines.images[i]) for i in indices],
                captions,
                out_dir / f"flips_{artifact_stem(variant)}.png",
                title=f"{variant}: {len(flipped.broke)} broke, {len(flipped.fixed)} fixed (first 12)",
            )
            files.extend([path] if path else [])
        doc["changes"] = changes

    def alignment_part() -> None:
        views = {}
        line_errors = [edit_distance(p, q) for p, q in zip(ref.predictions, labels, strict=True)]
        for i, variant in enumerate(variants[1:] or variants):
            say("alignment", i, max(1, len(variants) - 1), variant)
            flipped = flips(ref.correct, readings[variant].correct)
            chosen = alignment_views.choose_lines(
                ref.correct,
                line_errors,
                flipped.broke + flipped.fixed,
                count=settings.alignment_count,
                indices=settings.alignment_lines,
            )
            shown = ["fp32", variant] if variant != "fp32" else ["fp32"]
            entries = []
            for index in chosen:
                frame = {v: alignment_views.frame_view(readings[v].logits[index], charset) for v in shown}
                texts = {v: readings[v].predictions[index] for v in shown}
                path = figures.alignment_figure(
                    _pixels(lines.images[index]),
                    frame,
                    texts,
                    labels[index],
                    out_dir / f"alignment_{artifact_stem(variant)}_{index}.png",
                    colors,
                )
                files.append(path)
                entries.append(
                    {
                        "index": index,
                        "label": labels[index],
                        "texts": texts,
                        "figure": path.name,
                        "text": alignment_views.alignment_text(
                            labels[index], {v: (texts[v], readings[v].logits[index]) for v in shown}, charset
                        ),
                    }
                )
            views[variant] = entries
        doc["alignment"] = views

    def robustness_part() -> None:
        subset = lines.subset(settings.robustness_lines)
        total = 5 * 5

        corrupted: dict[str, Any] = {"transform": None, "lines": None}

        def read(variant, transform):
            if transform is None:  # the clean readings are already here
                return readings[variant].predictions[: len(subset)]
            if corrupted["transform"] is not transform:  # corrupt once, read with every variant
                images = [transform(image, i) for i, image in enumerate(subset.images)]
                corrupted["transform"] = transform
                corrupted["lines"] = LineSet(images, subset.labels, subset.sources, subset.description)
            return reader.read(variant, corrupted["lines"], keep_logits=False, batch_size=64).predictions

        done = [0]

        def tick(message: str) -> None:
            done[0] += 1
            say("robustness", done[0], total, message)

        report = robustness_report(read, variants, subset.labels, progress=tick)
        doc["robustness"] = report
        files.append(
            figures.robustness_figure(
                report["curves"], report["severities"], colors, out_dir / "robustness.png"
            )
        )
        if report["gaps"]:  # the curves overlap when variants are close: the gaps say it in one look
            files.append(
                figures.grouped_bars(
                    {v: g["by_corruption"] for v, g in report["gaps"].items()},
                    list(report["curves"]["fp32"]),
                    {v: colors[v] for v in report["gaps"]},
                    out_dir / "robustness_gap.png",
                    title="Robustness gap: extra CER under corruption beyond the clean ΔCER",
                    ylabel="gap (pp)",
                    percent=True,
                )
            )

    def confidence_part() -> None:
        reports = {}
        for i, variant in enumerate(variants):
            say("confidence", i, len(variants), variant)
            reports[variant] = confidence_report(
                readings[variant].logits, readings[variant].predictions, labels
            )
        doc["confidence"] = {
            v: {k: x for k, x in r.items() if k != "confidences"} for v, r in reports.items()
        }
        doc["confidence_values"] = {v: r["confidences"] for v, r in reports.items()}
        files.append(figures.reliability_figure(reports, colors, out_dir / "reliability.png"))
        files.append(figures.rejection_figure(reports, colors, out_dir / "rejection.png"))

    def training_part() -> None:
        from pipeline.analysis.training import (
            augmentation_line_sets,
            augmentation_report,
            checkpoint_models,
            checkpoint_report,
        )
        from pipeline.evaluation.metrics import cer

        section: dict[str, Any] = {}
        if subject.imported:
            doc["training"] = {"skipped": "an imported model: no checkpoints or training data to analyse"}
            return
        models = checkpoint_models(experiment_dir)
        say("training", 0, 2, "best and last checkpoints")
        if models:
            checkpoint_readings = {
                name: read_lines(model, lines, charset, config, keep_logits=False)
                for name, model in models.items()
            }
            section["checkpoints"] = checkpoint_report(checkpoint_readings, labels)
        if lines.fonts is not None:
            say("training", 1, 2, "augmentations alone")
            sets = augmentation_line_sets(config, charset, min(settings.augmentation_lines, len(lines)))
            cers = {
                name: cer(reader.read("fp32", s, keep_logits=False).predictions, s.labels)
                for name, s in sets.items()
            }
            section["augmentations"] = augmentation_report(cers)
            rows = section["augmentations"]
            files.append(
                figures.grouped_bars(
                    {"fp32": {r["augmentation"]: r["cer"] for r in rows}},
                    [r["augmentation"] for r in rows],
                    {"fp32": colors["fp32"]},
                    out_dir / "augmentations_alone.png",
                    title="CER with one augmentation alone at its strongest",
                    ylabel="CER (%)",
                    percent=True,
                )
            )
        doc["training"] = section

    for part, body in (
        ("errors", errors_part),
        ("changes", changes_part),
        ("alignment", alignment_part),
        ("confidence", confidence_part),
        ("robustness", robustness_part),
        ("training", training_part),
    ):
        timed(part, body)
    doc["seconds"] = {k: round(v, 3) for k, v in seconds.items()}
    doc["figures"] = [p.name for p in files]
    json_path = out_dir / "analysis.json"
    write_text_atomic(json_path, json.dumps(_json_safe(doc), indent=1, ensure_ascii=False))
    md_path = write_markdown(doc, out_dir / "analysis.md")
    return AnalysisResult(doc, [*files, json_path, md_path], seconds)


def _json_safe(value: Any) -> Any:
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        return _json_safe(value.item())
    return value
