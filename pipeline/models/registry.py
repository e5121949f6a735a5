"""Model registry in timm's manner: `@register_model` entry points, `create_model`, `list_models`,
`model_info`.

An entry point is a function named like the model (`crnn_tiny`) that takes `num_classes`,
`image_height` and architecture overrides and returns a `Recognizer`. Its docstring's first line is
the model's description.
"""

from __future__ import annotations

import fnmatch
import functools
import inspect
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from .base import Recognizer
from .heads import head_of

_ENTRY_POINTS: dict[str, Callable[..., Recognizer]] = {}
_FAMILIES: dict[str, str] = {}

EntryPoint = Callable[..., Recognizer]


def register_model(fn: EntryPoint) -> EntryPoint:
    """Decorator that registers a model entry point under its function name.

    The family is the name of the module that defines it (`crnn`, `vit`, `svtr`).

    Raises:
        ValueError: if the name is already registered.
    """
    name = fn.__name__
    if name in _ENTRY_POINTS:
        raise ValueError(f"model {name!r} is already registered")
    _ENTRY_POINTS[name] = fn
    _FAMILIES[name] = fn.__module__.rsplit(".", 1)[-1]
    return fn


def list_models(pattern: str = "*") -> list[str]:
    """Registered model names matching a shell-style pattern (e.g. "crnn_*"), sorted."""
    return sorted(name for name in _ENTRY_POINTS if fnmatch.fnmatchcase(name, pattern))


def _entry_point(name: str) -> EntryPoint:
    if name not in _ENTRY_POINTS:
        raise ValueError(f"unknown model {name!r}; allowed: {', '.join(list_models())}")
    return _ENTRY_POINTS[name]


def create_model(name: str, *, num_classes: int, image_height: int = 32, **overrides: Any) -> Recognizer:
    """Build a registered recognizer with freshly initialized weights.

    `create_model(**model.config())` rebuilds the same architecture.

    Args:
        name: A name from `list_models()`.
        num_classes: Output classes including the CTC blank (class 0).
        image_height: Input height in pixels (each family documents what it accepts).
        **overrides: Architecture arguments that replace the registered defaults.

    Returns:
        The model, in training mode, on CPU.

    Raises:
        ValueError: for an unknown name, an unknown override or an invalid value.
    """
    model = _entry_point(name)(num_classes=num_classes, image_height=image_height, **overrides)
    model.model_name = name
    head_of(model).initialize(model)
    return model


def merge_overrides(name: str, defaults: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Registered defaults updated by user overrides; entry points call this.

    Raises:
        ValueError: if an override names no architecture argument of the model.
    """
    unknown = sorted(set(overrides) - set(defaults))
    if unknown:
        raise ValueError(
            f"unknown override {unknown[0]!r} for {name}; allowed: {', '.join(sorted(defaults))}"
        )
    return {**defaults, **overrides}


def _lstm_macs(lstm: nn.LSTM, batch: int, steps: int) -> int:
    directions = 2 if lstm.bidirectional else 1
    macs, inputs = 0, lstm.input_size
    for _ in range(lstm.num_layers):
        macs += directions * 4 * lstm.hidden_size * (inputs + lstm.hidden_size)
        inputs = directions * lstm.hidden_size
    return macs * batch * steps


def count_macs(model: Recognizer, image_height: int, width: int) -> int:
    """Multiply-accumulates of one forward pass on a single (1, 1, image_height, width) image.

    Counted with `torch.utils.flop_counter.FlopCounterMode` (MACs = FLOPs / 2). Fused attention is
    switched to timm's explicit matmuls while counting (the counter misses CPU fused attention), and
    `nn.LSTM` MACs are added analytically (4 gates x hidden x (input + hidden) per step and direction)
    when the counter found none in that module. Element-wise ops are not counted.
    """
    lstm_steps: dict[str, tuple[int, int]] = {}
    hooks = []
    for module_name, module in model.named_modules():
        if isinstance(module, nn.LSTM):

            def record(mod: nn.Module, args: tuple, _out: Any, key: str = module_name) -> None:
                sequence = args[0]
                batch_first = mod.batch_first
                lstm_steps[key] = (
                    sequence.shape[0 if batch_first else 1],
                    sequence.shape[1 if batch_first else 0],
                )

            hooks.append(module.register_forward_hook(record))
    device = next(model.parameters()).device
    fused = {m: m.fused_attn for m in model.modules() if hasattr(m, "fused_attn")}
    was_training = model.training
    try:
        for module in fused:
            module.fused_attn = False
        model.eval()
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(torch.zeros(1, 1, image_height, width, device=device))
    finally:
        for module, value in fused.items():
            module.fused_attn = value
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    flops = counter.get_total_flops()
    per_module = counter.get_flop_counts()
    prefix = type(model).__name__
    macs = flops // 2
    for module_name, (batch, steps) in lstm_steps.items():
        if sum(per_module.get(f"{prefix}.{module_name}", {}).values()) == 0:
            macs += _lstm_macs(model.get_submodule(module_name), batch, steps)
    return int(macs)


@functools.lru_cache(maxsize=64)
def _model_info(name: str, image_height: int, width: int, num_classes: int) -> tuple[tuple[str, Any], ...]:
    model = create_model(name, num_classes=num_classes, image_height=image_height)
    model.check_width(width)
    doc = inspect.getdoc(_entry_point(name)) or ""
    info = {
        "name": name,
        "family": _FAMILIES[name],
        "params": sum(p.numel() for p in model.parameters()),
        "macs": count_macs(model, image_height, width),
        "width_multiple": model.width_multiple,
        "description": doc.splitlines()[0] if doc else "",
    }
    return tuple(info.items())


def model_info(name: str, image_height: int = 32, width: int = 256, num_classes: int = 96) -> dict[str, Any]:
    """Size and cost of a registered model for one line image.

    Builds the model once per argument set (only the small result is cached).

    Args:
        name: A name from `list_models()`.
        image_height: Input height.
        width: Input width for the MAC count (a multiple of the model's width multiple).
        num_classes: Output classes (96 = printable ASCII + blank) - it changes the head's size.

    Returns:
        dict(name, family, params, macs, width_multiple, description).

    Raises:
        ValueError: for an unknown name or an unsupported height or width.
    """
    return dict(_model_info(name, image_height, width, num_classes))
