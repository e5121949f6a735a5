"""Training step cost against how finely batch widths vary: the same lines, padded to a multiple of 4 px
(the model's stride), 16, 32 or 64 px.

Every distinct input width costs PyTorch's CPU kernels extra work (oneDNN sets up convolutions per shape),
so coarser width steps can be faster despite the padded pixels. Batches are real quickstart training lines
rendered up front; the steps are measured in alternating rounds so a busy spell on the machine hits all
alike, and the median of the rounds is kept.

    python bench/batch_width_bench.py [--model crnn_tiny_strided] [--threads 1,2] [--batches 100] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics

from train_bench import CPU, measure  # the same timed training step (bench/ is the script's folder)

from pipeline.config import resolve_config
from pipeline.core.charset import Charset
from pipeline.data.bundle import build_data
from pipeline.data.loader import make_loader
from pipeline.models import create_model, model_info
from pipeline.training.fit import training_memory_format

STEPS = (4, 16, 32, 64)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="crnn_tiny_strided")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    config = resolve_config(
        "quickstart",
        overrides={
            "num_workers": "0",
            "batch_size": str(args.batch_size),
            "num_train": str(args.batch_size * args.batches),
        },
    )
    charset = Charset.from_spec("ascii")
    stride = model_info(args.model)["width_multiple"]
    # training's lines in the same order for every step, each set collated by the loader training uses
    lines = build_data(config, charset, width_multiple=stride).train_dataset(0)
    sets = {
        step: list(
            make_loader(
                lines, args.batch_size, charset=charset, width_multiple=stride, width_step=step, seed=0
            )
        )
        for step in STEPS
        if step % stride == 0
    }
    layout = training_memory_format(create_model(args.model, num_classes=charset.num_classes), CPU)
    print(
        f"{args.model}, {len(sets[stride])} batches of {args.batch_size} quickstart lines; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print(
        f"{'width step':>10} {'shapes':>7} {'mean width':>11} "
        + " ".join(f"{f'{t} thr ms/line':>15} {'speed×':>7}" for t in map(int, args.threads.split(",")))
    )
    results: dict[int, dict[int, float]] = {}
    for threads in map(int, args.threads.split(",")):
        rounds: dict[int, list[float]] = {step: [] for step in sets}
        for _ in range(args.rounds):
            for step, batches in sets.items():
                wall_lines_per_s, _ = measure(args.model, batches, threads, charset, layout)
                rounds[step].append(1000 / wall_lines_per_s)
        results[threads] = {step: statistics.median(values) for step, values in rounds.items()}
    for step, batches in sets.items():
        widths = [b.images.shape[-1] for b in batches]
        cells = []
        for by_step in results.values():
            cells.append(f"{by_step[step]:>15.2f} {by_step[stride] / by_step[step]:>6.2f}×")
        print(f"{step:>10} {len(set(widths)):>7} {statistics.mean(widths):>11.0f} " + " ".join(cells))


if __name__ == "__main__":
    main()
