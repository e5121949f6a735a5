"""The mixed-precision stopping rule: costliest nodes float first, until within budget, never under the
size floor, and back to plain int8 when keeping nodes float did not help. The quantizer and the scorer
are the caller's (ONNX Runtime and predictions in the builders); here they are small deterministic
stand-ins, so the rule itself is what is checked."""

from __future__ import annotations

from pathlib import Path

from pipeline.variants.mixed_sensitivity import keep_float_by_sensitivity

# (name, op, weights); CER cost in pp of each node when it alone is int8
NODES = [("a", "Conv", 100), ("b", "Conv", 100), ("big", "MatMul", 1000), ("c", "Conv", 100)]
COST = {"a": 0.05, "b": 0.6, "big": 0.9, "c": 0.0}


def _run(tmp_path: Path, *, budget: float, min_ratio: float, baseline_bytes: int = 10_000, cost=COST):
    """Files whose size says how many weights are int8; a model's CER rise is the sum of its int8 nodes'."""
    int8: dict[Path, set[str]] = {}
    calls: list[list[str]] = []

    def quantize(exclude: list[str], target: Path) -> Path:
        calls.append(list(exclude))
        quantized = {name for name, _, _ in NODES if name not in exclude}
        floats = sum(params for name, _, params in NODES if name in exclude)
        target.write_bytes(b"\0" * (sum(p for n, _, p in NODES if n in quantized) + 4 * floats + 10))
        int8[target] = quantized
        return target

    def score(path: Path) -> tuple[float, float]:
        rise = sum(cost[name] for name in int8[path])
        return rise, rise / 10

    messages: list[str] = []
    plan = keep_float_by_sensitivity(
        NODES,
        quantize,
        score,
        target=tmp_path / "mixed.onnx",
        probe=tmp_path / "probe.onnx",
        budget_pp=budget,
        baseline_bytes=baseline_bytes,
        min_ratio=min_ratio,
        log=messages.append,
    )
    return plan, calls, messages


def test_costliest_nodes_stay_float_until_within_budget(tmp_path):
    plan, calls, _ = _run(tmp_path, budget=0.1, min_ratio=1.0)
    # each node was scored alone (every other node excluded), then the whole model
    assert calls[:4] == [["b", "big", "c"], ["a", "big", "c"], ["a", "b", "c"], ["a", "b", "big"]]
    assert [c.node for c in plan.costs] == ["big", "b", "a", "c"]
    assert plan.float_nodes == ["big", "b"] and plan.within_budget
    assert [s["float_nodes"] for s in plan.steps] == [0, 1, 2]
    assert abs(plan.steps[-1]["cer_pp"] - 0.05) < 1e-9
    kept = {c.node: c.kept_float for c in plan.costs}
    assert kept == {"big": True, "b": True, "a": False, "c": False}
    assert not (tmp_path / "probe.onnx").exists()


def test_a_node_that_would_break_the_size_floor_stays_int8(tmp_path):
    # int8 file 1310 bytes; keeping `big` float adds 3000 -> 10000 / 4310 = 2.3x, under the 3x floor
    plan, _, messages = _run(tmp_path, budget=0.1, min_ratio=3.0)
    by_node = {c.node: c for c in plan.costs}
    assert not by_node["big"].kept_float and "under 3x smaller" in by_node["big"].reason
    # `c` costs nothing: trying it float did not lower the CER, so it stays int8
    assert plan.float_nodes == ["b", "a"] and "did not lower" in by_node["c"].reason
    assert not plan.within_budget  # big's 0.9 pp cannot be won back within the floor
    assert "over the 0.1 pp budget" in messages[-1]
    assert 10_000 / (tmp_path / "mixed.onnx").stat().st_size >= 3.0


def test_plain_int8_within_budget_keeps_nothing_float(tmp_path):
    plan, _, _ = _run(tmp_path, budget=5.0, min_ratio=3.0)
    assert plan.float_nodes == [] and plan.within_budget and len(plan.steps) == 1
    assert len(plan.report()["nodes"]) == 4  # every node's cost is still reported


def test_a_float_node_that_does_not_help_is_given_back(tmp_path):
    # quantizing `a` alone looks costly, but with it float the whole model is no better on these lines
    misleading = {"a": 0.0, "b": 0.0, "big": 0.5, "c": 0.0}
    plan, calls, _ = _run(tmp_path, budget=0.1, min_ratio=1.0, cost=misleading)
    assert plan.float_nodes == ["big"] and plan.within_budget  # it helps: 0.5 -> 0.0
    worse = {"a": -0.3, "b": 0.0, "big": 0.0, "c": 0.0}
    plan, calls, _ = _run(tmp_path, budget=-1.0, min_ratio=1.0, cost=worse)
    assert plan.float_nodes == [] and calls[-1] == []  # the file left behind is plain int8 again
    assert all(not c.kept_float for c in plan.costs)
