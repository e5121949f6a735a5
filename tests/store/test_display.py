"""The spellings `ocrq show` and the TUI share: numbers must read as the values they stand for."""

from __future__ import annotations

import math

from store.display import (
    ANATOMY_COLUMNS,
    VARIANT_COLUMNS,
    anatomy_rows,
    epoch_cells,
    fmt_bytes,
    fmt_fixed,
    fmt_num,
    fmt_pct,
    fmt_ratio,
    ordered_variants,
    variant_cells,
)


def test_whole_numbers_keep_their_trailing_zeros():
    assert fmt_num(1239.76, 0) == "1240"  # not "124"
    assert fmt_num(100.0, 0) == "100"
    assert fmt_num(2.50, 2) == "2.5"
    assert fmt_num(3.0, 2) == "3"
    assert fmt_num(0.00012345, 3) == "0.000123"
    assert fmt_num(20) == "20"


def test_table_figures_have_fixed_decimals():
    assert [fmt_fixed(value, 2) for value in (3, 3.76, 3.0, 12.345)] == ["3.00", "3.76", "3.00", "12.35"]
    assert fmt_fixed(1239.76, 0) == "1240" and fmt_fixed(0.5, 4) == "0.5000"
    assert fmt_fixed(0.0, 4) == "0.0000"
    assert fmt_fixed(2.3e-05, 2) == "2.3e-05"  # measured, not zero: never shown as 0.00
    assert fmt_fixed(None, 2) == fmt_fixed(math.nan, 2) == "-"


def test_missing_or_non_finite_values_read_as_a_dash():
    for value in (None, math.nan, math.inf, "x", True):
        assert fmt_num(value) == fmt_pct(value) == fmt_ratio(value) == fmt_bytes(value) == "-"


def test_units():
    assert fmt_pct(0.0123) == "1.23%" and fmt_pct(0.5, 1) == "50.0%"
    assert fmt_bytes(1000) == "1000 B" and fmt_bytes(271_518) == "265.2 KiB"
    assert fmt_ratio(3.912) == "3.91x"


def test_variant_rows_put_fp32_first_and_spell_every_column():
    variants = [
        {
            "name": "ort-int8-static",
            "cer": 0.0144,
            "cer_delta_pp": 0.03,
            "throughput_lines_per_s_b16": 2443.5,
        },
        {"name": "fp32", "cer": 0.0141, "accuracy_guard": "ok"},
        {"name": "ort-fp32", "cer": 0.0141, "throughput_lines_per_s_b16": 1239.76},
    ]
    rows = [variant_cells(v) for v in ordered_variants(variants)]
    assert [row[0] for row in rows] == ["fp32", "ort-fp32", "ort-int8-static"]
    assert all(len(row) == len(VARIANT_COLUMNS) for row in rows)
    throughput = VARIANT_COLUMNS.index("lines/s b16")
    assert rows[1][throughput] == "1240" and rows[2][throughput] == "2444"
    assert rows[2][VARIANT_COLUMNS.index("ΔCER pp")] == "+0.03"


def test_epoch_rows():
    cells = epoch_cells(
        {"epoch": 3, "train_loss": 0.25, "cer": 0.0151, "em": 0.88, "lr": 6e-3, "seconds": 17.04}
    )
    assert cells == ("baseline", "3", "0.2500", "-", "1.51%", "88.0%", "6.00e-03", "17.0")


def test_bytes_by_kind_show_exact_counts_and_the_bound_against_fp32_onnx():
    variants = [
        {
            "name": "ort-int8-static",
            "compression_ratio": 3.5,
            "size_anatomy": _anatomy(250_000, 30_000, 5_714),
        },
        {"name": "fp32", "size_bytes": 1_002_000},  # a torch file: no anatomy, no row
        {"name": "ort-fp32", "size_bytes": 1_000_000, "size_anatomy": _anatomy(990_000, 6_000, 4_000)},
    ]
    rows = anatomy_rows(variants)
    assert [r[0] for r in rows] == ["ort-fp32", "ort-int8-static"]
    assert dict(zip(ANATOMY_COLUMNS, rows[1], strict=True)) == {
        "variant": "ort-int8-static",
        "main weights": "250,000",
        "side tensors": "30,000",
        "graph": "5,714",
        "weights share": "87.5%",
        "size×": "3.50x",
        "bound×": "4.00x",
    }


def _anatomy(weights: int, side: int, graph: int) -> dict[str, int]:
    total = weights + side + graph
    return {"weights_bytes": weights, "side_bytes": side, "graph_bytes": graph, "file_bytes": total}
