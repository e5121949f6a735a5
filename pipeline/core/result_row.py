"""The result row of one variant: every figure a comparison shows, typed and versioned.

Producing and re-measuring write it; reports, `ocrq show`, `--json` and the TUI read it through the same
fields. Its dict form (`to_dict`) has the keys rows always had, plus `row_schema`; `from_dict` reads rows
stored by any earlier version (fields they lack stay None) and keeps keys it does not know in `extra`,
so a re-measurement never drops a figure. Standard library only: the CLI and TUI import it without torch.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

ROW_SCHEMA = 1


@dataclass
class VariantRow:
    """One variant measured on the experiment's test set.

    Attributes:
        cer, em, ned: Corpus CER, exact match and mean 1-NED on the shared test set.
        size_bytes: Bytes on disk of the deployable file (`artifact`).
        bits_per_weight: Theoretical bits per weight (weights + scales), labelled by `bits_per_weight_kind`.
        latency_ms_p50, latency_ms_p95: Batch-1 latency at `latency_threads` threads on `latency_device`.
        compression_ratio, speedup: Against `ratio_baseline` (FP32 ONNX when there is one).
        cer_delta_pp: CER change against FP32 in percentage points; `accuracy_guard` ok or exceeded.
        extra: Keys this version does not know (from a newer or older ocrq); kept as they are.
    """

    cer: float
    em: float
    ned: float | None = None
    samples: int | None = None
    label_chars: int | None = None
    pred_chars: int | None = None
    edits: dict[str, Any] | None = None
    buckets: list[dict[str, Any]] | None = None
    kind: str | None = None
    spec: dict[str, Any] | None = None
    size_bytes: int | None = None
    size_source: str | None = None
    size_anatomy: dict[str, Any] | None = None
    bits_per_weight: float | None = None
    bits_per_weight_kind: str | None = None
    params: int | None = None
    nonzero_params: int | None = None
    backend: str | None = None
    device: str | None = None
    artifact: str | None = None
    artifact_format: str | None = None
    float_layers: list[str] | None = None
    quantized_layers: list[Any] | None = None
    notes: list[str] | None = None
    latency_ms_p50: float | None = None
    latency_ms_p95: float | None = None
    latency_ms_mean: float | None = None
    latency_ms_min: float | None = None
    throughput_lines_per_s_b16: float | None = None
    latency_threads: int | None = None
    latency_device: str | None = None
    latency_input: str | None = None
    paired_baseline: dict[str, float] | None = None
    cpu_latency: dict[str, float] | None = None
    peak_memory_bytes: int | None = None
    model_memory_bytes: int | None = None
    held_out_fonts: dict[str, Any] | None = None
    fidelity: dict[str, float] | None = None
    parity: dict[str, Any] | None = None
    ratio_baseline: str | None = None
    compression_ratio: float | None = None
    speedup: float | None = None
    speedup_best: float | None = None
    throughput_ratio_b16: float | None = None
    cer_delta_pp: float | None = None
    accuracy_guard: str | None = None
    guard_message: str | None = None
    build_seconds: float | None = None
    # kind-specific figures
    strategy: str | None = None
    plan: dict[str, Any] | None = None
    torchao_cer: float | None = None
    torchao_gap_pp: float | None = None
    fake_quant_cer: float | None = None
    deploy_gap_pp: float | None = None
    ptq_torchao_cer: float | None = None
    ptq_variant: str | None = None
    ptq_recovery: float | None = None
    ptq_recovery_deployed: float | None = None
    qat_epochs: int | None = None
    stages: list[Any] | None = None
    distillation: dict[str, Any] | None = None
    pruning: dict[str, Any] | None = None
    sensitivity: dict[str, Any] | None = None
    row_schema: int = ROW_SCHEMA
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VariantRow:
        """Read a stored row of any version; unknown keys go to `extra`.

        Raises:
            ValueError: for a row written by a newer ocrq whose schema this one cannot read.
        """
        schema = data.get("row_schema", 1)
        if not isinstance(schema, int) or schema > ROW_SCHEMA:
            raise ValueError(f"a result row has row_schema {schema!r}; this ocrq reads up to {ROW_SCHEMA}")
        known = _FIELD_NAMES
        values = {k: v for k, v in data.items() if k in known and k != "extra"}
        extra = {k: v for k, v in data.items() if k not in known}
        extra.update(data.get("extra") or {})
        values.setdefault("cer", float("nan"))
        values.setdefault("em", float("nan"))
        return cls(**values, extra=extra)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: the keys that have a value, then `extra`'s keys (today's `--json` keys)."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        data = {k: v for k, v in data.items() if v is not None}
        for key, value in self.extra.items():
            data.setdefault(key, value)
        return data

    def update(self, values: dict[str, Any]) -> None:
        """Set fields from a dict of figures (unknown keys land in `extra`)."""
        for key, value in values.items():
            if key in _FIELD_NAMES and key != "extra":
                setattr(self, key, value)
            else:
                self.extra[key] = value

    def get(self, key: str, default: Any = None) -> Any:
        """A field or an extra figure by name (for tables that list fields by name)."""
        if key in _FIELD_NAMES and key != "extra":
            value = getattr(self, key)
            return default if value is None else value
        return self.extra.get(key, default)


_FIELD_NAMES = frozenset(f.name for f in dataclasses.fields(VariantRow))


def rows_from_dicts(rows: dict[str, dict[str, Any]]) -> dict[str, VariantRow]:
    """Variant name -> typed row, for a stored comparison."""
    return {name: VariantRow.from_dict(row) for name, row in rows.items()}
