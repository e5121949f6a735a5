"""Per-experiment compression reports: `quantization_report.json` (every row, the config's compression
settings, the CPU), `comparison.md` (one table, FP32 first) and figures, each recorded as an artifact."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from pipeline.core.atomic import write_text_atomic
from pipeline.core.cpu_features import cpu_summary
from pipeline.core.events import ArtifactSaved
from pipeline.core.result_row import VariantRow

COLUMNS = (
    ("variant", lambda n, r: n),
    ("backend", lambda n, r: r.backend or "-"),
    ("CER %", lambda n, r: _num(100 * r.cer, 2)),
    ("ΔCER pp", lambda n, r: _signed(r.cer_delta_pp)),
    ("EM %", lambda n, r: _num(100 * r.em, 1)),
    ("1-NED", lambda n, r: _num(r.ned, 4)),
    ("bytes on disk", lambda n, r: f"{r.size_bytes:,}" if r.size_bytes else "-"),
    ("size ×", lambda n, r: _ratio(r.compression_ratio)),
    ("bits/weight (theory)", lambda n, r: _num(r.bits_per_weight, 2)),
    ("params", lambda n, r: f"{r.params:,}" if r.params else "-"),
    ("non-zero", lambda n, r: f"{r.nonzero_params:,}" if r.nonzero_params is not None else "-"),
    ("p50 ms b1", lambda n, r: _num(r.latency_ms_p50, 2)),
    ("p95 ms b1", lambda n, r: _num(r.latency_ms_p95, 2)),
    ("lines/s b16", lambda n, r: _num(r.throughput_lines_per_s_b16, 1)),
    ("speed ×", lambda n, r: _ratio(r.speedup)),
    ("peak MiB", lambda n, r: _num(r.peak_memory_bytes / 2**20, 1) if r.peak_memory_bytes else "-"),
    ("cosine", lambda n, r: _num((r.fidelity or {}).get("cosine"), 4)),
    ("SNR dB", lambda n, r: _num((r.fidelity or {}).get("snr_db"), 1)),
    ("KL", lambda n, r: _num((r.fidelity or {}).get("kl"), 4)),
    ("guard", lambda n, r: r.accuracy_guard or "-"),
)


def _num(value: Any, digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    return f"{value:.{digits}f}"


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{value:+.2f}"


def _ratio(value: float | None) -> str:
    return "-" if not value else f"{value:.2f}x"


def ordered(rows: dict[str, VariantRow]) -> list[tuple[str, VariantRow]]:
    """FP32 first, then FP32 ONNX, then the variants in their order."""
    names = list(rows)
    return sorted(
        rows.items(), key=lambda item: (item[0] != "fp32", item[0] != "ort-fp32", names.index(item[0]))
    )


def comparison_markdown(
    rows: dict[str, VariantRow], title: str, threads: int | None, cpu: dict[str, Any]
) -> str:
    """The comparison table in Markdown, with the measurement conditions above it and guard messages below."""
    header = "| " + " | ".join(c for c, _ in COLUMNS) + " |"
    rule = "|" + "|".join("---" for _ in COLUMNS) + "|"
    lines = [
        f"# {title}",
        "",
        f"Test set: {next(iter(rows.values())).get('samples', '?')} lines. Latency: one 32x256 line (batch 1) and "
        f"batch 16, CPU, {threads} thread(s); CPU {cpu['model']} ({', '.join(cpu['flags'])}). "
        "Ratios against FP32 ONNX (ort-fp32). Bytes are the deployable file on disk; bits/weight is theoretical.",
        "",
        header,
        rule,
    ]
    for name, row in ordered(rows):
        lines.append("| " + " | ".join(str(fn(name, row)) for _, fn in COLUMNS) + " |")
    notes = [f"- **{name}**: " + "; ".join(row.notes) for name, row in ordered(rows) if row.notes]
    floats = [
        f"- **{name}**: {', '.join(row.float_layers) or 'none'}"
        for name, row in ordered(rows)
        if row.float_layers is not None
    ]
    guards = [f"- {row.guard_message}" for _, row in ordered(rows) if row.guard_message]
    lines += ["", "## Layers left in float", "", *floats, *_anatomy_section(rows), "", "## Notes", "", *notes]
    if guards:
        lines += ["", "## Accuracy guard", "", *guards]
    return "\n".join(lines) + "\n"


def _anatomy_section(rows: dict[str, VariantRow]) -> list[str]:
    """Bytes of each ONNX file by kind, and the size ratio its weights alone would allow."""
    reference = rows["ort-fp32"].size_bytes if "ort-fp32" in rows else None
    with_anatomy = [(n, r, r.size_anatomy) for n, r in ordered(rows) if r.size_anatomy]
    if not with_anatomy:
        return []
    lines = [
        "",
        "## Where the bytes go",
        "",
        "Main weights, side tensors (scales, zero points, biases, norm parameters) and graph (nodes, names, "
        "framing), measured in each file. The bound is the FP32 ONNX size over the main weights alone: the "
        "ratio the variant would reach if side tensors and graph cost nothing.",
        "",
        "| variant | main weights | side tensors | graph | weights share | size × | bound × |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, row, anatomy in with_anatomy:
        bound = reference / anatomy["weights_bytes"] if reference and anatomy["weights_bytes"] else None
        share = anatomy["weights_bytes"] / anatomy["file_bytes"] if anatomy["file_bytes"] else None
        lines.append(
            f"| {name} | {anatomy['weights_bytes']:,} | {anatomy['side_bytes']:,} | {anatomy['graph_bytes']:,} "
            f"| {_num(None if share is None else 100 * share, 1)}% | {_ratio(row.compression_ratio)} "
            f"| {_ratio(bound)} |"
        )
    return lines


def write_reports(
    workdir: Path, rows: dict[str, VariantRow], config, sink, *, sensitivity=None
) -> dict[str, Path]:
    """Write the report, the comparison table and the figures into `workdir`; record each as an artifact.

    Every file lands whole (temp file + rename): a reader never sees half a report.
    """
    from pipeline.reports.figures import accuracy_vs_size, sensitivity_bars, variant_bars

    workdir = Path(workdir)
    cpu = cpu_summary()
    written: dict[str, Path] = {}
    report = {
        "format": "ocrq-quantization-report-1",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "model": config.model.model,
        "hardware_target": config.deploy.hardware_target,
        "backend": config.deploy.backend,
        "cpu": cpu,
        "settings": {
            "quantization": vars(config.quantization),
            "distillation": vars(config.distillation),
            "pruning": vars(config.pruning),
            "deploy": vars(config.deploy),
        },
        "ratio_baseline": "ort-fp32",
        "variants": {name: row.to_dict() for name, row in ordered(rows)},
        "sensitivity": sensitivity.to_dict() if sensitivity is not None else None,
    }
    path = workdir / "quantization_report.json"
    write_text_atomic(path, json.dumps(report, indent=2, default=_json_default))
    written["report"] = path
    title = f"{config.name or config.model.model}: compression variants"
    path = workdir / "comparison.md"
    write_text_atomic(path, comparison_markdown(rows, title, config.deploy.latency_threads, cpu))
    written["comparison"] = path
    figures = workdir / "figures"
    written["accuracy_vs_size"] = accuracy_vs_size(rows, figures / "accuracy_vs_size.png", title=title)
    written["variant_bars"] = variant_bars(rows, figures / "variant_bars.png", title=title)
    if sensitivity is not None:
        written["sensitivity"] = sensitivity_bars(sensitivity, figures / "sensitivity.png", title=title)
    for _key, file in written.items():
        kind = "figure" if file.suffix == ".png" else "report"
        sink(ArtifactSaved(artifact_kind=kind, path=str(file), bytes=file.stat().st_size))
    return written


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple | set):
        return list(value)
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")
