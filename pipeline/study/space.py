"""Search spaces: which compression settings a study varies, checked before anything runs.

A space maps a parameter to its distribution. `strategy` picks the variant kind (`ptq`, `qat`,
`pruned-int8`, ...); every other parameter is a config field that some variant kind may set for itself
(`group_size`, `qat_epochs`, `pruning_ratio`, ...). A trial's parameters become one typed variant entry,
`qat(qat_epochs=2,group_size=64)`, so a trial is an ordinary `ocrq run` with one variant.

A `--param-config` file is JSON: `{"strategy": ["ptq", "qat"], "group_size": {"choices": [32, 64]},
"qat_epochs": {"low": 1, "high": 3}, "qat_learning_rate_multiplier": {"low": 0.01, "high": 0.5, "log": true}}`.
A list is short for `{"choices": [...]}`. Torch-free: the CLI and the TUI check spaces with it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.config.experiment import canonical_key, coerce_field, field_info
from pipeline.config.fields import ConfigError
from pipeline.config.variant_specs import VARIANT_KINDS, VariantEntry, parse_variant

# Kinds a study may choose between: each one compresses the FP32 baseline into one deployable file.
SEARCHABLE_KINDS = (
    "ptq",
    "qat",
    "pruned",
    "pruned-int8",
    "ort-int8-static",
    "ort-int8-dynamic",
    "ort-int4-weight",
    "ort-int8-mixed",
    "mixed",
    "fp16",
    "bf16",
)
STRATEGY = "strategy"


@dataclass(frozen=True)
class Param:
    """One searched parameter.

    Attributes:
        name: `strategy` or a config field.
        choices: The values of a categorical parameter (None for a range).
        low, high: The bounds of an int/float range (inclusive).
        log: Sample the range on a log scale.
        step: Grid step of a range (int ranges default to 1).
        kind: `categorical`, `int` or `float`.
    """

    name: str
    kind: str
    choices: tuple[Any, ...] | None = None
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None

    def grid_values(self) -> list[Any]:
        """Every value a grid search visits; ConfigError for a float range without a step."""
        if self.choices is not None:
            return list(self.choices)
        if self.kind == "int":
            step = int(self.step or 1)
            return list(range(int(self.low), int(self.high) + 1, step))
        if self.step is None:
            raise ConfigError(
                f"search space: {self.name} is a float range without a step; allowed for grid_search: "
                "choices or low/high/step"
            )
        count = int(math.floor((self.high - self.low) / self.step + 1e-9)) + 1
        return [round(self.low + index * self.step, 10) for index in range(count)]

    def to_dict(self) -> dict[str, Any]:
        if self.choices is not None:
            return {"choices": list(self.choices)}
        out: dict[str, Any] = {"low": self.low, "high": self.high}
        if self.log:
            out["log"] = True
        if self.step is not None:
            out["step"] = self.step
        return out


@dataclass(frozen=True)
class SearchSpace:
    """The parameters of a study, `strategy` first."""

    params: tuple[Param, ...]

    def to_dict(self) -> dict[str, Any]:
        return {param.name: param.to_dict() for param in self.params}

    @property
    def kinds(self) -> tuple[str, ...]:
        strategy = self.get(STRATEGY)
        return tuple(strategy.choices) if strategy else ()

    def get(self, name: str) -> Param | None:
        return next((param for param in self.params if param.name == name), None)

    def applicable(self, kind: str) -> list[Param]:
        """The parameters (beside strategy) that a variant of `kind` takes."""
        return [p for p in self.params if p.name != STRATEGY and p.name in VARIANT_KINDS[kind].settings]

    def grid(self) -> dict[str, list[Any]]:
        """Optuna GridSampler's search space: every parameter with its values."""
        return {param.name: param.grid_values() for param in self.params}

    def grid_size(self) -> int:
        return math.prod(len(values) for values in self.grid().values())


def variant_for(kind: str, params: Mapping[str, Any]) -> VariantEntry:
    """The typed variant entry of a trial: its kind with the parameters that kind takes."""
    settings = {key: value for key, value in params.items() if key in VARIANT_KINDS[kind].settings}
    return parse_variant({"kind": kind, **settings})


