"""`ocrq analyze`: why a variant errs and what compression changed, for one experiment or ranked across several."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cli.console import (
    CliError,
    UsageError,
    err,
    fmt_bytes,
    fmt_fixed,
    fmt_pct,
    info,
    out,
    print_json,
    terminal_safe,
)
from cli.resolve import existing_folder, resolve, resolve_all
from store import Store

PARTS = ("errors", "changes", "alignment", "robustness", "confidence", "training")
RANKING_PARTS = ("errors", "robustness", "confidence")
WEIGHT_NAMES = {
    "cer": "cer",
    "em": "em",
    "size": "size_bytes",
    "latency": "latency_ms_p50",
    "gap": "robustness_gap",
    "ece": "ece",
}


def _parts(only: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    if only is None:
        return default
    parts = tuple(dict.fromkeys(p.strip() for p in only.split(",") if p.strip()))
    unknown = [p for p in parts if p not in PARTS]
    if unknown or not parts:
        raise UsageError(
            f"--only '{terminal_safe(only)}' names unknown part(s) {', '.join(unknown) or '(none)'}; allowed {', '.join(PARTS)}"
        )
    return parts


def _weights(pairs: list[str]) -> dict[str, float]:
    weights: dict[str, float] = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        if name not in WEIGHT_NAMES or not value:
            raise UsageError(
                f"--weight '{terminal_safe(pair)}' is not NAME=NUMBER with NAME one of {', '.join(WEIGHT_NAMES)}"
            )
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not math.isfinite(number) or number < 0:
            raise UsageError(f"--weight '{terminal_safe(pair)}': the weight must be a number >= 0")
        weights[WEIGHT_NAMES[name]] = number
    if weights and not any(weights.values()) and len(weights) == len(WEIGHT_NAMES):
        raise UsageError("every --weight is 0; give at least one weight > 0")
    return weights


def _check_variants(experiment: dict, wanted: list[str]) -> list[str]:
    known = [v["name"] for v in experiment.get("variants", [])]
    if not known:
        raise CliError(
            f"experiment {experiment['id']} has no measured variants yet; analyze it after its run finishes"
        )
    for name in wanted:
        if name not in known:
            raise UsageError(
                f"--variant '{terminal_safe(name)}' is not in experiment {experiment['id']}; allowed {', '.join(known)}"
            )
    return wanted or known


class _AnalysisProgress:
    """A bar for the current part on stderr (quiet with -q or when stderr is not a terminal)."""

    def __init__(self, enabled: bool) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.fields[part]:<11}"),
            BarColumn(),
            TextColumn("{task.completed:>3.0f}/{task.total:<3.0f} {task.fields[message]}"),
            TimeElapsedColumn(),
            console=err,
            transient=True,
            disable=not enabled,
        )
        self.task, self.part, self.enabled = None, None, enabled

    def __enter__(self) -> _AnalysisProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()

    def __call__(self, part: str, done: int, total: int, message: str) -> None:
        if not self.enabled:
            return
        if part != self.part:
            if self.task is not None:
                self.progress.remove_task(self.task)
            self.task = self.progress.add_task("", total=max(1, total), part=part, message="")
            self.part = part
        self.progress.update(
            self.task, completed=done, total=max(1, total), message=escape(terminal_safe(message))
        )


def _analyze_one(store: Store, exp_id: str, experiment: dict, variants: list[str], settings, quiet: bool):
    from pipeline.analysis.run import analyze_experiment
    from pipeline.variants.manifest import ManifestError

    with _AnalysisProgress(not quiet) as progress:
        try:
            result = analyze_experiment(
                store.experiment_dir(exp_id), experiment["config"], variants, settings, progress
            )
        except (
            ManifestError,
            FileNotFoundError,
        ) as error:  # a damaged experiment folder, not the user's input
            raise CliError(str(error)) from None
        except ValueError as error:
            raise UsageError(str(error)) from None
    for path in result.files:
        kind = "analysis-figure" if path.suffix == ".png" else "analysis"
        store.record_artifact(exp_id, kind=kind, path=str(path), bytes=path.stat().st_size)
    return result


def stored_flips(experiment: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """variant -> (lines broke, lines fixed) from the experiment's latest `ocrq analyze`, if any."""
    paths = [
        a["path"]
        for a in experiment.get("artifacts", [])
        if a.get("kind") == "analysis" and a["path"].endswith(".json")
    ]
    if not paths:
        return {}
    try:
        doc = json.loads(Path(paths[-1]).read_text(encoding="utf-8"))
        return {
            name: (len(change["flips"]["broke"]), len(change["flips"]["fixed"]))
            for name, change in (doc.get("changes") or {}).items()
        }
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _print_summary(exp_id: str, result) -> None:
    from pipeline.analysis.report import summary_rows

    doc = result.document
    out.print(f"[bold]{exp_id[:8]}[/] analysis of {escape(terminal_safe(doc['data']['description']))}")
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("variant", "CER", "errors", "broke", "fixed", "frame agree", "robust gap", "ECE"):
        table.add_column(column, justify="left" if column == "variant" else "right")
    for row in summary_rows(doc):
        table.add_row(
            escape(terminal_safe(row["variant"])),
            fmt_pct(row["cer"]),
            "-" if row["errors"] is None else str(row["errors"]),
            "-" if row["broke"] is None else str(row["broke"]),
            "-" if row["fixed"] is None else str(row["fixed"]),
            fmt_pct(row["argmax_agreement"]),
            "-" if row["robustness_gap"] is None else f"{100 * row['robustness_gap']:+.2f} pp",
            "-" if row["ece"] is None else f"{row['ece']:.3f}",
        )
    out.print(table)
    errors = doc.get("errors")
    if errors:
        kinds = errors["fp32"]["kinds"]
        out.print("fp32 errors: " + ", ".join(f"{k} {n}" for k, n in kinds.items()))
        pairs = errors["fp32"]["confusions"][:8]
        if pairs:
            out.print(
                "top confusions: "
                + escape(
                    terminal_safe(", ".join(f"{p['label']!r}→{p['pred']!r} ×{p['count']}" for p in pairs))
                )
            )
    for variant, change in (doc.get("changes") or {}).items():
        grown = change["grown_confusions"][:3]
        if grown:
            out.print(
                f"{escape(terminal_safe(variant))} grew: "
                + escape(
                    terminal_safe(", ".join(f"{p['label']!r}→{p['pred']!r} +{p['count']}" for p in grown))
                )
            )
    info("time by part: " + ", ".join(f"{k} {v:.1f}s" for k, v in result.seconds.items()))
    info(f"wrote {len(result.files)} files to {result.files[-1].parent}")


