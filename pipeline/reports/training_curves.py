"""Figures written next to an experiment's other artifacts (matplotlib, Agg backend, no display)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def training_curves(history: list[dict[str, Any]], path: Path, title: str = "") -> int:
    """Loss, CER, EM and learning rate per epoch in one 2x2 figure. Returns bytes written."""
    epochs = [h["epoch"] for h in history]
    fig, axes = plt.subplots(2, 2, figsize=(10, 6.5), constrained_layout=True)
    ax = axes[0][0]
    ax.plot(epochs, [h["train_loss"] for h in history], marker="o", label="train")
    ax.plot(epochs, [h["val_loss"] for h in history], marker="o", label="validation")
    ax.set(title="CTC loss", xlabel="epoch", yscale="log")
    ax.legend()
    ax = axes[0][1]
    ax.plot(epochs, [100 * h["cer"] for h in history], marker="o", color="tab:red")
    ax.set(title="validation CER (%)", xlabel="epoch")
    ax = axes[1][0]
    ax.plot(epochs, [100 * h["em"] for h in history], marker="o", color="tab:green")
    ax.set(title="validation exact match (%)", xlabel="epoch", ylim=(0, 100))
    ax = axes[1][1]
    ax.plot(epochs, [h["lr"] for h in history], marker="o", color="tab:purple")
    ax.set(title="learning rate at epoch end", xlabel="epoch")
    for row in axes:
        for a in row:
            a.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.stat().st_size