def parse_space(raw: Any, *, source: str = "search space") -> SearchSpace:
    """Validate a space (a dict as read from JSON); raise ConfigError in one line naming what is allowed."""
    if not isinstance(raw, Mapping) or not raw:
        raise ConfigError(f"{source}: give a JSON object of parameter -> choices or range; got {raw!r}"[:300])
    params: list[Param] = []
    seen: set[str] = set()
    for key, spec in raw.items():
        name = STRATEGY if key in (STRATEGY, "kind", "variant") else _field_name(str(key), source)
        if name in seen:
            raise ConfigError(f"{source}: {key} is given twice")
        seen.add(name)
        params.append(_param(name, spec, source))
    if STRATEGY not in seen:
        raise ConfigError(
            f"{source}: no 'strategy'; allowed a list of variant kinds from {', '.join(SEARCHABLE_KINDS)}"
        )
    space = SearchSpace(tuple(sorted(params, key=lambda p: p.name != STRATEGY)))
    for param in space.params:
        if param.name != STRATEGY and not any(param.name in VARIANT_KINDS[k].settings for k in space.kinds):
            takers = [k for k in SEARCHABLE_KINDS if param.name in VARIANT_KINDS[k].settings]
            raise ConfigError(
                f"{source}: {param.name} is set by none of the strategies {', '.join(space.kinds)}; "
                f"allowed with {', '.join(takers) or 'no searchable kind'}"
            )
    return space


def read_space_file(path: str | Path) -> SearchSpace:
    """Read and validate a `--param-config` JSON file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"--param-config '{path}' is not a file; allowed a JSON file of parameter ranges")
    try:
        raw = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(f"--param-config '{path}' is not valid JSON ({error})") from None
    if isinstance(raw, Mapping) and isinstance(raw.get("search_space"), Mapping):
        raw = raw["search_space"]  # a study_config.json from an earlier study
    return parse_space(raw, source=f"--param-config {path.name}")


def _field_name(key: str, source: str) -> str:
    try:
        name = canonical_key(key)
    except ConfigError as error:
        raise ConfigError(f"{source}: {error}; allowed strategy or a variant setting") from None
    if not any(name in VARIANT_KINDS[kind].settings for kind in SEARCHABLE_KINDS):
        raise ConfigError(
            f"{source}: {key} is not a compression setting a variant can take; allowed strategy, "
            "quantization_strategy, group_size, qat_epochs, pruning_ratio, ... (`ocrq config fields`)"
        )
    return name


def _param(name: str, spec: Any, source: str) -> Param:
    if isinstance(spec, list | tuple):
        spec = {"choices": list(spec)}
    if not isinstance(spec, Mapping):
        raise ConfigError(
            f"{source}: {name}={spec!r} is not allowed; give a list of choices or {{low, high}}"
        )
    unknown = set(spec) - {"choices", "low", "high", "log", "step"}
    if unknown:
        raise ConfigError(
            f"{source}: {name} has {', '.join(sorted(unknown))}; allowed choices, low, high, log, step"
        )
    if "choices" in spec:
        if set(spec) - {"choices"}:
            raise ConfigError(f"{source}: {name} gives choices and a range; give one of them")
        choices = spec["choices"]
        if not isinstance(choices, list | tuple) or not choices:
            raise ConfigError(f"{source}: {name} has no choices; give at least one value")
        values = tuple(_check_value(name, value, source) for value in choices)
        if len(set(map(repr, values))) != len(values):
            raise ConfigError(f"{source}: {name} lists a choice twice")
        return Param(name, "categorical", choices=values)
    if name == STRATEGY:
        raise ConfigError(f"{source}: strategy needs choices; allowed {', '.join(SEARCHABLE_KINDS)}")
    if "low" not in spec or "high" not in spec:
        raise ConfigError(f"{source}: {name} needs choices or both low and high")
    info = field_info(name)
    allowed_choices = info.metadata.get("choices")
    if allowed_choices:
        raise ConfigError(
            f"{source}: {name} takes one of {', '.join(map(str, allowed_choices))}; give them as choices, not a range"
        )
    low, high = (_check_value(name, spec[bound], source) for bound in ("low", "high"))
    if isinstance(low, bool) or not isinstance(low, int | float):
        raise ConfigError(f"{source}: {name} is not numeric; give choices")
    if low > high:
        raise ConfigError(f"{source}: {name} has low {low} > high {high}; give low <= high")
    log = bool(spec.get("log", False))
    if log and low <= 0:
        raise ConfigError(f"{source}: {name} has log=true with low {low}; a log range needs low > 0")
    step = spec.get("step")
    if step is not None and (isinstance(step, bool) or not isinstance(step, int | float) or step <= 0):
        raise ConfigError(f"{source}: {name} has step {step!r}; allowed a number > 0")
    kind = "int" if isinstance(low, int) and isinstance(high, int) else "float"
    return Param(name, kind, low=low, high=high, log=log, step=step)


def _check_value(name: str, value: Any, source: str) -> Any:
    """A value the config accepts for `name` (the kind for `strategy`), coerced to the field's type."""
    if name == STRATEGY:
        if value not in SEARCHABLE_KINDS:
            raise ConfigError(
                f"{source}: strategy {value!r} is not allowed; allowed {', '.join(SEARCHABLE_KINDS)}"
            )
        return value
    try:
        coerced = coerce_field(name, value, from_text=isinstance(value, str))
    except ConfigError as error:
        raise ConfigError(f"{source}: {error}") from None
    meta = field_info(name).metadata
    choices, low, high = meta.get("choices"), meta.get("low"), meta.get("high")
    if choices and coerced not in choices:
        raise ConfigError(
            f"{source}: {name}={value!r} is not allowed; allowed {', '.join(map(str, choices))}"
        )
    if isinstance(coerced, int | float) and not isinstance(coerced, bool):
        if (low is not None and coerced < low) or (high is not None and coerced > high):
            raise ConfigError(f"{source}: {name}={value!r} is out of range; allowed {low}..{high}")
    return coerced


