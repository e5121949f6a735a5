"""Training epochs with lines rendered one by one in the training process against rendered ahead.

`render_ahead` renders each epoch's lines first, in one process per torch thread, then trains on them:
on a CPU no core idles while lines are drawn, and no render worker fights torch's threads for a core.
Both ways train the same model on the same fresh lines (quickstart's data and batch size); epochs
alternate between the ways, so a busy spell on the machine hits both alike, and the median is kept. The
first epoch of each way is a warm-up (glyph caches, oneDNN set-up) and is not counted.

A third way renders ahead with `epochs_per_line` 2: each epoch renders half its lines and trains on the
other half again (the previous epoch's newer block).

    python bench/render_ahead_bench.py [--threads 2] [--lines 1600] [--rounds 4]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
from train_bench import CPU, train_step  # the same timed training step (bench/ is the script's folder)

from pipeline.config import resolve_config
from pipeline.core.charset import Charset
from pipeline.data.bundle import build_data
from pipeline.models import create_model, model_info
from pipeline.training.fit import training_memory_format


def epoch_seconds(data, model, optimizer, epoch: int) -> tuple[float, float]:
    """(seconds until the first batch is ready, seconds for the whole epoch) of one training epoch."""
    layout = training_memory_format(model, CPU)
    start = time.perf_counter()
    first = None
    for batch in data.train_batches(epoch):
        if first is None:
            first = time.perf_counter() - start
        train_step(model, optimizer, batch, layout)
    return first or 0.0, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--lines", type=int, default=1600, help="training lines per epoch")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--model", default="crnn_tiny_strided")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    charset = Charset.from_spec("ascii")
    stride = model_info(args.model)["width_multiple"]
    ways = {}
    for name, ahead, reuse in (
        ("one by one", "false", "1"),
        ("rendered ahead", "true", "1"),
        ("ahead, 2 ep/line", "true", "2"),  # epochs_per_line 2: half of each epoch's lines rendered
    ):
        config = resolve_config(
            "quickstart",
            overrides={
                "num_workers": "0",
                "num_train": str(args.lines),
                "render_ahead": ahead,
                "epochs_per_line": reuse,
            },
        )
        torch.manual_seed(0)
        model = create_model(args.model, num_classes=charset.num_classes).train()
        model.to(memory_format=training_memory_format(model, CPU))
        ways[name] = (build_data(config, charset, width_multiple=stride), model)
    optimizers = {name: torch.optim.AdamW(model.parameters(), lr=1e-3) for name, (_, model) in ways.items()}
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in ways}
    try:
        for round_index in range(args.rounds + 1):
            for name, (data, model) in ways.items():
                measured = epoch_seconds(data, model, optimizers[name], round_index)
                if round_index:  # round 0 warms both up
                    times[name].append(measured)
    finally:
        for data, _ in ways.values():
            data.close()
    print(
        f"{args.model}, {args.lines} quickstart lines an epoch, batch 16, {args.threads} torch thread(s), "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; median of {args.rounds} "
        "alternating epochs"
    )
    print(f"{'way':<17}{'s/epoch':>9}{'ms/line':>9}{'first batch s':>15}{'speed':>8}")
    base = statistics.median(total for _, total in times["one by one"])
    for name, measured in times.items():
        total = statistics.median(t for _, t in measured)
        first = statistics.median(f for f, _ in measured)
        print(f"{name:<17}{total:>9.2f}{total / args.lines * 1000:>9.2f}{first:>15.2f}{base / total:>7.2f}x")


if __name__ == "__main__":
    main()
