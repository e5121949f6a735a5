"""Benchmark of `ocrq import` on the PP-OCRv4 recognizer that `rapidocr-onnxruntime` ships, at one thread:
the plain ONNX Runtime calls a new user would make beside ocrq's variants, all measured on the same
synthetic lines, none of which were used for calibration.

    python bench/import_bench.py [--lines 200] [--calibration-lines 64] [--sensitivity-lines 200]
                                 [--hard-lines 100] [--model PATH]

Without --model the wheel is fetched with `pip download --no-deps` into a temporary folder.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MODEL_IN_WHEEL = "rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx"


def fetch_model(folder: Path) -> Path:
    """The PP-OCRv4 recognition model from the rapidocr-onnxruntime wheel (no dependencies installed)."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "rapidocr-onnxruntime==1.4.4",
            "-d",
            str(folder),
        ],
        check=True,
    )
    wheel = next(folder.glob("rapidocr_onnxruntime-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        archive.extract(MODEL_IN_WHEEL, folder)
    return folder / MODEL_IN_WHEEL


def naive_rows(model: Path, prepared, work: Path) -> list[tuple[str, Path | None, str]]:
    """The ONNX Runtime calls a new user would make, as its docs show, on the file as shipped."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from pipeline.deploy.foreign_model import to_model_input

    layout = prepared.layout

    class Reader(CalibrationDataReader):  # one batch at a time, each at its own width
        def __init__(self):
            self.items = iter(
                [
                    {layout.input_name: to_model_input(b.images.numpy(), layout)}
                    for b in prepared.calibration_batches
                ]
            )

        def get_next(self):
            return next(self.items, None)

    def static(source: Path, target: Path, method) -> None:
        quantize_static(
            str(source), str(target), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
            calibrate_method=method,
        )  # fmt: skip

    def attempt(name: str, make) -> None:
        try:
            rows.append((name, make(), ""))
        except Exception as error:  # noqa: BLE001  (reported as the row's outcome)
            rows.append((name, None, f"{type(error).__name__}: {one_line(error)}"))

    rows: list[tuple[str, Path | None, str]] = [("FP32 (the file as shipped)", model, "")]
    lines = prepared.lines.sizes()["calibration_lines"]

    def dynamic() -> Path:
        path = work / "naive-dynamic.onnx"
        quantize_dynamic(str(model), str(path), weight_type=QuantType.QInt8)
        return path

    attempt("quantize_dynamic", dynamic)
    for method in (CalibrationMethod.MinMax, CalibrationMethod.Percentile):
        path = work / f"naive-static-{method.name}.onnx"
        attempt(
            f"quantize_static QDQ {method.name} {lines} lines",
            lambda p=path, m=method: static(model, p, m) or p,
        )

    def preprocessed(skip_symbolic: bool) -> Path:
        pre = work / f"naive-pre-{skip_symbolic}.onnx"
        with contextlib.chdir(work):  # the shape inference leaves a temp model in the current folder
            quant_pre_process(str(model), str(pre), skip_symbolic_shape=skip_symbolic)
        path = work / f"naive-pre-static-{skip_symbolic}.onnx"
        static(pre, path, CalibrationMethod.MinMax)
        return path

    attempt("quant_pre_process + static MinMax", lambda: preprocessed(False))
    attempt("  same, --skip_symbolic_shape", lambda: preprocessed(True))
    return rows


def one_line(error: Exception) -> str:
    text = " ".join(str(error).split())
    return text[:90]


def naive_measure(path: Path, prepared, model: Path) -> tuple:
    """(CER clean, CER hard, p50 ms, speed-up) of a file made by plain ONNX Runtime calls; the speed-up
    comes from timing rounds alternated with the FP32 file, as ocrq's rows do."""
    import torch

    from pipeline.deploy.foreign_model import ForeignOnnxRecognizer
    from pipeline.evaluation.predict import predict
    from pipeline.variants.measure import paired_latency

    recognizer = ForeignOnnxRecognizer(path, prepared.layout)
    reference = ForeignOnnxRecognizer(model, prepared.layout)

    def cer(batches):
        if not batches:
            return None
        return (
            predict(recognizer, batches, prepared.charset, torch.device("cpu"), compute_loss=False)
            .metrics()
            .cer
        )

    deploy = type("D", (), {"latency_runs": 30, "latency_threads": 1})()
    timing = paired_latency(recognizer, reference, deploy, torch.device("cpu"))
    p50 = timing["latency_ms_p50"]
    return (
        cer(prepared.test_batches),
        cer(prepared.hard_batches),
        p50,
        timing["paired_baseline"]["latency_ms_p50"] / p50,
    )


def _pct(value) -> str:
    return "" if value is None else f"{100 * value:6.2f}%"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path)
    parser.add_argument("--lines", type=int, default=200)
    parser.add_argument("--calibration-lines", type=int, default=64)
    parser.add_argument("--sensitivity-lines", type=int, default=200)
    parser.add_argument("--hard-lines", type=int, default=100)
    parser.add_argument("--observer-type", default="min_max", help="ocrq's calibration (as ocrq import's)")
    parser.add_argument(
        "--variants", default="ort-int8-static,ort-int8-dynamic,ort-int4-weight,ort-int8-mixed"
    )
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    from pipeline.variants.import_lines import HARD_LINES
    from pipeline.variants.imported import ImportSettings, prepare_import, run_import

    with tempfile.TemporaryDirectory(prefix="ocrq-import-bench-") as scratch:
        work = Path(scratch)
        model = (args.model or fetch_model(work)).resolve()
        settings = ImportSettings(
            model=model, data="synthetic", height=48, lines=args.lines, calibration_lines=args.calibration_lines,
            sensitivity_lines=args.sensitivity_lines, hard_lines=args.hard_lines, observer_type=args.observer_type,
            variants=tuple(args.variants.split(",")),
        )  # fmt: skip
        prepared = prepare_import(settings)
        started = time.monotonic()
        rows = run_import(prepared, lambda event: None, work / "experiment")
        print(f"ocrq import: {time.monotonic() - started:.0f} s; {prepared.data_label}; 1 thread")
        print(f"clean lines: ocrq's synthetic renderer, undisturbed; hard lines: {HARD_LINES}")
        fp32 = rows["fp32"]
        header = f"{'variant':40s} {'size×':>6s} {'CER clean':>9s} {'Δ pp':>6s} {'CER hard':>9s} {'Δ pp':>6s} {'b1 ms':>7s} {'speed×':>7s}"
        print(header)
        hard0 = (fp32.extra.get("hard_lines") or {}).get("cer")
        for name, path, error in naive_rows(model, prepared, work):
            label = f"ORT: {name}"
            if path is None:
                print(f"{label:40s} failed: {error}")
                continue
            size = fp32.size_bytes / path.stat().st_size
            try:
                clean, hard, p50, speed = naive_measure(path, prepared, model)
            except Exception as load_error:  # noqa: BLE001
                print(f"{label:40s} {size:5.2f}x will not load: {one_line(load_error)}")
                continue
            hard_delta = f"{100 * (hard - hard0):+6.2f}" if hard is not None and hard0 is not None else ""
            print(
                f"{label:40s} {size:5.2f}x {_pct(clean):>9s} {100 * (clean - fp32.cer):+6.2f} {_pct(hard):>9s} "
                f"{hard_delta:>6s} {p50:7.2f} {speed:6.2f}x"
            )
        for name, r in rows.items():
            hard = r.extra.get("hard_lines") or {}
            speed = 1.0 if name == "fp32" else (r.speedup or 0.0)
            print(
                f"{'ocrq: ' + name:40s} {fp32.size_bytes / r.size_bytes:5.2f}x {_pct(r.cer):>9s} "
                f"{100 * (r.cer - fp32.cer):+6.2f} {_pct(hard.get('cer')):>9s} "
                f"{hard.get('cer_delta_pp', 0.0):+6.2f} {r.latency_ms_p50:7.2f} {speed:6.2f}x"
            )
        mixed = rows.get("ort-int8-mixed")
        scan = (mixed.extra.get("node_sensitivity") if mixed else None) or {}
        if scan:
            print(
                f"mixed precision: per-node CER cost on {scan['sensitivity_lines']} sensitivity lines "
                f"(FP32 CER {100 * scan['base_cer']:.2f}%), costliest first:"
            )
            for node in scan["nodes"][:12]:
                print(
                    f"  {node['node']:22s} {node['op']:8s} {node['params']:>8d} w  {node['cer_pp']:+6.2f} pp  "
                    f"KL {node['output_error']:.5f}  {node['reason']}"
                )
            for step in scan["steps"]:
                tried = f"+ {step['tried']} float" if step.get("tried") else "all int8"
                print(f"  trial {tried:28s} {step['cer_pp']:+.2f} pp, {step['bytes']:,} bytes")
            print(f"  kept float: {', '.join(scan['float_nodes']) or 'none'}")
        static, mixed_row = rows.get("ort-int8-static"), mixed
        if static is not None:
            print(
                f"target static int8: >= 3.5x smaller, CER +<= 0.3 pp, >= 1.3x faster b1 -> "
                f"{fp32.size_bytes / static.size_bytes:.2f}x, {100 * (static.cer - fp32.cer):+.2f} pp, {static.speedup:.2f}x"
            )
        if mixed_row is not None:
            print(
                f"target mixed: CER +<= 0.1 pp at >= 3x smaller -> {100 * (mixed_row.cer - fp32.cer):+.2f} pp at "
                f"{fp32.size_bytes / mixed_row.size_bytes:.2f}x"
            )


if __name__ == "__main__":
    main()
