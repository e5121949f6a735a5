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


class LRSchedule:
    """Linear warmup, then cosine decay to 2% / one-cycle / constant, driven by training progress in 0..1.

    Progress is steps done over total steps, or, under a time budget, the larger of that and the share
    of the budget spent, so a run cut short by its budget still anneals its learning rate.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, schedule: str, warmup_ratio: float) -> None:
        self.optimizer = optimizer
        self.schedule = schedule
        self.warmup = max(warmup_ratio, 0.25) if schedule == "onecycle" else warmup_ratio
        self.base_lrs = [group["lr"] for group in optimizer.param_groups]
        self.progress = 0.0
        self.apply(0.0)

    def factor(self, progress: float) -> float:
        if self.warmup and progress < self.warmup:
            start = 0.04 if self.schedule == "onecycle" else 0.0
            return start + (1 - start) * max(progress, 1e-3) / self.warmup
        if self.schedule == "constant":
            return 1.0
        remaining = min(1.0, (progress - self.warmup) / max(1e-9, 1 - self.warmup))
        floor = 0.02 if self.schedule == "cosine" else 1e-3
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * remaining))

    def apply(self, progress: float) -> None:
        self.progress = min(1.0, max(0.0, progress))
        scale = self.factor(self.progress)
        for group, base in zip(self.optimizer.param_groups, self.base_lrs, strict=True):
            group["lr"] = base * scale

    def state_dict(self) -> dict:
        return {"progress": self.progress, "base_lrs": self.base_lrs}

    def load_state_dict(self, state: dict) -> None:
        self.base_lrs = list(state["base_lrs"])
        self.apply(state["progress"])


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
