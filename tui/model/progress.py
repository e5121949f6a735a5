"""Readable progress of a running experiment: ``variant 3/6: qat epoch 2/3 · elapsed 4m10s · ETA 1m05s``.

The heartbeat says what the run is doing in its own words (``epoch 6``, ``3.4/30 loss 0.412``, a stage
such as ``variant:qat`` or ``qat:qat``); the experiment's config and recorded epochs supply the totals
and the pace. Pure functions, no Textual.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

_FRACTION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)\s*(.*)$")
_EPOCH = re.compile(r"^\s*epoch\s+(\d+)(?:\s*/\s*(\d+))?", re.I)
GIB = 1024**3


@dataclass(frozen=True)
class Progress:
    """What a running experiment is doing and how far it got.

    Attributes:
        label: ``variant 3/6: qat epoch 2/3`` (stage and step, with totals where known).
        completed: work done in the current step (epochs), or None when unknown.
        total: the step's total, or None when unknown (no bar is drawn then).
        elapsed_s: seconds since the run started, or None.
        eta_s: estimated seconds left in the current step, or None.
        detail: the rest of the heartbeat's text (``loss 0.412``).
        gpu: a GPU run's utilisation and memory (``GPU 87% 40/140 GiB``); empty on CPU runs.
    """

    label: str
    completed: float | None = None
    total: float | None = None
    elapsed_s: float | None = None
    eta_s: float | None = None
    detail: str = ""
    gpu: str = ""

    def text(self) -> str:
        """The one-line form: label, detail, elapsed and ETA (the GPU has a line of its own)."""
        parts = [self.label + (f" {self.detail}" if self.detail else "")]
        if self.elapsed_s is not None:
            parts.append(f"elapsed {fmt_duration(self.elapsed_s)}")
        if self.eta_s is not None:
            parts.append(f"ETA {fmt_duration(self.eta_s)}")
        return " · ".join(parts)


def gpu_text(gpus: Any) -> str:
    """A heartbeat's GPU sample for the list's progress cell: ``GPU 87% 40/140 GiB``, one a device.

    Device memory used/total in GiB (one decimal under 10); empty when the heartbeat has none (a CPU
    run); a figure the run could not read is left out. The experiment header shows the full figures.
    """
    if not isinstance(gpus, list):
        return ""
    texts = []
    for gpu in gpus:
        if not isinstance(gpu, dict):
            continue
        parts = ["GPU" if len(gpus) == 1 else f"GPU{gpu.get('index', '?')}"]
        util = gpu.get("util_percent")
        if _is_number(util):
            parts.append(f"{util:.0f}%")
        used = gpu.get("memory_used_bytes")
        used = used if _is_number(used) else gpu.get("reserved_bytes")
        total = gpu.get("memory_total_bytes")
        if _is_number(used) and _is_number(total) and total > 0:
            parts.append(f"{_gib(used)}/{_gib(total)} GiB")
        elif _is_number(used):
            parts.append(f"{_gib(used)} GiB")
        if len(parts) > 1:
            texts.append(" ".join(parts))
    return ", ".join(texts)


def _gib(size: float) -> str:
    gib = size / GIB
    return f"{gib:.1f}" if gib < 10 else f"{gib:.0f}"


def gpu_details(gpus: Any) -> list[str]:
    """A heartbeat's GPU sample in full, as items for the experiment header's GPU line.

    ``GPU 87%``, ``memory 40.5/139.8 GiB`` (the device's, as nvidia-smi shows it), then this run's
    tensors: ``run 30.0 GiB allocated, peak 33.0 GiB``. A figure the run could not read is left out.
    """
    if not isinstance(gpus, list):
        return []
    items: list[str] = []
    for gpu in gpus:
        if not isinstance(gpu, dict):
            continue
        name = "GPU" if len(gpus) == 1 else f"GPU{gpu.get('index', '?')}"
        util = gpu.get("util_percent")
        items.append(f"{name} {util:.0f}%" if _is_number(util) else f"{name} utilisation unknown (no NVML)")
        used, total = gpu.get("memory_used_bytes"), gpu.get("memory_total_bytes")
        if _is_number(used) and _is_number(total) and total > 0:
            items.append(f"memory {used / GIB:.1f}/{total / GIB:.1f} GiB")
        allocated, peak = gpu.get("allocated_bytes"), gpu.get("peak_allocated_bytes")
        if _is_number(allocated):
            peak_text = f", peak {peak / GIB:.1f} GiB" if _is_number(peak) else ""
            items.append(f"run {allocated / GIB:.1f} GiB allocated{peak_text}")
    return items


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value


def fmt_duration(seconds: float) -> str:
    """``42s``, ``4m10s``, ``2h05m``."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def config_value(config: dict[str, Any] | None, key: str) -> Any:
    """A field of a stored config, flat or inside its section (``train.epochs`` or ``epochs``)."""
    if not config:
        return None
    if key in config and not isinstance(config[key], dict):
        return config[key]
    for value in config.values():
        if isinstance(value, dict) and key in value:
            return value[key]
    return None


def phase_total(config: dict[str, Any] | None, phase: str) -> int | None:
    """How many epochs ``phase`` trains (baseline/train, qat:..., finetune:...), from the config."""
    key = "epochs"
    if phase.startswith("qat"):
        key = "qat_epochs"
    elif phase.startswith("finetune"):
        key = "finetune_epochs"
    elif phase not in ("train", "baseline"):
        return None
    value = config_value(config, key)
    return value if isinstance(value, int) and value > 0 else None


def _parse_time(iso: Any) -> float | None:
    if not isinstance(iso, str) or not iso:
        return None
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _stage_words(stage: str) -> str:
    # "qat:qat" -> "qat", "finetune:pruned" -> "finetune pruned", "variant:qat" -> "qat"
    head, _, tail = stage.partition(":")
    if head == "variant":
        return tail or head
    if tail and tail != head:
        return f"{head} {tail}"
    return head


def describe(
    document: dict[str, Any], heartbeat: dict[str, Any] | None, epochs: list[dict[str, Any]], now: float
) -> Progress:
    """The progress of a running experiment from its document, last heartbeat and recorded epochs.

    Args:
        document: the experiment (config, variants, status, started, stage).
        heartbeat: the last heartbeat (stage, progress), if any.
        epochs: every recorded epoch so far.
        now: the current time (seconds since the epoch).
    """
    beat = heartbeat or {}
    stage = str(beat.get("stage") or document.get("stage") or "starting")
    text = str(beat.get("progress") or "")
    config = document.get("config")
    completed: float | None = None
    total: float | None = None
    detail = ""
    phase = "baseline" if stage == "train" else stage
    fraction, epoch = _FRACTION.match(text), _EPOCH.match(text)
    if fraction:
        completed, total, detail = float(fraction.group(1)), float(fraction.group(2)), fraction.group(3)
    elif epoch:
        completed = float(epoch.group(1))
        total = float(epoch.group(2)) if epoch.group(2) else phase_total(config, phase)
    elif text and text != "started":
        detail = text
    words = _stage_words(stage)
    if completed is not None and (stage == "train" or ":" in stage and not stage.startswith("variant")):
        step = f"{words} epoch {completed:g}" + (f"/{total:g}" if total else "")
    elif completed is not None:
        step = f"{words} {completed:g}" + (f"/{total:g}" if total else "")
    else:
        step = words
    label = step
    names = config_value(config, "variants")
    if (
        stage != "train"
        and stage not in ("evaluate", "starting", "data")
        and isinstance(names, list)
        and names
    ):
        done = len([v for v in document.get("variants") or [] if v.get("name") != "fp32"])
        label = f"variant {min(done + 1, len(names))}/{len(names)}: {step}"
    started = _parse_time(document.get("started"))
    elapsed = now - started if started is not None and now >= started else None
    eta = None
    if completed is not None and total:
        seconds = [e.get("seconds") for e in epochs if (e.get("phase") or "baseline") == phase]
        seconds = [s for s in seconds if isinstance(s, int | float) and s > 0]
        if seconds:
            eta = max(0.0, (total - completed) * sum(seconds) / len(seconds))
    return Progress(label, completed, total, elapsed, eta, detail.strip(), gpu_text(beat.get("gpus")))


def list_progress(summary: dict[str, Any], now: float) -> str:
    """The experiments list's progress cell: ``train 2/6 · 4m10s · GPU 87% 40/140 GiB`` while running."""
    if summary.get("status") != "running":
        return ""
    beat = summary.get("heartbeat") or {}
    document = {**summary, "config": summary.get("config")}
    progress = describe(document, beat, summary.get("epochs") or [], now)
    parts = [progress.label]
    if progress.elapsed_s is not None:
        parts.append(fmt_duration(progress.elapsed_s))
    if progress.eta_s is not None:
        parts.append(f"ETA {fmt_duration(progress.eta_s)}")
    if progress.gpu:
        parts.append(progress.gpu)
    return " · ".join(parts)
