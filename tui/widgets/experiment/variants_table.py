"""The variants comparison table: the same figures, spelled the same way, as `ocrq show`."""

from __future__ import annotations

from typing import Any

from tui.model.format import ANATOMY_COLUMNS, VARIANT_COLUMNS, anatomy_rows, ordered_variants, variant_cells
from tui.widgets.common.keyed_table import KeyedTable

_KEYS = (
    "variant", "backend", "cer", "cer_delta_pp", "em", "ned", "size_bytes", "compression_ratio",
    "latency_ms_p50", "latency_ms_p95", "throughput", "speedup", "cosine", "guard",
)  # fmt: skip


class VariantsTable(KeyedTable):
    """One row per evaluated variant (fp32 first); with ``per_experiment`` a leading experiment column."""

    def __init__(self, *, per_experiment: bool = False, **kwargs: Any) -> None:
        columns = tuple(zip(_KEYS, VARIANT_COLUMNS, strict=True))
        if per_experiment:
            columns = (("experiment", "experiment"), *columns)
        super().__init__(columns, **kwargs)
        self.per_experiment = per_experiment

    def show(self, variants: list[dict[str, Any]]) -> None:
        """Show the variants of one experiment."""
        self.sync((str(v.get("name")), variant_cells(v)) for v in ordered_variants(variants))

    def show_experiments(self, experiments: list[dict[str, Any]]) -> None:
        """Show the variants of several experiments, grouped by experiment (needs ``per_experiment``)."""
        rows = []
        for experiment in experiments:
            for variant in ordered_variants(experiment.get("variants", [])):
                key = f"{experiment['id']}:{variant.get('name')}"
                rows.append((key, (experiment["id"][:8], *variant_cells(variant))))
        self.sync(rows)


class BytesByKindTable(KeyedTable):
    """Where each ONNX variant's bytes go (main weights, side tensors, graph); hidden when none says."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(tuple((label, label) for label in ANATOMY_COLUMNS), **kwargs)
        self.border_title = "bytes by kind · bound = FP32 ONNX bytes / main weights"

    def show(self, variants: list[dict[str, Any]]) -> None:
        rows = anatomy_rows(variants)
        self.display = bool(rows)
        self.sync((row[0], row) for row in rows)
