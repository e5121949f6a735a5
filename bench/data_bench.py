"""Synthetic line throughput: lines per second on one core, with and without augmentations, next to trdg.

Run: `python bench/data_bench.py [--lines 3000] [--trdg-python /tmp/trdg-venv/bin/python]`

Each figure is the full dataset item (text sampling, layout, rendering, augmentations, tensor conversion)
in one process with one torch thread, after a warm-up that fills the glyph cache as a long training run
would. "per core" divides by the process's CPU time, so other load on a shared machine does not count;
wall-clock rates are printed too. trdg (TextRecognitionDataGenerator) is measured the same way in its own
virtual environment (it needs Pillow < 10), on the same texts and fonts, if that environment exists:
    python -m venv /tmp/trdg-venv && /tmp/trdg-venv/bin/pip install trdg "pillow<10"
Prints figures only; it never passes or fails on time.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fonts import bundled_fonts  # noqa: E402
from pipeline.config.data_sections import AugmentationConfig, SyntheticDataConfig  # noqa: E402
from pipeline.core.charset import Charset  # noqa: E402
from pipeline.data.loader import make_loader  # noqa: E402
from pipeline.data.synthetic import SyntheticLineDataset  # noqa: E402
from pipeline.data.text import TextSampler  # noqa: E402

TARGET_LINES_PER_SECOND = 1000
DEFAULT_TRDG_PYTHON = "/tmp/trdg-venv/bin/python"

# Runs inside the trdg venv: generate the given texts, time it, print one JSON line.
TRDG_SCRIPT = r"""
import json, sys, time
from trdg.generators import GeneratorFromStrings
texts, fonts, height, augmented, warmup = json.load(open(sys.argv[1]))
options = dict(fonts=fonts, size=height, image_mode="L", language="en")
if augmented:  # the closest trdg offers: skew, blur, noise background, sine distortion
    options.update(skewing_angle=5, random_skew=True, blur=1, random_blur=True, background_type=0, distorsion_type=1)
else:
    options.update(background_type=1)
def run(items):
    widths = 0
    for image, _ in GeneratorFromStrings(items, count=len(items), **options):
        widths += image.size[0]
    return widths
run(texts[:warmup])
cpu, wall = time.process_time(), time.perf_counter()
widths = run(texts)
print(json.dumps({"cpu_s": time.process_time() - cpu, "wall_s": time.perf_counter() - wall,
                  "lines": len(texts), "mean_width": widths / len(texts)}))
