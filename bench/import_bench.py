"""Benchmark of `ocrq import` on the PP-OCRv4 recognizer that `rapidocr-onnxruntime` ships, at one thread:
the plain ONNX Runtime calls a new user would make beside ocrq's variants, all measured on the same
synthetic lines, none of which were used for calibration.

    python bench/import_bench.py [--lines 200] [--calibration-lines 64] [--model PATH]

Without --model the wheel is fetched with `pip download --no-deps` into a temporary folder.
"""

from __future__ import annotations

import argparse
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
    """quantize_dynamic and quantize_static called as ONNX Runtime's docs show, on the file as shipped."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )

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

    rows = []
    path = work / "naive-dynamic.onnx"
    quantize_dynamic(str(model), str(path), weight_type=QuantType.QInt8)
    rows.append(("naive quantize_dynamic", path, ""))
    for method in (CalibrationMethod.MinMax, CalibrationMethod.Percentile):
        path = work / f"naive-static-{method.name}.onnx"
        try:
            quantize_static(
                str(model), str(path), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                calibrate_method=method,
            )  # fmt: skip
            rows.append((f"naive quantize_static {method.name}", path, ""))
        except Exception as error:  # noqa: BLE001  (reported as the row's outcome)
            rows.append(
                (f"naive quantize_static {method.name}", None, f"{type(error).__name__}: {str(error)[:90]}")
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path)
    parser.add_argument("--lines", type=int, default=200)
    parser.add_argument("--calibration-lines", type=int, default=64)
    parser.add_argument(
        "--variants", default="ort-int8-static,ort-int8-dynamic,ort-int4-weight,ort-int8-mixed"
    )
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    from pipeline.deploy.foreign_model import ForeignOnnxRecognizer
    from pipeline.variants.imported import ImportSettings, prepare_import, run_import
    from pipeline.variants.measure import measure_onnx_latency

    with tempfile.TemporaryDirectory(prefix="ocrq-import-bench-") as scratch:
        work = Path(scratch)
        model = args.model or fetch_model(work)
        settings = ImportSettings(
            model=model, data="synthetic", height=48, lines=args.lines, calibration_lines=args.calibration_lines,
            variants=tuple(args.variants.split(",")),
        )  # fmt: skip
        prepared = prepare_import(settings)
        started = time.monotonic()
        rows = run_import(prepared, lambda event: None, work / "experiment")
        print(f"ocrq import: {time.monotonic() - started:.0f} s; {prepared.data_label}; 1 thread")
        fp32 = rows["fp32"]
        table = [
            (name, r.size_bytes, r.cer, r.em, r.latency_ms_p50, r.speedup, r.throughput_lines_per_s_b16)
            for name, r in rows.items()
        ]
        for name, path, error in naive_rows(model, prepared, work):
            if path is None:
                table.append((name, None, None, None, None, None, error))
                continue
            try:
                recognizer = ForeignOnnxRecognizer(path, prepared.layout)
            except Exception as load_error:  # noqa: BLE001
                table.append(
                    (name, path.stat().st_size, None, None, None, None, f"will not load: {load_error!s:.80}")
                )
                continue
            from pipeline.evaluation.predict import predict

            metrics = predict(
                recognizer, prepared.test_batches, prepared.charset, torch.device("cpu"), compute_loss=False
            ).metrics()
            timing = measure_onnx_latency(
                recognizer, type("D", (), {"latency_runs": 30, "latency_threads": 1})()
            )
            table.append((name, path.stat().st_size, metrics.cer, metrics.em, timing["latency_ms_p50"],
                          fp32.latency_ms_p50 / timing["latency_ms_p50"], timing["throughput_lines_per_s_b16"]))  # fmt: skip
        print(
            f"{'variant':34s} {'size×':>6s} {'CER':>7s} {'ΔCER pp':>8s} {'EM':>6s} {'p50 ms':>7s} {'speed×':>7s} {'b16 l/s':>8s}"
        )
        for name, size, cer, em, p50, speed, b16 in table:
            if cer is None:
                print(f"{name:34s} {'' if size is None else f'{fp32.size_bytes / size:6.2f}x'} {b16}")
                continue
            print(
                f"{name:34s} {fp32.size_bytes / size:5.2f}x {100 * cer:6.2f}% {100 * (cer - fp32.cer):+8.2f} "
                f"{100 * em:5.1f}% {p50:7.2f} {speed:6.2f}x {b16:8.1f}"
            )
        mixed = rows.get("ort-int8-mixed")
        if mixed is not None and mixed.sensitivity is None:
            scan = mixed.extra.get("sensitivity") or {}
            print("mixed precision, costliest nodes (CER pp when quantized alone, KL):")
            for node in scan.get("nodes", [])[:8]:
                print(f"  {node['node']:28s} {node['cer_pp']:+.2f} pp  KL {node['output_error']:.4f}")


if __name__ == "__main__":
    main()
