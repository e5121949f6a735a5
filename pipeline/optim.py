"""Optimizer, learning-rate schedule and EMA weights for recognizer training."""

from __future__ import annotations

import copy
import math

import torch
from torch import nn


def build_optimizer(
    model: nn.Module, learning_rate: float, weight_decay: float, part_multipliers: dict[str, float]
) -> torch.optim.AdamW:
    """AdamW with one group per named part (backbone/neck/head) and no decay on norms and biases."""
    groups = []
    seen: set[int] = set()
    parts = dict(model.parts()) if hasattr(model, "parts") else {}
    parts["other"] = model
    for part_name, module in parts.items():
        decay, no_decay = [], []
        for param in module.parameters():
            if not param.requires_grad or id(param) in seen:
                continue
            seen.add(id(param))
            (no_decay if param.ndim <= 1 else decay).append(param)
        lr = learning_rate * part_multipliers.get(part_name, 1.0)
        for params, wd in ((decay, weight_decay), (no_decay, 0.0)):
            if params:
                groups.append({"params": params, "lr": lr, "weight_decay": wd, "part": part_name})
    return torch.optim.AdamW(groups, lr=learning_rate)


def build_scheduler(
    optimizer: torch.optim.Optimizer, schedule: str, total_steps: int, warmup_ratio: float
) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warmup, then cosine decay to 2% / one-cycle (cosine up and down) / constant."""
    total_steps = max(1, total_steps)
    warmup = int(total_steps * warmup_ratio) if schedule != "onecycle" else max(1, int(total_steps * max(warmup_ratio, 0.25)))

    def factor(step: int) -> float:
        if warmup and step < warmup:
            start = 0.04 if schedule == "onecycle" else 0.0
            return start + (1 - start) * (step + 1) / warmup
        if schedule == "constant":
            return 1.0
        progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        floor = 0.02 if schedule == "cosine" else 1e-3
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


class ExponentialMovingAverage:
    """EMA of a model's floating-point parameters and buffers, evaluated and saved instead of raw weights."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.module = copy.deepcopy(model).eval()
        for param in self.module.parameters():
            param.requires_grad_(False)
        self.updates = 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        # Warm the average up early so it is useful after a few hundred steps, not thousands.
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        model_state = model.state_dict()
        for name, value in self.module.state_dict().items():
            source = model_state[name]
            if value.dtype.is_floating_point:
                value.mul_(decay).add_(source.detach(), alpha=1 - decay)
            else:
                value.copy_(source)

    def state_dict(self) -> dict:
        return {"module": self.module.state_dict(), "updates": self.updates, "decay": self.decay}

    def load_state_dict(self, state: dict) -> None:
        self.module.load_state_dict(state["module"])
        self.updates = state["updates"]
        self.decay = state["decay"]
