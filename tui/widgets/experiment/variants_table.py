"""The variants comparison table: the same figures, spelled the same way, as `ocrq show`."""

from __future__ import annotations

from typing import Any

from tui.model.format import ANATOMY_COLUMNS, VARIANT_COLUMNS, anatomy_rows, ordered_variants, variant_cells
from tui.widgets.common.keyed_table import Col, KeyedTable

_KEYS = (
    "variant", "backend", "cer", "cer_delta_pp", "em", "ned", "size_bytes", "compression_ratio",
    "latency_ms_p50", "latency_ms_p95", "throughput", "speedup", "cosine", "guard",
)  # fmt: skip
# What a reader compares first (CER, its change, size and speed ratios, the guard) survives a narrow
# terminal; backend, 1-NED and p95 go first.
_PRIORITY = (0, 7, 1, 1, 3, 6, 4, 1, 4, 6, 5, 1, 5, 2)
COLUMNS = tuple(
    Col(key, label, priority, numeric=key not in ("variant", "backend", "guard"))
    for key, label, priority in zip(_KEYS, VARIANT_COLUMNS, _PRIORITY, strict=True)
)


class VariantsTable(KeyedTable):
    """One row per evaluated variant (fp32 first); with ``per_experiment`` a leading experiment column."""

    def __init__(self, *, per_experiment: bool = False, **kwargs: Any) -> None:
        columns: tuple[Col, ...] = COLUMNS
        if per_experiment:
            columns = (Col("experiment", "experiment", 0), *columns)
        kwargs.setdefault("fixed_columns", 2 if per_experiment else 1)
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
        columns = [Col(label, label, 0 if index == 0 else index, numeric=index > 0)
                   for index, label in enumerate(ANATOMY_COLUMNS)]  # fmt: skip
        kwargs.setdefault("fixed_columns", 1)
        super().__init__(columns, **kwargs)
        self.border_title = "bytes by kind · bound = FP32 ONNX bytes / main weights"

    def show(self, variants: list[dict[str, Any]]) -> None:
        rows = anatomy_rows(variants)
        self.display = bool(rows)
        self.sync((row[0], row) for row in rows)
