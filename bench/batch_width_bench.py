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
import copy
import os
import statistics
import time

import torch
import torch.nn.functional as F

from pipeline.config import resolve_config
from pipeline.core.charset import Charset
from pipeline.data.bundle import build_data
from pipeline.data.loader import make_loader
from pipeline.models import create_model, model_info
from pipeline.models.heads.losses import ctc_loss, frame_lengths
from pipeline.training.fit import training_memory_format

CPU = torch.device("cpu")
STEPS = (4, 16, 32, 64)


def padded(batches: list, step: int) -> list:
    """The batches with their width padded up to a multiple of `step` (labels and true widths kept)."""
    out = []
    for batch in batches:
        width = batch.images.shape[-1]
        wider = copy.copy(batch)
        wider.images = F.pad(
            batch.images, (0, -(-width // step) * step - width), value=float(batch.images[0, 0, 0, -1])
        )
        out.append(wider)
    return out


def ms_per_line(name: str, batches: list, charset: Charset) -> float:
    torch.manual_seed(0)
    model = create_model(name, num_classes=charset.num_classes).train()
    layout = training_memory_format(model, CPU)
    model.to(memory_format=layout)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def step(batch) -> None:
        logits = model(batch.images.contiguous(memory_format=layout))
        loss = ctc_loss(
            logits, batch.targets, batch.target_lengths, frame_lengths(model, batch.widths, logits.shape[1])
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    step(batches[0])
    lines = sum(len(b.texts) for b in batches[1:])
    started = time.perf_counter()
    for batch in batches[1:]:
        step(batch)
    return (time.perf_counter() - started) / lines * 1000


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
    # training's lines and order, padded to the stride alone; the coarser steps pad these further
    data = build_data(config, charset, width_multiple=stride)
    base = list(
        make_loader(data.train_dataset(0), args.batch_size, charset=charset, width_multiple=stride, seed=0)
    )
    sets = {step: padded(base, step) for step in STEPS if step % stride == 0}
    print(
        f"{args.model}, {len(base)} batches of {args.batch_size} quickstart lines; load average {os.getloadavg()[0]:.2f}"
    )
    print(
        f"{'width step':>10} {'shapes':>7} {'mean width':>11} "
        + " ".join(f"{f'{t} thr ms/line':>15} {'speed×':>7}" for t in map(int, args.threads.split(",")))
    )
    results: dict[int, dict[int, float]] = {}
    for threads in map(int, args.threads.split(",")):
        torch.set_num_threads(threads)
        rounds: dict[int, list[float]] = {step: [] for step in sets}
        for _ in range(args.rounds):
            for step, batches in sets.items():
                rounds[step].append(ms_per_line(args.model, batches, charset))
        results[threads] = {step: statistics.median(values) for step, values in rounds.items()}
    for step, batches in sets.items():
        widths = [b.images.shape[-1] for b in batches]
        cells = []
        for by_step in results.values():
            cells.append(f"{by_step[step]:>15.2f} {by_step[stride] / by_step[step]:>6.2f}×")
        print(f"{step:>10} {len(set(widths)):>7} {statistics.mean(widths):>11.0f} " + " ".join(cells))


if __name__ == "__main__":
    main()
