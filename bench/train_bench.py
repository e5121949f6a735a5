"""Training throughput per model on this CPU: lines per second of forward + backward + AdamW step.

Batches are real synthetic lines rendered up front (rendering is measured by data_bench.py), so the
figures are the model's cost alone. Wall-clock and CPU-time rates are both printed: on a busy machine
the CPU-time rate says what an idle core would do. Each model trains in the memory layout `fit` gives it
(channels-last for conv models on CPU) and in fp32. Two ratios per thread count, each measured in
alternating rounds: that layout's wall-clock rate over the plain (NCHW) layout's, and bf16 autocast's
(what `amp: auto` trains in on CPUs that multiply bf16 in hardware) over fp32's.

    python bench/train_bench.py [--models crnn_tiny,svtr_tiny,vit_tiny] [--threads 1,2] [--batches 6]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch

from pipeline.config import resolve_config
from pipeline.core.charset import Charset
from pipeline.core.cpu_features import has_native_bf16
from pipeline.data.bundle import build_data
from pipeline.models import create_model, model_info
from pipeline.models.heads.losses import ctc_loss, frame_lengths
from pipeline.training.fit import training_memory_format

CPU = torch.device("cpu")


def train_step(
    model, optimizer, batch, layout: torch.memory_format, autocast: torch.dtype | None = None
) -> None:
    """One CTC training step (forward, backward, AdamW) on a batch, the timed unit of the training benches."""
    with torch.autocast("cpu", dtype=autocast, enabled=autocast is not None):
        logits = model(batch.images.contiguous(memory_format=layout))
    loss = ctc_loss(
        logits, batch.targets, batch.target_lengths, frame_lengths(model, batch.widths, logits.shape[1])
    )
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def measure(
    name: str,
    batches: list,
    threads: int,
    charset: Charset,
    layout: torch.memory_format,
    autocast: torch.dtype | None = None,
) -> tuple[float, float]:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = create_model(name, num_classes=charset.num_classes).train().to(memory_format=layout)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def step(batch) -> None:
        train_step(model, optimizer, batch, layout, autocast)

    step(batches[0])  # warm-up: allocator, oneDNN primitives
    lines = sum(len(b.texts) for b in batches[1:])
    wall, cpu = time.perf_counter(), time.process_time()
    for batch in batches[1:]:
        step(batch)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return lines / wall, lines / cpu * threads


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", default="crnn_tiny,svtr_tiny,vit_tiny,crnn_small")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--batches", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per layout (median kept)")
    args = parser.parse_args()
    config = resolve_config(
        "quickstart",
        overrides={
            "num_workers": "0",
            "batch_size": str(args.batch_size),
            "num_train": str(args.batch_size * (args.batches + 1)),
        },
    )
    charset = Charset.from_spec("ascii")
    batches = list(build_data(config, charset, width_multiple=4).train_batches(0))
    mean_width = sum(b.images.shape[-1] * len(b.texts) for b in batches) / sum(len(b.texts) for b in batches)
    print(
        f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} logical cores; load average "
        f"{os.getloadavg()[0]:.2f}; torch {torch.__version__}"
    )
    print(
        f"batches of {args.batch_size} quickstart lines, mean padded width {mean_width:.0f} px, height 32\n"
    )
    print(
        f"{'model':<18} {'params':>8} {'MMACs@256':>10} "
        + " ".join(
            f"{f'{t} thr wall':>12} {f'{t} thr cpu':>11} {'vs NCHW':>8} {'bf16':>6}"
            for t in map(int, args.threads.split(","))
        )
    )
    for name in args.models.split(","):
        info = model_info(name)
        layout = training_memory_format(create_model(name, num_classes=charset.num_classes), CPU)
        cells = []
        for threads in map(int, args.threads.split(",")):
            # alternate the layouts over rounds so a busy spell on the machine hits both alike
            rounds = [
                (
                    measure(name, batches, threads, charset, layout),
                    measure(name, batches, threads, charset, torch.contiguous_format),
                    measure(name, batches, threads, charset, layout, torch.bfloat16),
                )
                for _ in range(args.rounds)
            ]
            wall = statistics.median_high(r[0][0] for r in rounds)
            cpu = statistics.median_high(r[0][1] for r in rounds)
            plain = statistics.median_high(r[1][0] for r in rounds)
            bf16 = statistics.median_high(r[2][0] for r in rounds)
            cells.append(f"{wall:>10.0f}/s {cpu:>9.0f}/s {wall / plain:>7.2f}x {bf16 / wall:>5.2f}x")
        print(f"{name:<18} {info['params'] / 1e6:>7.2f}M {info['macs'] / 1e6:>10.1f} " + " ".join(cells))
    print(
        "\nwall = lines/s on this machine as it is now; cpu = lines per CPU-second x threads (an idle machine's rate)"
        f"\nbf16 = bf16 autocast's wall rate over fp32's; this CPU multiplies bf16 in hardware: "
        f"{'yes' if has_native_bf16() else 'no (emulated)'}"
    )


if __name__ == "__main__":
    main()
