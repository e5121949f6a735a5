"""Compression benchmark: the quickstart model and a ViT / SVTR model, every default variant, one table per
model, the compression targets checked against what was measured, and the figures of all models side by side
in one PNG with the CPU flags printed on it. Prints figures; never passes or fails on time.

    python bench/compression_bench.py --models crnn_tiny,vit_tiny --out /tmp/ocrq-bench \
        [--baseline crnn_tiny=/path/to/experiment] [--train-minutes 20] [--threads 1]

A model without `--baseline` is trained first with the quickstart settings (`--train-minutes` caps it).
`--remeasure` measures the variants already in `--out` again (no training, no rebuilding).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.config import resolve_config  # noqa: E402
from pipeline.core.checkpoint import load_checkpoint  # noqa: E402
from pipeline.core.cpu_features import cpu_summary  # noqa: E402
from pipeline.core.result_row import VariantRow  # noqa: E402
from pipeline.evaluation.predict import predict  # noqa: E402
from pipeline.models import create_model  # noqa: E402
from pipeline.reports.write import COLUMNS, ordered  # noqa: E402
from pipeline.runner import prepare_experiment, run_experiment  # noqa: E402
from pipeline.variants.measure import fp32_torch_row  # noqa: E402
from pipeline.variants.produce import produce_variants  # noqa: E402
from pipeline.variants.remeasure import remeasure_experiment  # noqa: E402

DEFAULT_VARIANTS = "ort-fp32,ort-int8-dynamic,ort-int8-static,ort-int4-weight,ptq,qat,pruned-int8"


def _log(event) -> None:
    kind = type(event).__name__
    if kind in ("LogMessage", "EpochEnded", "RunFailed"):
        print(f"  [{kind}] {event}", flush=True)
    elif kind == "StageStarted":
        print(f"  -- {event.stage}: {event.detail}", flush=True)


def _config(model: str, args, variants: str):
    overrides = {
        "model": model,
        "variants": variants,
        "threads": str(args.threads),
        "latency_threads": str(args.threads),
        "num_test": str(args.num_test),
        "num_workers": "1",
        "enable_pruning": "true",
        "time_budget_minutes": str(args.train_minutes),
        "latency_runs": str(args.latency_runs),
    }
    if model != "crnn_tiny":
        overrides.update(quantization_granularity="per_group", group_size=str(args.group_size))
        # quickstart prunes only the CRNN's LSTM neck; a transformer's weights are nearly all backbone
        overrides["backbone_pruning_ratio"] = "none"
    for item in args.set:  # KEY=VALUE for every model, MODEL:KEY=VALUE for one
        key, value = item.split("=", 1)
        target, _, key = key.rpartition(":")
        if not target or target == model:
            overrides[key] = value
    return resolve_config("quickstart", overrides=overrides)


def baseline(model: str, args, variants: str, folder: Path):
    """(prepared experiment, FP32 model) from --baseline, or trained now into `folder`."""
    given = dict(item.split("=", 1) for item in args.baseline).get(model)
    source = Path(given) if given else folder
    if not (source / "model_fp32.pt").is_file():
        print(f"training {model} for at most {args.train_minutes} min into {folder}", flush=True)
        config = _config(model, args, variants)
        config.mode = "train"
        outcome = run_experiment(prepare_experiment(config), _log, folder)
        if outcome.status != "finished":
            raise SystemExit(f"training {model} ended {outcome.status}: {outcome.error}")
        source = folder
    checkpoint = load_checkpoint(source / "model_fp32.pt")
    fp32 = create_model(**checkpoint["model_config"]).eval()
    fp32.load_state_dict(checkpoint["weights"])
    if source != folder:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "model_fp32.pt").write_bytes((source / "model_fp32.pt").read_bytes())
    return prepare_experiment(_config(model, args, variants)), fp32


def run_model(model: str, args) -> dict[str, VariantRow]:
    folder = args.out / model
    variants = dict(item.split("=", 1) for item in args.variants_for).get(model, args.variants)
    prepared, fp32 = baseline(model, args, variants, folder)
    config, data = prepared.config, prepared.data
    torch.set_num_threads(args.threads)
    device = torch.device("cpu")
    if args.remeasure and (folder / "deploy_manifest.json").is_file():
        print(f"{model}: re-measuring the variants already in {folder}", flush=True)
        return remeasure_experiment(folder, prepared, _log, device)
    test = predict(fp32, data.test_batches(), prepared.charset, device, keep_logits=True)
    row = fp32_torch_row(test, fp32, folder / "model_fp32.pt", config.deploy, device)
    print(
        f"{model}: FP32 CER {100 * row.cer:.2f}% on {row.samples} test lines; producing {variants}",
        flush=True,
    )
    started = time.monotonic()
    rows = produce_variants(fp32, prepared, row, test, _log, folder, device)
    print(f"{model}: variants took {time.monotonic() - started:.0f} s", flush=True)
    return {"fp32": row, **rows}


def table(model: str, rows: dict[str, VariantRow]) -> str:
    shown = [c for c in COLUMNS if c[0] not in ("SNR dB",)]
    widths = [max(len(c), *(len(str(fn(n, r))) for n, r in rows.items())) for c, fn in shown]
    lines = [f"== {model} ==", "  ".join(c.rjust(w) for (c, _), w in zip(shown, widths, strict=True))]
    for name, row in ordered(rows):
        lines.append("  ".join(str(fn(name, row)).rjust(w) for (_, fn), w in zip(shown, widths, strict=True)))
    return "\n".join(lines)


def anatomy(rows: dict[str, dict[str, Any]]) -> str:
    """Where each ONNX file's bytes go, and the ratio its main weights alone would allow (the bound)."""
    reference = rows.get("ort-fp32", {}).get("size_bytes")
    lines = ["  bytes by kind     main weights  side tensors    graph  weights %  size x  bound x"]
    for name, row in ordered(rows):
        parts = row.get("size_anatomy")
        if not parts or not reference:
            continue
        lines.append(
            f"  {name:<16} {parts['weights_bytes']:>13,} {parts['side_bytes']:>13,} {parts['graph_bytes']:>8,}"
            f" {100 * parts['weights_bytes'] / parts['file_bytes']:>9.1f}"
            f" {reference / parts['file_bytes']:>7.2f} {reference / parts['weights_bytes']:>8.2f}"
        )
    return "\n".join(lines)


