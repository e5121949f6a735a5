"""Structured pruning that removes channels for real: conv and linear output channels through
torch-pruning's dependency graph (batch norms, the next layer's inputs and LSTM inputs follow), and
LSTM hidden units by rebuilding the LSTM and its consumer.

Only channels that can be removed without touching a residual stream are candidates: a layer whose
pruning group reaches a LayerNorm, a free parameter (position embeddings) or the attention's qkv
split, or that is the classifier, is left whole and listed in the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn.utils import prune

from pipeline.compress.layers import weight_layers
from pipeline.compress.pruning import PruningSpec, structured_mask

_UNSAFE_TARGETS = ("LayerNorm", "Parameter", "_UnbindOp", "GroupNorm")


@dataclass
class ShrinkReport:
    """Channels removed per layer, and layers that could not be pruned structurally (with why)."""

    removed: dict[str, tuple[int, int]] = field(default_factory=dict)  # layer -> (before, after) channels
    skipped: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {"removed": {k: list(v) for k, v in self.removed.items()}, "skipped": dict(self.skipped)}


def _group_is_safe(group, classifier: nn.Module) -> str | None:
    for dep, _ in group:
        target = dep.target.module
        kind = type(target).__name__
        if kind in _UNSAFE_TARGETS or isinstance(target, nn.Parameter):
            return f"its channels are shared through a {kind} (residual stream)"
        if target is classifier and "out_channels" in dep.handler.__name__:
            return "it feeds the classifier's outputs"
    return None


def _lstm_consumer(model: nn.Module, lstm_name: str, lstm: nn.LSTM) -> tuple[str, nn.Linear] | None:
    layers = weight_layers(model)
    names = [layer.name for layer in layers]
    width = lstm.hidden_size * (2 if lstm.bidirectional else 1)
    for layer in layers[names.index(lstm_name) + 1 :]:
        module = model.get_submodule(layer.name)
        if isinstance(module, nn.Linear) and module.in_features == width:
            return layer.name, module
        return None
    return None


def _set_submodule(model: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent_name) if parent_name else model, child, module)


def prune_lstm_hidden(model: nn.Module, name: str, ratio: float, norm: int) -> tuple[int, int] | None:
    """Remove the least important hidden units of every layer and direction of an LSTM (and the matching
    inputs of its consumer). Units are ranked by the norm of their four gate rows; the mask is applied
    with `torch.nn.utils.prune.custom_from_mask` before the rows are sliced away."""
    lstm: nn.LSTM = model.get_submodule(name)
    consumer = _lstm_consumer(model, name, lstm)
    hidden = lstm.hidden_size
    keep_count = max(1, hidden - int(round(hidden * ratio)))
    if consumer is None or keep_count == hidden or lstm.proj_size:
        return None
    directions = ["", "_reverse"] if lstm.bidirectional else [""]
    keeps: dict[tuple[int, str], torch.Tensor] = {}
    for layer in range(lstm.num_layers):
        for suffix in directions:
            w_ih = getattr(lstm, f"weight_ih_l{layer}{suffix}").detach()
            w_hh = getattr(lstm, f"weight_hh_l{layer}{suffix}").detach()
            rows = torch.cat([w_ih, w_hh], dim=1).reshape(4, hidden, -1).permute(1, 0, 2).reshape(hidden, -1)
            keep = torch.sort(torch.argsort(rows.norm(p=norm, dim=1), descending=True)[:keep_count]).values
            keeps[(layer, suffix)] = keep
            mask = torch.zeros(4, hidden, w_ih.shape[1])
            mask[:, keep] = 1
            prune.custom_from_mask(lstm, f"weight_ih_l{layer}{suffix}", mask.reshape(4 * hidden, -1))
            prune.remove(lstm, f"weight_ih_l{layer}{suffix}")
    new = nn.LSTM(
        lstm.input_size,
        keep_count,
        num_layers=lstm.num_layers,
        bias=lstm.bias,
        batch_first=lstm.batch_first,
        dropout=lstm.dropout,
        bidirectional=lstm.bidirectional,
    )
    with torch.no_grad():
        for layer in range(lstm.num_layers):
            if layer == 0:
                in_cols = None
            else:
                in_cols = torch.cat([keeps[(layer - 1, s)] + i * hidden for i, s in enumerate(directions)])
            for suffix in directions:
                keep = keeps[(layer, suffix)]
                rows = torch.cat([keep + gate * hidden for gate in range(4)])
                w_ih = getattr(lstm, f"weight_ih_l{layer}{suffix}")[rows]
                getattr(new, f"weight_ih_l{layer}{suffix}").copy_(
                    w_ih if in_cols is None else w_ih[:, in_cols]
                )
                getattr(new, f"weight_hh_l{layer}{suffix}").copy_(
                    getattr(lstm, f"weight_hh_l{layer}{suffix}")[rows][:, keep]
                )
                if lstm.bias:
                    getattr(new, f"bias_ih_l{layer}{suffix}").copy_(
                        getattr(lstm, f"bias_ih_l{layer}{suffix}")[rows]
                    )
                    getattr(new, f"bias_hh_l{layer}{suffix}").copy_(
                        getattr(lstm, f"bias_hh_l{layer}{suffix}")[rows]
                    )
        last = lstm.num_layers - 1
        cols = torch.cat([keeps[(last, s)] + i * hidden for i, s in enumerate(directions)])
        consumer_name, linear = consumer
        replacement = nn.Linear(len(cols), linear.out_features, bias=linear.bias is not None)
        replacement.weight.copy_(linear.weight[:, cols])
        if linear.bias is not None:
            replacement.bias.copy_(linear.bias)
    _set_submodule(model, name, new.to(next(lstm.parameters()).device))
    _set_submodule(model, consumer_name, replacement.to(linear.weight.device))
    parent = model.get_submodule(name.rpartition(".")[0]) if "." in name else model
    if hasattr(parent, "out_features"):
        parent.out_features = keep_count * len(directions)
    return hidden, keep_count


def structured_prune(
    model: nn.Module,
    spec: PruningSpec,
    example: torch.Tensor,
    grad_scores: dict[int, torch.Tensor] | None = None,
) -> ShrinkReport:
    """Mask and physically remove output channels per `spec` (ratios per part). Changes `model` in place."""
    import torch_pruning as tp

    model.eval()
    report = ShrinkReport()
    layers = weight_layers(model)
    classifier = model.get_submodule(layers[-1].name)
    graph = tp.DependencyGraph().build_dependency(model, example_inputs=example)
    for layer in layers:
        module = model.get_submodule(layer.name)
        ratio = spec.ratios.get(layer.part, 0.0)
        if layer.kind == "lstm" or ratio <= 0:
            continue
        if module is classifier:
            report.skipped[layer.name] = "the classifier's outputs are the character classes"
            continue
        if isinstance(module, nn.Conv2d) and module.groups > 1:
            report.skipped[layer.name] = "depthwise conv: its channels follow its input's"
            continue
        handler = (
            tp.prune_conv_out_channels if isinstance(module, nn.Conv2d) else tp.prune_linear_out_channels
        )
        probe = graph.get_pruning_group(module, handler, idxs=[0])
        reason = _group_is_safe(probe, classifier)
        if reason:
            report.skipped[layer.name] = reason
            continue
        before = module.weight.shape[0]
        grad = grad_scores.get(id(module.weight)) if grad_scores else None
        indices = structured_mask(module, ratio, spec.norm, grad)
        if not indices:
            continue
        group = graph.get_pruning_group(module, handler, idxs=indices)
        if not graph.check_pruning_group(group):
            report.skipped[layer.name] = "torch-pruning rejected the group"
            continue
        group.prune()
        report.removed[layer.name] = (before, model.get_submodule(layer.name).weight.shape[0])
    for layer in layers:
        ratio = spec.ratios.get(layer.part, 0.0)
        if layer.kind == "lstm" and ratio > 0:
            shrunk = prune_lstm_hidden(model, layer.name, ratio, spec.norm)
            if shrunk:
                report.removed[layer.name] = shrunk
            else:
                report.skipped[layer.name] = "no single linear layer consumes its hidden state"
    return report
