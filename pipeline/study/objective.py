"""What a study optimizes: the seed's weighted targets (one score to maximize) or, for NSGA-II, three
objectives (CER, size, latency) whose trade-offs form a Pareto front.

Scores are built from a trial's variant row against the FP32 baseline of the same experiment:
accuracy retention `(1 - cer) / (1 - fp32_cer)` (capped at 1), compression `1 - 1/compression_ratio`
(4x smaller -> 0.75) and speed `1 - 1/speedup` (2x faster -> 0.5, slower -> negative, floor -1).
`min_accuracy_threshold` is a constraint on the retention, not a weight: a trial under it is infeasible
(Optuna's `constraints_func` for TPE and NSGA-II, and never reported as best).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.config.study_options import METHOD_ALIASES, METHODS, TARGET_WEIGHTS

__all__ = ["METHODS", "METHOD_ALIASES", "TARGET_WEIGHTS", "Objective", "TrialMetrics"]

# NSGA-II's objectives, each with its direction.
MULTI_OBJECTIVES = (("cer", "minimize"), ("size_mb", "minimize"), ("latency_ms", "minimize"))


@dataclass(frozen=True)
class TrialMetrics:
    """The figures a trial's objective is computed from."""

    cer: float
    fp32_cer: float
    compression_ratio: float | None
    speedup: float | None
    size_bytes: int | None
    latency_ms: float | None

    @classmethod
    def from_rows(cls, row: dict[str, Any], fp32_row: dict[str, Any]) -> TrialMetrics:
        return cls(
            cer=float(row["cer"]),
            fp32_cer=float(fp32_row["cer"]),
            compression_ratio=row.get("compression_ratio"),
            speedup=row.get("speedup"),
            size_bytes=row.get("size_bytes"),
            latency_ms=row.get("latency_ms_p50"),
        )

    @property
    def accuracy_retention(self) -> float:
        if self.fp32_cer >= 1.0:  # a baseline that reads nothing: only "no worse" counts
            return 1.0 if self.cer <= self.fp32_cer else 0.0
        return max(0.0, min(1.0, (1.0 - self.cer) / (1.0 - self.fp32_cer)))

    @property
    def compression_score(self) -> float:
        ratio = self.compression_ratio or 1.0
        return max(0.0, min(1.0, 1.0 - 1.0 / ratio))

    @property
    def speed_score(self) -> float:
        speedup = self.speedup or 1.0
        return max(-1.0, min(1.0, 1.0 - 1.0 / speedup))


@dataclass(frozen=True)
class Objective:
    """A study's objective: a weighted target, or the three NSGA-II objectives when `multi`."""

    target: str = "balanced"
    min_accuracy_threshold: float = 0.0
    multi: bool = False

    def __post_init__(self) -> None:
        if self.target not in TARGET_WEIGHTS:
            raise ValueError(
                f"optimization_target={self.target!r} is not known; allowed {', '.join(TARGET_WEIGHTS)}"
            )
        if not 0.0 <= self.min_accuracy_threshold <= 1.0:
            raise ValueError(
                f"min_accuracy_threshold={self.min_accuracy_threshold} is out of range; allowed 0..1 "
                "(share of the FP32 accuracy a trial must keep)"
            )

    @property
    def names(self) -> list[str]:
        return [name for name, _ in MULTI_OBJECTIVES] if self.multi else [f"{self.target}_score"]

    @property
    def directions(self) -> list[str]:
        return [direction for _, direction in MULTI_OBJECTIVES] if self.multi else ["maximize"]

    def score(self, metrics: TrialMetrics) -> float:
        """The weighted score of the target (higher is better)."""
        accuracy, compression, speed = TARGET_WEIGHTS[self.target]
        return (
            accuracy * metrics.accuracy_retention
            + compression * metrics.compression_score
            + speed * metrics.speed_score
        )

    def values(self, metrics: TrialMetrics) -> list[float]:
        """What the trial tells Optuna."""
        if not self.multi:
            return [self.score(metrics)]
        return [
            metrics.cer,
            (metrics.size_bytes or 0) / 1e6,
            metrics.latency_ms if metrics.latency_ms is not None else float("inf"),
        ]

    def constraint(self, metrics: TrialMetrics) -> float:
        """<= 0 when the trial keeps enough accuracy (Optuna's constraint convention)."""
        return self.min_accuracy_threshold - metrics.accuracy_retention

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "weights": dict(
                zip(("accuracy", "compression", "speed"), TARGET_WEIGHTS[self.target], strict=True)
            ),
            "min_accuracy_threshold": self.min_accuracy_threshold,
            "multi_objective": self.multi,
            "objectives": self.names,
            "directions": self.directions,
        }