def _check(label: str, value: float | None, op: str, bound: float) -> dict[str, Any]:
    ok = value is not None and (value >= bound if op == ">=" else value <= bound)
    return {"target": label, "measured": value, "bound": f"{op} {bound}", "met": ok}


def targets(model: str, rows: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The compression targets for this model, against the measured rows."""
    checks = []
    transformer = not model.startswith("crnn")
    static = rows.get("ort-int8-static")
    if static:
        checks += [
            _check("int8 static: size vs FP32 ONNX (x)", static["compression_ratio"], ">=", 3.9),
            _check("int8 static: CER rise (pp)", static["cer_delta_pp"], "<=", 0.2),
            _check("int8 static: batch-1 speed-up (x)", static["speedup"], ">=", 1.0),
            _check("int8 static: batch-1 speed-up, fastest calls (x)", static.get("speedup_best"), ">=", 1.0),
            _check("int8 static: weight layers left float", float(len(static["float_layers"])), "<=", 0),
        ]
        if transformer:
            checks.append(
                _check(
                    "int8 static: batch-16 throughput gain (x)", static.get("throughput_ratio_b16"), ">=", 1.3
                )
            )
    qat = next((r for n, r in rows.items() if n.startswith("qat")), None)
    if qat and transformer and "4" in str(qat.get("strategy")):
        checks += [
            _check("4-bit QAT: size vs FP32 ONNX (x)", qat["compression_ratio"], ">=", 6.0),
            _check("4-bit QAT: CER rise (pp)", qat["cer_delta_pp"], "<=", 0.5),
            _check(
                "4-bit QAT: share of PTQ CER rise recovered",
                qat.get("ptq_recovery_deployed", qat.get("ptq_recovery")),
                ">=",
                0.7,
            ),
        ]
    pruned = rows.get("pruned-int8")
    if pruned:
        checks += [
            _check("pruned+int8: size vs FP32 ONNX (x)", pruned["compression_ratio"], ">=", 6.0),
            _check("pruned+int8: batch-1 speed-up (x)", pruned["speedup"], ">=", 1.8),
            _check("pruned+int8: batch-1 speed-up, fastest calls (x)", pruned.get("speedup_best"), ">=", 1.8),
            _check("pruned+int8: CER rise (pp)", pruned["cer_delta_pp"], "<=", 0.5),
        ]
    return checks


def side_by_side(results: dict[str, dict[str, dict[str, Any]]], path: Path, cpu: dict[str, Any]) -> Path:
    import matplotlib.pyplot as plt

    from pipeline.reports.figures import accuracy_vs_size, variant_bars

    models = list(results)
    fig, axes = plt.subplots(
        4, len(models), figsize=(7 * len(models), 15), constrained_layout=True, squeeze=False
    )
    for column, model in enumerate(models):
        accuracy_vs_size(results[model], path, title=model, ax=axes[0][column])
        variant_bars(results[model], path, title="", axes=[axes[row][column] for row in (1, 2, 3)])
    fig.suptitle(
        f"ocrq compression bench, CPU {cpu['model']}\nflags: {', '.join(cpu['flags'])}; int8 dot product (VNNI): "
        f"{'yes' if cpu['int8_dot_product'] else 'no'}",
        fontsize=10,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", default="crnn_tiny,vit_tiny")
    parser.add_argument("--variants", default=DEFAULT_VARIANTS)
    parser.add_argument(
        "--remeasure", action="store_true", help="measure the variants already in --out again"
    )
    parser.add_argument(
        "--variants-for", action="append", default=[], help="MODEL=V1,V2: the variants of one model"
    )
    parser.add_argument(
        "--baseline", action="append", default=[], help="MODEL=DIR with a model_fp32.pt to reuse"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        help="config override KEY=VALUE, or MODEL:KEY=VALUE for one model (repeatable)",
    )
    parser.add_argument("--out", type=Path, default=Path("/tmp/ocrq-compression-bench"))
    parser.add_argument("--train-minutes", type=float, default=20.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--num-test", type=int, default=500)
    parser.add_argument("--latency-runs", type=int, default=40)
    parser.add_argument("--group-size", type=int, default=32)
    args = parser.parse_args()
    cpu = cpu_summary()
    print(
        f"CPU: {cpu['model']} ({cpu['machine']}); flags: {', '.join(cpu['flags'])}; int8 dot product: "
        f"{cpu['int8_dot_product']}; ONNX Runtime int8 weights 7-bit (reduce_range): {cpu['reduce_range']}",
        flush=True,
    )
    results = {model: run_model(model, args) for model in args.models.split(",")}
    print()
    print(
        f"CPU flags: {', '.join(cpu['flags'])}; {args.threads} thread(s); latency on one 32x256 line, throughput at batch 16"
    )
    all_checks = {}
    for model, rows in results.items():
        print(table(model, rows))
        plain = {name: row.to_dict() for name, row in rows.items()}
        print(anatomy(plain))
        all_checks[model] = targets(model, plain)
        for check in all_checks[model]:
            value = "n/a" if check["measured"] is None else f"{check['measured']:.3f}"
            print(
                f"  target {check['target']:<45} {value:>8}  ({check['bound']})  {'met' if check['met'] else 'NOT met'}"
            )
        print()
    figure = side_by_side(results, args.out / "compression_bench.png", cpu)
    summary = args.out / "compression_bench.json"
    summary.write_text(
        json.dumps(
            {
                "cpu": cpu,
                "threads": args.threads,
                "results": {m: {n: r.to_dict() for n, r in rows.items()} for m, rows in results.items()},
                "targets": all_checks,
            },
            indent=2,
            default=str,
        ),
        encoding="utf-8",
    )
    print(f"figures: {figure}\nall rows: {summary}")


if __name__ == "__main__":
    main()
