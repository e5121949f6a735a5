"""`ocrq show`'s blocks for what only some variants carry: CER on hard lines beside clean lines (imported
experiments), and the per-node choice of the `ort-int8-mixed` variant. No torch imported."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.table import Table

from cli.console import fmt_pct, out, terminal_safe


def _text(value: Any) -> str:
    return escape(terminal_safe(value))


def _pp(value: Any) -> str:
    return "-" if value is None else f"{value:+.2f}"


def print_line_sets(variants: list[dict[str, Any]]) -> None:
    """The import's line sets (calibration, sensitivity, measured, hard) and CER on clean and hard lines."""
    imported = next((v.get("import") for v in variants if v.get("import")), None)
    if imported and imported.get("line_sets"):
        sets = imported["line_sets"]
        out.print(
            f"\n[bold]lines[/] {sets['clean_lines']} measured, {sets['calibration_lines']} calibration, "
            f"{sets['sensitivity_lines']} sensitivity (never measured); {sets['hard_lines']} hard: "
            f"{_text(sets['hard_definition'])}"
        )
    if imported and imported.get("derived_from"):
        out.print(
            f"variants of experiment {_text(imported['derived_from'])}'s imported model, on its line sets "
            "(`ocrq run --from ... --mode compress` or a study trial)"
        )
    rows = [v for v in variants if "hard_lines" in v]
    if not rows:
        return
    out.print("\n[bold]clean and hard lines[/]")
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("variant", "CER clean", "ΔCER pp", "CER hard", "ΔCER hard pp", "hard lines"):
        table.add_column(column, justify="left" if column == "variant" else "right", no_wrap=True)
    for variant in rows:
        hard = variant.get("hard_lines") or {}
        table.add_row(
            _text(variant.get("name")),
            fmt_pct(variant.get("cer")),
            _pp(variant.get("cer_delta_pp")),
            fmt_pct(hard.get("cer")) if hard else "-",
            _pp(hard.get("cer_delta_pp")),
            str(hard.get("samples", "-")),
        )
    out.print(table)


def print_node_sensitivity(variants: list[dict[str, Any]]) -> None:
    """Per node: its CER cost when quantized alone, and whether the mixed variant kept it float."""
    for variant in variants:
        scan = variant.get("node_sensitivity")
        if not scan:
            continue
        out.print(
            f"\n[bold]{_text(variant.get('name'))}[/]: per-node CER cost on {scan.get('sensitivity_lines')} "
            f"{_text(scan.get('lines'))} lines (FP32 CER {fmt_pct(scan.get('base_cer'))}), budget "
            f"{scan.get('budget_pp')} pp, at least {scan.get('min_ratio')}x smaller; "
            f"{'within' if scan.get('within_budget') else 'over'} budget with {len(scan.get('float_nodes', []))} float"
        )
        table = Table(box=None, pad_edge=False, header_style="bold")
        for column in ("node", "op", "weights", "CER cost pp", "KL", "precision"):
            table.add_column(column, justify="left" if column in ("node", "op", "precision") else "right")
        for node in scan.get("nodes", []):
            table.add_row(
                _text(node["node"]),
                _text(node["op"]),
                f"{node['params']:,}",
                _pp(node["cer_pp"]),
                f"{node['output_error']:.2e}",
                _text(node.get("reason", "float" if node.get("kept_float") else "int8")),
            )
        out.print(table)
        steps = "; ".join(
            f"{('+ ' + s['tried']) if s.get('tried') else 'all int8'}: {s['cer_pp']:+.2f} pp"
            for s in scan.get("steps", [])
        )
        out.print(f"  whole-model trials on the sensitivity lines: {_text(steps)}")
