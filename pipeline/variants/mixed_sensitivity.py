"""Mixed precision by sensitivity for an ONNX model: which weight nodes stay float in a static int8 file.

Each candidate node is quantized alone (every other node float) and scored on the sensitivity lines: its
CER cost in pp against FP32 and the KL divergence of its outputs (which orders nodes of equal CER cost,
as a few lines often give several nodes a cost of 0). Then the costliest nodes are tried in float one at a
time, each time re-quantizing and re-scoring the whole model, until its CER rise on the sensitivity lines
is within the budget; a node stays float only if that lowered the CER (or kept it and brought the outputs
closer), and a node whose float weights would take the file under `min_ratio` times smaller than the
baseline is passed over. Each node's decision and reason is reported. The measurement lines are never used here, so the
variant's measured CER is an honest check of the choice.

The caller supplies `quantize(exclude, target)` and `score(path) -> (cer_pp, kl)`, so one algorithm serves
an imported model and an ocrq-trained one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

MAX_FLOAT_NODES = 12  # the scan stops after this many float nodes even if still over budget
MAX_TRIALS = 16  # and after this many whole-model trials


@dataclass
class NodeCost:
    """One node's sensitivity and what was decided for it.

    Attributes:
        node: The graph node's name.
        op: Its op type.
        params: Weights it holds.
        cer_pp: CER rise on the sensitivity lines when this node alone is int8 (pp).
        output_error: KL divergence of the outputs from FP32 with this node alone int8.
        kept_float: Whether the variant keeps it float.
        reason: Why it was kept float or left int8.
    """

    node: str
    op: str
    params: int
    cer_pp: float
    output_error: float
    kept_float: bool = False
    reason: str = "int8"


@dataclass
class MixedPlan:
    float_nodes: list[str]
    costs: list[NodeCost]
    steps: list[dict[str, Any]]
    within_budget: bool

    def report(self, **context: Any) -> dict[str, Any]:
        """The JSON stored in the variant's row (`sensitivity`) and printed by `ocrq show`."""
        return {
            **context,
            "nodes": [asdict(c) for c in self.costs],
            "steps": self.steps,
            "float_nodes": self.float_nodes,
            "within_budget": self.within_budget,
        }


def keep_float_by_sensitivity(
    candidates: list[tuple[str, str, int]],
    quantize: Callable[[list[str], Path], Path],
    score: Callable[[Path], tuple[float, float]],
    *,
    target: Path,
    probe: Path,
    budget_pp: float,
    baseline_bytes: int,
    min_ratio: float,
    log: Callable[[str], None],
    max_float: int = MAX_FLOAT_NODES,
    max_trials: int = MAX_TRIALS,
) -> MixedPlan:
    """Choose the float nodes of `candidates` ((name, op, params) of each weight node) and leave the
    final model at `target`."""
    names = [name for name, _, _ in candidates]
    costs: list[NodeCost] = []
    for index, (name, op, params) in enumerate(candidates):
        quantize([n for n in names if n != name], probe)
        cer_pp, error = score(probe)
        costs.append(NodeCost(name, op, params, cer_pp, error))
        if (index + 1) % 10 == 0 or index + 1 == len(candidates):
            log(f"sensitivity: {index + 1}/{len(candidates)} nodes measured")
    probe.unlink(missing_ok=True)
    costs.sort(key=lambda c: (-c.cer_pp, -c.output_error))
    float_nodes: list[str] = []
    float_params = 0
    quantize([], target)
    int8_bytes = target.stat().st_size
    cer_pp, error = score(target)
    steps = [{"float_nodes": 0, "tried": None, "cer_pp": cer_pp, "output_error": error, "bytes": int8_bytes}]
    written = list(float_nodes)  # the float nodes of the file now at `target`
    for node in costs:
        if cer_pp <= budget_pp or len(float_nodes) >= max_float or len(steps) > max_trials:
            break
        # a float node's weights take 4 bytes instead of 1
        if baseline_bytes / (int8_bytes + 3 * (float_params + node.params)) < min_ratio:
            node.reason = f"int8: float would take the file under {min_ratio:g}x smaller"
            continue
        trial = [*float_nodes, node.node]
        quantize(trial, target)
        written = trial
        trial_cer, trial_error = score(target)
        steps.append(
            {
                "float_nodes": len(trial),
                "tried": node.node,
                "cer_pp": trial_cer,
                "output_error": trial_error,
                "bytes": target.stat().st_size,
            }
        )
        if (trial_cer, trial_error) < (cer_pp, error):  # lower CER, or the same CER and closer outputs
            float_nodes, cer_pp, error = trial, trial_cer, trial_error
            float_params += node.params
            node.kept_float, node.reason = True, "float: among the costliest, and it lowered the CER"
        else:
            node.reason = "int8: keeping it float did not lower the CER"
    if written != float_nodes:
        quantize(float_nodes, target)
    within = cer_pp <= budget_pp
    log(
        f"mixed precision: {len(float_nodes)} float node(s) ({', '.join(float_nodes) or 'none'}), "
        f"{cer_pp:+.2f} pp on the sensitivity lines ({'within' if within else 'over'} the {budget_pp} pp budget)"
    )
    return MixedPlan(float_nodes, costs, steps, within)