"""


@dataclass
class Rate:
    """One measured configuration: per-round CPU and wall seconds for `lines` lines in total."""

    name: str
    lines: int
    cpu_s: list[float]
    wall_s: list[float]
    mean_width: float

    @property
    def per_core(self) -> float:
        """Best round: other processes on a shared machine only ever slow a round down."""
        return self.lines / len(self.cpu_s) / min(self.cpu_s)

    @property
    def per_core_median(self) -> float:
        return self.lines / len(self.cpu_s) / statistics.median(self.cpu_s)

    @property
    def wall(self) -> float:
        return self.lines / sum(self.wall_s)


def bench_ocrq(name: str, aug: AugmentationConfig, lines: int, warmup: int, height: int, rounds: int) -> Rate:
    """Time `lines` dataset items in `rounds` rounds, after `warmup` items that fill the caches."""
    config = SyntheticDataConfig(image_height=height)
    dataset = SyntheticLineDataset(config, aug, Charset.from_spec("ascii"), warmup + lines, seed=11)
    for i in range(warmup):
        dataset[i]
    widths, cpu_s, wall_s = 0, [], []
    per_round = lines // rounds
    for r in range(rounds):
        start = warmup + r * per_round
        cpu, wall = time.process_time(), time.perf_counter()
        for i in range(start, start + per_round):
            widths += dataset[i][0].shape[2]
        cpu_s.append(time.process_time() - cpu)
        wall_s.append(time.perf_counter() - wall)
    return Rate(name, per_round * rounds, cpu_s, wall_s, widths / (per_round * rounds))


def bench_loader(lines: int, warmup: int, height: int, rounds: int, batch_size: int = 64) -> Rate:
    """Lines through `make_loader` in this process (width hints for grouping, rendering, padding, targets)."""
    charset = Charset.from_spec("ascii")
    config = SyntheticDataConfig(image_height=height)
    per_round = lines // rounds
    cpu_s, wall_s, widths = [], [], 0
    for r in range(rounds + 1):  # round 0 warms the caches
        size = warmup if r == 0 else per_round
        dataset = SyntheticLineDataset(config, AugmentationConfig(), charset, size, seed=100 + r)
        cpu, wall = time.process_time(), time.perf_counter()
        for batch in make_loader(dataset, batch_size, charset=charset, width_multiple=4, seed=r):
            widths += int(batch.widths.sum()) if r else 0
        if r:
            cpu_s.append(time.process_time() - cpu)
            wall_s.append(time.perf_counter() - wall)
    return Rate(
        f"ocrq loader, default augmentations, batch {batch_size}",
        per_round * rounds,
        cpu_s,
        wall_s,
        widths / (per_round * rounds),
    )


def bench_trdg(python: str, augmented: bool, lines: int, warmup: int, height: int) -> Rate | str:
    """Time trdg in its own interpreter; returns a note instead when it cannot run."""
    if not Path(python).exists():
        return f"trdg not measured: {python} not found (python -m venv /tmp/trdg-venv && "
    sampler = TextSampler(SyntheticDataConfig(blank_ratio=0.0), Charset.from_spec("ascii"))
    rng = random.Random(5)
    texts = [sampler.sample(rng) for _ in range(lines)]
    fonts = [str(p) for p in bundled_fonts()]
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump([texts, fonts, height, augmented, min(warmup, lines)], handle)
    try:
        result = subprocess.run(
            [python, "-c", TRDG_SCRIPT, handle.name], capture_output=True, text=True, timeout=900, check=False
        )
    finally:
        Path(handle.name).unlink(missing_ok=True)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        return f"trdg failed: {last}"
    data = json.loads(result.stdout.strip().splitlines()[-1])
    name = "trdg, skew+blur+noise+distortion" if augmented else "trdg, no augmentation"
    return Rate(name, data["lines"], [data["cpu_s"]], [data["wall_s"]], data["mean_width"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=3000, help="timed lines per configuration")
    parser.add_argument("--warmup", type=int, default=2000, help="untimed lines first (fills glyph caches)")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds; the best round is reported")
    parser.add_argument("--height", type=int, default=32)
    parser.add_argument(
        "--trdg-python", default=DEFAULT_TRDG_PYTHON, help="python of a venv with trdg installed"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    configurations = [
        ("ocrq, augmentations off", AugmentationConfig.none()),
        ("ocrq, default augmentations", AugmentationConfig()),
        ("ocrq, every augmentation on every line", AugmentationConfig.heavy()),
    ]
    rates: list[Rate] = [
        bench_ocrq(name, aug, args.lines, args.warmup, args.height, args.rounds)
        for name, aug in configurations
    ]
    rates.append(bench_loader(args.lines, args.warmup, args.height, args.rounds))
    notes = []
    trdg_lines = max(200, args.lines // 3)  # trdg is slower; fewer lines keep the run short
    for augmented in (False, True):
        outcome = bench_trdg(args.trdg_python, augmented, trdg_lines, min(200, args.warmup), args.height)
        if isinstance(outcome, Rate):
            rates.append(outcome)
        else:
            notes.append(outcome + ("pip install trdg 'pillow<10')" if "not found" in outcome else ""))
            break

    print(
        f"Synthetic text lines, height {args.height}, one process, torch threads = {torch.get_num_threads()}"
    )
    header = f"{'configuration':46} {'lines':>6} {'lines/s/core':>13} {'(median)':>9} {'lines/s wall':>13} {'width':>6}"
    print(header)
    for rate in rates:
        print(
            f"{rate.name:46} {rate.lines:6d} {rate.per_core:13.0f} {rate.per_core_median:9.0f} {rate.wall:13.0f}"
            f" {rate.mean_width:6.1f}"
        )
    print(
        "lines/s/core: best round of CPU time (median in brackets); wall: all rounds, includes waiting for a core"
    )
    for note in notes:
        print(note)
    ours = {r.name: r for r in rates}
    heavy = ours["ocrq, every augmentation on every line"].per_core
    default = ours["ocrq, default augmentations"].per_core
    print(
        f"target >= {TARGET_LINES_PER_SECOND} lines/s/core with augmentations on: "
        f"default {default:.0f} ({'met' if default >= TARGET_LINES_PER_SECOND else 'NOT met'}), "
        f"every augmentation on every line {heavy:.0f} ({'met' if heavy >= TARGET_LINES_PER_SECOND else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
