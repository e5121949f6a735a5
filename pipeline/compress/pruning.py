"""Pruning with `torch.nn.utils.prune`: unstructured (l1, random) and structured (l1 / ln over output
channels), a global ratio or one per part (backbone / neck / decoder = head), criteria l1, l2 or grad.

Unstructured pruning keeps dense shapes (zeros on disk): masks stay attached during finetuning and
are made permanent after. Structured pruning masks whole output channels, then removes them for real
(`pipeline.compress.shrink`), so the deployed model has smaller tensors and runs faster.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils import prune

from pipeline.models.layers import weight_layers

STRUCTURED = ("l1_structured", "ln_structured")
UNSTRUCTURED = ("l1_unstructured", "random_unstructured")


@dataclass(frozen=True)
class PruningSpec:
    """What to prune and how much.

    Attributes:
        strategy: l1_unstructured, random_unstructured, l1_structured or ln_structured.
        ratios: Part (backbone, neck, head) -> share of weights (unstructured) or channels (structured).
        criterion: l1, l2 or grad (|weight x gradient|) importance.
        global_ranking: Rank unstructured weights across all layers at once (one global ratio).
    """

    strategy: str
    ratios: dict[str, float]
    criterion: str = "l1"
    global_ranking: bool = False

    def __post_init__(self) -> None:
        if self.strategy not in STRUCTURED + UNSTRUCTURED:
            raise ValueError(
                f"pruning_strategy={self.strategy!r} is not supported; allowed {', '.join(STRUCTURED + UNSTRUCTURED)}"
            )
        for part, ratio in self.ratios.items():
            if not 0.0 <= ratio < 1.0:
                raise ValueError(f"pruning ratio for {part}={ratio} is out of range; allowed 0 <= ratio < 1")
        if self.criterion not in ("l1", "l2", "grad"):
            raise ValueError(f"prune_criteria={self.criterion!r} is not supported; allowed l1, l2, grad")

    @property
    def structured(self) -> bool:
        return self.strategy in STRUCTURED

    @property
    def norm(self) -> int:
        """The L-norm ranking channels: l1_structured always L1; ln_structured L2 unless the criterion is l1."""
        return 1 if self.strategy == "l1_structured" or self.criterion == "l1" else 2

    def scaled(self, factor: float) -> PruningSpec:
        return PruningSpec(
            self.strategy,
            {p: r * factor for p, r in self.ratios.items()},
            self.criterion,
            self.global_ranking,
        )

    def with_ratio(self, ratio: float) -> PruningSpec:
        return PruningSpec(
            self.strategy, {p: ratio for p in self.ratios}, self.criterion, self.global_ranking
        )


def spec_from_config(pruning) -> PruningSpec:
    """Per-part ratios from PruningConfig (each part falls back to `pruning_ratio`)."""
    ratio = pruning.pruning_ratio
    ratios = {
        "backbone": pruning.backbone_pruning_ratio if pruning.backbone_pruning_ratio is not None else ratio,
        "neck": pruning.neck_pruning_ratio if pruning.neck_pruning_ratio is not None else ratio,
        "head": pruning.decoder_pruning_ratio if pruning.decoder_pruning_ratio is not None else ratio,
    }
    per_part = any(
        v is not None
        for v in (pruning.backbone_pruning_ratio, pruning.neck_pruning_ratio, pruning.decoder_pruning_ratio)
    )
    return PruningSpec(pruning.pruning_strategy, ratios, pruning.prune_criteria, global_ranking=not per_part)


def weight_parameters(model: nn.Module) -> list[tuple[nn.Module, str, str]]:
    """(module, parameter name, part) of every conv/linear weight and LSTM weight matrix."""
    found = []
    for layer in weight_layers(model):
        module = model.get_submodule(layer.name)
        if layer.kind == "lstm":
            # a pruned LSTM weight lives on as `<name>_orig` (the mask is applied in a forward pre-hook)
            names = [
                n.removesuffix("_orig")
                for n, _ in module.named_parameters(recurse=False)
                if n.startswith("weight")
            ]
            found.extend((module, n, layer.part) for n in dict.fromkeys(names))
        else:
            found.append((module, "weight", layer.part))
    return found


def gradient_importance(model: nn.Module, batches: Iterable, loss_fn) -> dict[int, torch.Tensor]:
    """Accumulated |weight x gradient| per weight tensor (keyed by id of the parameter) over `batches`."""
    model.train()
    params = {id(getattr(m, n)): getattr(m, n) for m, n, _ in weight_parameters(model)}
    scores = {key: torch.zeros_like(p) for key, p in params.items()}
    for batch in batches:
        model.zero_grad(set_to_none=True)
        loss_fn(model, batch).backward()
        for key, parameter in params.items():
            if parameter.grad is not None:
                scores[key] += (parameter.detach() * parameter.grad.detach()).abs()
    model.zero_grad(set_to_none=True)
    model.eval()
    return scores


def apply_unstructured(
    model: nn.Module, spec: PruningSpec, grad_scores: dict[int, torch.Tensor] | None = None
) -> None:
    """Attach unstructured masks (`torch.nn.utils.prune`); weights read as weight_orig * weight_mask."""
    targets = [(m, n, part) for m, n, part in weight_parameters(model) if spec.ratios.get(part, 0) > 0]
    if not targets:
        return
    if spec.criterion == "grad" and grad_scores is None:
        raise ValueError("prune_criteria=grad needs gradient scores; none were computed")
    if spec.strategy == "random_unstructured":
        for module, name, part in targets:
            prune.random_unstructured(module, name, amount=spec.ratios[part])
        return
    if spec.criterion == "grad":
        for module, name, part in targets:
            score = grad_scores[id(getattr(module, name))]
            count = int(round(score.numel() * spec.ratios[part]))
            mask = torch.ones_like(score)
            if count:
                mask.view(-1)[torch.argsort(score.view(-1))[:count]] = 0
            prune.custom_from_mask(module, name, mask)
        return
    if spec.global_ranking:
        ratio = next(iter(spec.ratios.values()))
        prune.global_unstructured(
            [(m, n) for m, n, _ in targets], pruning_method=prune.L1Unstructured, amount=ratio
        )
        return
    for module, name, part in targets:
        prune.l1_unstructured(module, name, amount=spec.ratios[part])


def make_permanent(model: nn.Module) -> int:
    """Fold every pruning mask into its weight (`prune.remove`). Returns how many masks were folded."""
    folded = 0
    for module in model.modules():
        for name in [
            n[: -len("_mask")] for n, _ in list(module.named_buffers(recurse=False)) if n.endswith("_mask")
        ]:
            prune.remove(module, name)
            folded += 1
    return folded


def weight_sparsity(model: nn.Module) -> float:
    """Share of exact zeros among conv/linear/LSTM weights."""
    total = zeros = 0
    for module, name, _ in weight_parameters(model):
        weight = getattr(module, name).detach()
        total += weight.numel()
        zeros += int((weight == 0).sum())
    return zeros / total if total else 0.0


def channel_scores(weight: torch.Tensor, norm: int, grad_score: torch.Tensor | None = None) -> torch.Tensor:
    """Importance of each output channel (row) of a conv/linear weight."""
    if grad_score is not None:
        return grad_score.reshape(weight.shape[0], -1).sum(dim=1)
    return weight.detach().reshape(weight.shape[0], -1).norm(p=norm, dim=1)


def structured_mask(
    module: nn.Module, ratio: float, norm: int, grad_score: torch.Tensor | None = None
) -> list[int]:
    """Mask the lowest-importance output channels with `prune.ln_structured` (or a gradient mask), fold the
    mask, and return the pruned channel indices (at least one channel is always kept)."""
    channels = module.weight.shape[0]
    count = min(channels - 1, int(round(channels * ratio)))
    if count <= 0:
        return []
    if grad_score is None:
        prune.ln_structured(module, "weight", amount=count, n=norm, dim=0)
    else:
        scores = channel_scores(module.weight, norm, grad_score)
        mask = torch.ones_like(module.weight)
        mask[torch.argsort(scores)[:count]] = 0
        prune.custom_from_mask(module, "weight", mask)
    kept_rows = module.weight_mask.reshape(channels, -1).sum(dim=1)
    prune.remove(module, "weight")
    return [int(i) for i in torch.nonzero(kept_rows == 0).flatten()]


@torch.no_grad()
def recalibrate_batchnorm(model: nn.Module, batches: Iterable) -> int:
    """Re-estimate batch-norm statistics on `batches` (a cumulative average, not a moving one).

    Removing channels shifts what every later layer sees; fresh statistics take much of that shock out
    before finetuning starts. Returns the number of batch norms updated.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return 0
    momenta = [m.momentum for m in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None
    was_training = model.training
    model.train()
    device = next(model.parameters()).device
    for batch in batches:
        model(batch.images.to(device))
    model.train(was_training)
    for norm, momentum in zip(norms, momenta, strict=True):
        norm.momentum = momentum
    return len(norms)
