"""Structured pruning that removes channels for real: conv and linear output channels through
torch-pruning's dependency graph (batch norms, the next layer's inputs and LSTM inputs follow), LSTM
hidden units by rebuilding the LSTM and its consumer, and the width of every attention head by
rebuilding the attention's qkv and proj layers.

Only channels that can be removed without touching a residual stream are candidates: a layer whose
pruning group reaches a LayerNorm, a free parameter (position embeddings) or the attention's qkv
split, or that is the classifier, is left whole and listed in the report. (Attention heads are
narrowed inside the block, so the residual stream keeps its width.)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn.utils import prune

from pipeline.compress.pruning import PruningSpec, structured_mask
from pipeline.models.layers import weight_layers

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


def _prunable_attention(module: nn.Module) -> bool:
    """A timm-style attention whose head width can change: qkv -> heads -> proj, nothing else on the way."""
    needed = ("qkv", "proj", "num_heads", "head_dim", "attn_dim", "scale")
    if not all(hasattr(module, name) for name in needed):
        return False
    plain = all(
        isinstance(getattr(module, n, nn.Identity()), nn.Identity) for n in ("q_norm", "k_norm", "norm")
    )
    return (
        plain
        and getattr(module, "gate", None) is None
        and isinstance(module.qkv, nn.Linear)
        and isinstance(module.proj, nn.Linear)
        and module.qkv.out_features == 3 * module.num_heads * module.head_dim
        and module.proj.in_features == module.num_heads * module.head_dim
    )


@torch.no_grad()
def prune_attention_width(attention: nn.Module, ratio: float, norm: int) -> tuple[int, int] | None:
    """Remove the same share of dimensions from every head's query, key and value (and the matching inputs
    of the output projection). Dimensions are ranked per head by the norm of their q, k and v rows and
    their proj column; returns (attention width before, after), or None when nothing is removed."""
    heads, width, qkv, proj = attention.num_heads, attention.head_dim, attention.qkv, attention.proj
    keep_count = max(1, width - int(round(width * ratio)))
    if keep_count == width:
        return None
    rows = qkv.weight.reshape(3, heads, width, -1).abs().pow(norm).sum(dim=(0, 3))
    cols = proj.weight.reshape(proj.out_features, heads, width).abs().pow(norm).sum(dim=0)
    keep = torch.sort(torch.argsort(rows + cols, dim=1, descending=True)[:, :keep_count], dim=1).values
    head_offsets = torch.arange(heads)[:, None] * width
    kept_columns = (head_offsets + keep).flatten()  # (head, dim) -> position in the attention width
    kept_rows = torch.cat([kept_columns + part * heads * width for part in range(3)])  # q, k, v blocks
    new_qkv = nn.Linear(qkv.in_features, len(kept_rows), bias=qkv.bias is not None)
    new_qkv.weight.copy_(qkv.weight[kept_rows])
    if qkv.bias is not None:
        new_qkv.bias.copy_(qkv.bias[kept_rows])
    new_proj = nn.Linear(len(kept_columns), proj.out_features, bias=proj.bias is not None)
    new_proj.weight.copy_(proj.weight[:, kept_columns])
    if proj.bias is not None:
        new_proj.bias.copy_(proj.bias)
    attention.qkv, attention.proj = new_qkv.to(qkv.weight.device), new_proj.to(proj.weight.device)
    attention.head_dim, attention.attn_dim = keep_count, heads * keep_count
    attention.scale = keep_count**-0.5  # what the fused path uses for the narrower heads
    return heads * width, heads * keep_count


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
    for name, module in model.named_modules():
        if not _prunable_attention(module):
            continue
        ratio = spec.ratios.get(_part_of(layers, f"{name}.qkv"), 0.0)
        shrunk = prune_attention_width(module, ratio, spec.norm) if ratio > 0 else None
        if shrunk:
            report.removed[f"{name}.qkv+proj"] = shrunk
            report.skipped.pop(f"{name}.qkv", None)
            report.skipped.pop(f"{name}.proj", None)
    return report


def _part_of(layers, name: str) -> str:
    return next((layer.part for layer in layers if layer.name == name), "")
