"""The typed result row: rows stored by earlier versions still read, nothing is dropped, and every field
the tables read exists on the row."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipeline.core.result_row import ROW_SCHEMA, VariantRow

ROOT = Path(__file__).resolve().parents[2]

# A row as ocrq stored it before the row was typed (no row_schema, kind or spec), with a key it never knew.
OLD_ROW = {
    "cer": 0.0141,
    "em": 0.897,
    "ned": 0.99,
    "samples": 1000,
    "size_bytes": 271517,
    "compression_ratio": 3.91,
    "latency_ms_p50": 0.27,
    "fidelity": {"cosine": 0.9991},
    "accuracy_guard": "ok",
    "notes": ["static int8"],
    "some_future_figure": {"x": 1},
}


def test_an_old_row_reads_and_writes_back_the_same_keys():
    row = VariantRow.from_dict(OLD_ROW)
    assert row.cer == 0.0141 and row.size_bytes == 271517 and row.kind is None
    assert row.extra == {"some_future_figure": {"x": 1}}
    assert row.to_dict() == {**OLD_ROW, "row_schema": ROW_SCHEMA}


def test_a_row_from_a_newer_ocrq_is_refused_with_a_clear_message():
    with pytest.raises(ValueError, match="row_schema 99; this ocrq reads up to"):
        VariantRow.from_dict({**OLD_ROW, "row_schema": 99})


def test_update_and_get_reach_fields_and_extras_alike():
    row = VariantRow(cer=0.1, em=0.5)
    row.update({"speedup": 2.0, "unheard_of": 3})
    assert row.speedup == 2.0 and row.get("unheard_of") == 3 and row.get("parity", "-") == "-"


@pytest.mark.parametrize(
    "path", ["store/display.py", "store/comparison.py", "cli/browse.py", "tui/model/format.py"]
)
def test_every_variant_field_the_tables_read_is_a_row_field(path):
    """`ocrq show`, `compare` and the TUI read stored rows by key: each key must be one the row writes."""
    source = (ROOT / path).read_text(encoding="utf-8")
    keys = set(re.findall(r"\bvariant\.get\(\"(\w+)\"", source))
    known = {*VariantRow.__dataclass_fields__, "name"}
    assert keys or path != "store/display.py"  # the variants table reads its columns by key
    assert keys <= known, keys - known
