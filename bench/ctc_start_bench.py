"""How fast a fresh CTC model leaves its all-blank start: PyTorch's default output layer against the blank
prior the CTC head starts it at (`CtcHead.initialize`).

Both runs train the same model (same seed for every other weight) on the same quickstart lines, at the
template's batch size and peak learning rate with a linear warmup, one thread each. Printed: the running
mean of the training loss every 100 steps side by side, and the step at which each first falls below 2.0
(quickstart's validation CER is still near 100% above it).

    python bench/ctc_start_bench.py [--model crnn_tiny_strided] [--steps 1000] [--seeds 0,1]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.config import resolve_config  # noqa: E402
from pipeline.core.charset import Charset  # noqa: E402
from pipeline.data.bundle import build_data  # noqa: E402
from pipeline.models import create_model  # noqa: E402
from pipeline.models.heads.ctc import output_layer  # noqa: E402
from pipeline.models.heads.losses import ctc_loss, frame_lengths  # noqa: E402

CROSSING = 2.0


def train(model_name: str, start: str, seed: int, batches: list, steps: int, lr: float) -> list[float]:
    torch.manual_seed(seed)
    model = create_model(model_name, num_classes=Charset.from_spec("ascii").num_classes).train()
    if start == "default":  # undo the blank prior: PyTorch's own init of the output layer
        output_layer(model).reset_parameters()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    running, curve = None, []
    for step in range(steps):
        batch = batches[step % len(batches)]
        for group in optimizer.param_groups:  # quickstart's one-cycle warmup starts at 4% of the peak
            group["lr"] = lr * min(1.0, 0.04 + step / 900)
        logits = model(batch.images)
        loss = ctc_loss(
            logits, batch.targets, batch.target_lengths, frame_lengths(model, batch.widths, logits.shape[1])
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
        value = float(loss.detach())
        running = value if running is None else 0.95 * running + 0.05 * value
        curve.append(running)
    return curve


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="crnn_tiny_strided")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--seeds", default="0,1")
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = resolve_config("quickstart", overrides={"num_workers": "0", "num_train": "6000"})
    charset = Charset.from_spec(config.model.charset)
    data = build_data(config, charset, width_multiple=4)
    epochs = -(-args.steps * config.train.batch_size // config.data.num_train)
    batches = [batch for epoch in range(epochs) for batch in data.train_batches(epoch)]
    print(
        f"{args.model}, batch {config.train.batch_size}, peak lr {config.train.learning_rate:g}; "
        f"running mean of the training loss"
    )
    for seed in map(int, args.seeds.split(",")):
        curves = {
            start: train(args.model, start, seed, batches, args.steps, config.train.learning_rate)
            for start in ("default", "blank prior")
        }
        print(f"\nseed {seed}\n{'step':>6} {'default init':>13} {'blank prior':>12}")
        for step in range(99, args.steps, 100):
            print(f"{step + 1:>6} {curves['default'][step]:>13.3f} {curves['blank prior'][step]:>12.3f}")
        crossings = {
            start: next((i + 1 for i, value in enumerate(curve) if value < CROSSING), None)
            for start, curve in curves.items()
        }
        print(
            f"first step below {CROSSING}: "
            + ", ".join(f"{start} {step if step else f'> {args.steps}'}" for start, step in crossings.items())
        )


if __name__ == "__main__":
    main()