def _ranking(
    store: Store, experiments: list[dict], results: dict[str, Any], weights: dict[str, float]
) -> list[dict]:
    from pipeline.analysis.ranking import rank_models

    rows = []
    for experiment in experiments:
        doc = results[experiment["id"]].document
        gaps = (doc.get("robustness") or {}).get("gaps", {})
        confidence = doc.get("confidence") or {}
        for variant in experiment.get("variants", []):
            name = variant["name"]
            if name not in doc["variants"]:
                continue
            gap = 0.0 if name == "fp32" and doc.get("robustness") else gaps.get(name, {}).get("gap")
            rows.append(
                {
                    "experiment": experiment["id"],
                    "name": experiment.get("name"),
                    "variant": name,
                    "cer": variant.get("cer"),
                    "em": variant.get("em"),
                    "size_bytes": variant.get("size_bytes"),
                    "latency_ms_p50": variant.get("latency_ms_p50"),
                    "robustness_gap": gap,
                    "ece": confidence.get(name, {}).get("ece"),
                }
            )
    return rank_models(rows, weights)


def _cross_figures(experiments: list[dict], results: dict[str, Any], out_dir: Path) -> list[Path]:
    from pipeline.analysis import figures

    labels = {e["id"]: f"{e['id'][:8]} {e.get('name') or ''}".strip() for e in experiments}
    files = []
    kinds = {
        labels[i]: r.document["errors"]["fp32"]["kinds"]
        for i, r in results.items()
        if r.document.get("errors")
    }
    if kinds:
        colors = figures.variant_colors(list(kinds))
        files.append(figures.error_kinds_figure(kinds, colors, out_dir / "ranking_error_kinds.png"))
    confidences = {
        labels[i]: r.document["confidence_values"]["fp32"]
        for i, r in results.items()
        if r.document.get("confidence_values")
    }
    if confidences:
        files.append(
            figures.distribution_figure(
                confidences,
                out_dir / "ranking_confidence.png",
                title="FP32 line confidence per experiment",
                xlabel="confidence",
            )
        )
    return files