def default_space(template: str, model: str) -> SearchSpace:
    """A space that makes sense on the template's model and budget (a dry run keeps every epoch count at 1)."""
    small = template in ("smoke", "quickstart") or model.startswith("crnn")
    kinds = ["ptq", "qat", "pruned-int8", "ort-int8-static", "ort-int8-dynamic"]
    if not model.startswith("crnn"):
        kinds.append("ort-int4-weight")  # MatMulNBits pays off on transformer MatMuls, not a BiLSTM
    epochs_high = 1 if template == "smoke" else (2 if small else 8)
    raw: dict[str, Any] = {
        "strategy": kinds,
        "quantization_strategy": ["int8_dyn_act_int8_weight", "int8_dyn_act_int4_weight", "int8_weight_only"],
        "group_size": [32, 64, 128],
        "observer_type": ["min_max", "percentile"],
        "calibration_batches": [2, 4] if small else [16, 64],
        "qat_epochs": {"low": 1, "high": epochs_high},
        "qat_learning_rate_multiplier": {"low": 0.03, "high": 0.5, "log": True},
        "distillation_weight": {"low": 0.0, "high": 0.8, "step": 0.1},
        # Harder cuts do not pay on a CRNN: on one quickstart baseline (FP32 9.21% test CER) half the BiLSTM
        # (the template's) scored 0.8902 balanced (+0.25 pp, 6.28x smaller, 2.62x faster), 60% 0.8895 (+1.17 pp,
        # 6.97x, 2.70x) and 70% 0.8765 (+2.28 pp, 7.65x, 2.43x): the convs' weights and time stay put.
        "pruning_ratio": {"low": 0.2, "high": 0.6, "step": 0.1},
        "backbone_pruning_ratio": {"low": 0.0, "high": 0.3, "step": 0.1},
        # How long and how hard the finetune after a cut trains decides how much of the lost accuracy comes
        # back: on quickstart's baseline (stopped by its time budget, not converged), 3 epochs at lr x 1.0
        # recovered to FP32 test CER while x 0.3 (the field's default) stayed 1.1 pp above it; better-trained
        # baselines need 5-6 epochs. The epochs (and the distillation weight above) hold the template's value
        # inside, not at an edge, so a study can finetune longer than the template; x 1.0 is the field's own
        # ceiling (never above the baseline's lr).
        # cpu_long's template finetunes 7 epochs: its space goes past that, as quickstart's goes past 5
        "finetune_epochs": {
            "low": 1,
            "high": 1 if template == "smoke" else (7 if small and template != "cpu_long" else 10),
        },
        "finetune_lr_multiplier": {"low": 0.1, "high": 1.0, "log": True},
    }
    return parse_space(raw, source=f"default space of {template}")


def default_import_space(*, has_matmul: bool) -> SearchSpace:
    """The space of a study over an imported ONNX model: ONNX Runtime's kinds and how they calibrate.

    An import's calibration lines are fixed when it is imported, so the space varies how ranges are taken
    from them (the observer), the weight granularity, the first and last layers, the mixed
    variant's budget and, where the model has MatMuls, the 4-bit block size."""
    kinds = ["ort-int8-static", "ort-int8-mixed", "ort-int8-dynamic"]
    raw: dict[str, Any] = {
        "strategy": kinds + (["ort-int4-weight"] if has_matmul else []),
        "observer_type": ["min_max", "percentile", "entropy", "moving_average"],
        "quantization_granularity": ["per_channel", "per_tensor"],
        "skip_first_last": [False, True],
        "accuracy_budget_pp": {"low": 0.05, "high": 0.5, "step": 0.05},
    }
    if has_matmul:
        raw["group_size"] = [32, 64, 128]
    return parse_space(raw, source="default space of an import")