def analyze(
    refs: Annotated[
        list[str], typer.Argument(help="One experiment id, prefix or name; several to rank them.")
    ],
    variant: Annotated[
        list[str] | None,
        typer.Option(
            "--variant", "-v", help="Variant to analyse (repeat; default: every variant).", show_default=False
        ),
    ] = None,
    data: Annotated[
        str,
        typer.Option(
            "--data",
            help="'test' (the experiment's test set; an import's measured lines), 'synthetic' (fresh lines), "
            "'hard' (an import's hard lines), or a label file / folder.",
        ),
    ] = "test",
    count: Annotated[
        int | None,
        typer.Option("-n", "--count", help="Analyse at most this many lines.", min=1, show_default=False),
    ] = None,
    only: Annotated[
        str | None,
        typer.Option(
            "--only",
            help=f"Comma-separated parts: {', '.join(PARTS)} (default: all; ranking: errors,robustness,confidence).",
            show_default=False,
        ),
    ] = None,
    robustness_lines: Annotated[
        int, typer.Option("--robustness-lines", help="Lines read under each corruption and severity.", min=1)
    ] = 256,
    line: Annotated[
        list[int] | None,
        typer.Option(
            "--line",
            help="Line index for alignment views (repeat; default: flipped, then worst).",
            show_default=False,
        ),
    ] = None,
    alignment_count: Annotated[
        int, typer.Option("--alignment-count", help="Alignment views per variant.", min=1)
    ] = 3,
    weight: Annotated[
        list[str] | None,
        typer.Option(
            "--weight",
            help=f"Ranking weight NAME=NUMBER, NAME in {', '.join(WEIGHT_NAMES)} (repeat).",
            show_default=False,
        ),
    ] = None,
    threads: Annotated[int, typer.Option("--threads", help="CPU threads.", min=1)] = 1,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Errors, what compression changed, alignments, robustness, confidence; rank several experiments."""
    ranking = len(refs) > 1
    parts = _parts(only, RANKING_PARTS if ranking else PARTS)
    weights = _weights(weight or [])
    if line and any(i < 0 for i in line):
        raise UsageError(f"--line {min(line)} is out of range; allowed line indices >= 0")
    store = Store()
    ids = resolve_all(store, refs) if ranking else [resolve(store, refs[0])]
    if len(set(ids)) != len(ids):
        raise UsageError("the same experiment is named twice; give each experiment once")
    for exp_id in ids:
        existing_folder(store, exp_id)  # a folder deleted outside ocrq: say so before anything runs
    experiments = store.compare(ids)
    chosen = {e["id"]: _check_variants(e, list(dict.fromkeys(variant or []))) for e in experiments}
    from pipeline.analysis.run import AnalysisSettings

    try:
        settings = AnalysisSettings(
            parts=parts,
            data=data,
            count=count,
            robustness_lines=robustness_lines,
            alignment_lines=list(line) if line else None,
            alignment_count=alignment_count,
            threads=threads,
        )
    except ValueError as error:
        raise UsageError(str(error)) from None
    # an import also has its hard lines to read (`--data hard`)
    named = (
        ("test", "synthetic", "hard")
        if all(e.get("template") == "import" for e in experiments)
        else ("test", "synthetic")
    )
    if data not in named:
        from pipeline.data.label_files import find_label_file

        try:
            find_label_file(data, other_choices=", ".join(f"'{n}'" for n in named))
        except ValueError as error:
            raise UsageError(str(error)) from None
    results = {}
    for experiment in experiments:
        if ranking and not quiet:
            info(f"analysing {experiment['id'][:8]} ({', '.join(parts)})")
        results[experiment["id"]] = _analyze_one(
            store, experiment["id"], experiment, chosen[experiment["id"]], settings, quiet
        )
    if not ranking:
        exp_id = experiments[0]["id"]
        result = results[exp_id]
        if json_:
            doc = {k: v for k, v in result.document.items() if k != "confidence_values"}
            print_json({"id": exp_id, "files": [str(p) for p in result.files], **doc})
        else:
            _print_summary(exp_id, result)
        return
    ranked = _ranking(store, experiments, results, weights)
    figure_dir = store.experiment_dir(experiments[0]["id"]) / "analysis"
    files = _cross_figures(experiments, results, figure_dir)
    for path in files:
        store.record_artifact(
            experiments[0]["id"], kind="analysis-figure", path=str(path), bytes=path.stat().st_size
        )
    if json_:
        print_json({"experiments": ids, "ranking": ranked, "figures": [str(p) for p in files]})
        return
    table = Table(
        title="ranking (score 1 = best on every weighted metric)",
        box=None,
        pad_edge=False,
        header_style="bold",
        title_justify="left",
    )
    for column in ("#", "experiment", "variant", "score", "CER", "EM", "size", "p50 ms", "robust gap", "ECE"):
        table.add_column(column, justify="left" if column in ("experiment", "variant") else "right")
    for row in ranked:
        table.add_row(
            str(row["rank"]),
            escape(terminal_safe(f"{row['experiment'][:8]} {row['name'] or ''}".strip())),
            escape(terminal_safe(row["variant"])),
            f"{row['score']:.3f}",
            fmt_pct(row["cer"]),
            fmt_pct(row["em"], 1),
            fmt_bytes(row["size_bytes"]),
            fmt_fixed(row["latency_ms_p50"], 2),
            "-" if row["robustness_gap"] is None else f"{100 * row['robustness_gap']:+.2f} pp",
            "-" if row["ece"] is None else f"{row['ece']:.3f}",
        )
    out.print(table)
    for path in files:
        info(f"figure: {path}")


def register(app: typer.Typer) -> None:
    app.command("analyze", rich_help_panel="Deploy")(analyze)
