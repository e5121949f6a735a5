"""The entries of a config's `variants` list: which kinds exist, which settings each kind may set for
itself, and the one spelling every entry is stored in.

An entry is a kind (`ptq`), the older `kind:STRATEGY` spelling (`ptq:int4_weight_only`), a kind with its
own settings (`ptq(group_size=32)`, `pruned(pruning_ratio=0.5,name=half)`), or in a JSON file an object
(`{"kind": "ptq", "group_size": 32}`). Settings a variant does not set come from the experiment's
sections, so one experiment can compare `ptq(group_size=32)` and `ptq(group_size=128)` side by side.
Every entry is stored as its canonical text, which parses back to the same entry.

Torch-free: the CLI and the TUI validate variants with it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipeline.config.experiment import canonical_key, coerce_field
from pipeline.config.fields import FIELD_PARSERS, ConfigError
from pipeline.config.sections import QUANTIZATION_STRATEGIES

_STATIC_INT8 = (
    "quantization_granularity",
    "observer_type",
    "observer_momentum",
    "observer_percentile",
    "calibration_batches",
    "skip_first_last",
)
_TORCHAO = (
    "quantization_strategy",
    "weight_bits",
    "activation_bits",
    "quantization_granularity",
    "symmetric_quantization",
    "group_size",
    "skip_first_last",
    "conv_weight_bits",
    "mixed_precision",
    "observer_type",
    "observer_momentum",
    "observer_percentile",
    "calibration_batches",
)
_DISTILLATION = ("enable_distillation", "temperature_distillation", "distillation_weight")
_QAT = (
    *_TORCHAO,
    "quantization_aware_training",
    "qat_epochs",
    "qat_learning_rate_multiplier",
    "quantization_loss_weight",
    "progressive_stages",
    *_DISTILLATION,
)
_PRUNING = (
    "pruning_strategy",
    "pruning_ratio",
    "backbone_pruning_ratio",
    "neck_pruning_ratio",
    "decoder_pruning_ratio",
    "prune_criteria",
    "pruning_epoch",
    "finetune_epochs",
    "finetune_lr_multiplier",
    "min_acc_drop",
    "accuracy_first",
    *_DISTILLATION,
)


@dataclass(frozen=True)
class VariantKind:
    """One kind of variant.

    Attributes:
        name: The kind as written in `variants`.
        help: One line for `ocrq config fields` and the launch form.
        settings: Flat config fields a variant of this kind may set for itself.
        strategy_suffix: Whether `kind:STRATEGY` is accepted (the older spelling of quantization_strategy).
        guard_advice: The setting to change when the variant's CER rises over the budget.
    """

    name: str
    help: str
    settings: tuple[str, ...] = ()
    strategy_suffix: bool = False
    guard_advice: str = "choose a gentler setting"


VARIANT_KINDS: dict[str, VariantKind] = {
    kind.name: kind
    for kind in (
        VariantKind("fp32", "the trained FP32 model in PyTorch (always measured)"),
        VariantKind(
            "fp16",
            "FP16 weights and activations in PyTorch",
            guard_advice="deploy fp32 or bf16 for this model (fp16 overflowed or lost precision)",
        ),
        VariantKind(
            "bf16",
            "BF16 weights and activations in PyTorch",
            guard_advice="use fp16 (more mantissa bits) or fp32",
        ),
        VariantKind(
            "ort-fp32",
            "FP32 ONNX model in ONNX Runtime (the deployment baseline for ratios)",
            guard_advice="the export itself differs from torch: check onnx_opset",
        ),
        VariantKind(
            "ort-int8-dynamic",
            "ONNX Runtime dynamic int8 (weights int8, activations quantized at run time)",
            ("quantization_granularity", "skip_first_last"),
            guard_advice="set quantization_granularity=per_channel or skip_first_last=true",
        ),
        VariantKind(
            "ort-int8-static",
            "ONNX Runtime static QDQ int8, calibrated on text lines",
            _STATIC_INT8,
            guard_advice="raise calibration_batches, try observer_type=percentile or entropy, "
            "or set skip_first_last=true",
        ),
        VariantKind(
            "ort-int4-weight",
            "ONNX Runtime 4-bit weight-only MatMulNBits for MatMul weights",
            ("group_size", "symmetric_quantization", "activation_bits", "skip_first_last"),
            guard_advice="lower group_size (e.g. 32) or set symmetric_quantization=false",
        ),
        VariantKind(
            "ort-int8-mixed",
            "ONNX Runtime static int8 with the weight nodes whose quantization costs the most CER kept "
            "float (a per-node sensitivity scan on lines apart from calibration and measurement) until "
            "within accuracy_budget_pp",
            (*_STATIC_INT8, "accuracy_budget_pp"),
            guard_advice="raise calibration_batches, or lower this variant's accuracy_budget_pp so the scan "
            "keeps more nodes float",
        ),
        VariantKind(
            "ptq",
            "torchao post-training quantization with quantization_strategy",
            _TORCHAO,
            strategy_suffix=True,
            guard_advice="train it instead (variant qat, qat_epochs), lower group_size, or set skip_first_last=true",
        ),
        VariantKind(
            "qat",
            "torchao quantization-aware training with quantization_strategy (+ distillation)",
            _QAT,
            strategy_suffix=True,
            guard_advice="raise qat_epochs or distillation_weight, or lower qat_learning_rate_multiplier",
        ),
        VariantKind(
            "pruned",
            "pruning + finetune per the pruning settings, deployed as FP32 ONNX",
            _PRUNING,
            guard_advice="lower pruning_ratio, raise finetune_epochs (or tune finetune_lr_multiplier), "
            "or set accuracy_first=true with min_acc_drop",
        ),
        VariantKind(
            "pruned-int8",
            "pruning + finetune, then ONNX Runtime static int8",
            tuple(dict.fromkeys(_PRUNING + _STATIC_INT8)),
            guard_advice="lower pruning_ratio or raise finetune_epochs; if pruned alone is fine, "
            "raise calibration_batches",
        ),
        VariantKind(
            "mixed",
            "per-layer mixed precision chosen by a sensitivity scan",
            _TORCHAO,
            guard_advice="lower accuracy_budget_pp so the scan keeps more layers at 8 bits, "
            "or raise calibration_batches",
        ),
    )
}

_NAME_CHARS = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:+=,()\-]{0,79}$")


@dataclass(frozen=True)
class VariantEntry:
    """One parsed entry of `variants`.

    Attributes:
        name: Unique within the experiment; names the variant's row, files and events.
        kind: A key of `VARIANT_KINDS`.
        settings: The variant's own settings (flat field -> value), sorted by field.
    """

    name: str
    kind: str
    settings: tuple[tuple[str, Any], ...] = ()

    @property
    def overrides(self) -> dict[str, Any]:
        return dict(self.settings)

    def default_name(self) -> str:
        """The name the entry gets when it gives none."""
        if not self.settings:
            return self.kind
        if len(self.settings) == 1 and self.settings[0][0] == "quantization_strategy":
            if VARIANT_KINDS[self.kind].strategy_suffix:
                return f"{self.kind}:{self.settings[0][1]}"
        return f"{self.kind}({','.join(f'{key}={_text(value)}' for key, value in self.settings)})"

    def text(self) -> str:
        """The canonical spelling, stored in configs; `parse_variant(entry.text()) == entry`."""
        base = self.default_name()
        if self.name == base:
            return base
        inner = [f"{key}={_text(value)}" for key, value in self.settings] + [f"name={self.name}"]
        return f"{self.kind}({','.join(inner)})"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "+".join(str(item) for item in value)
    return str(value)


def split_variant_list(text: str) -> list[str]:
    """Split `a,b(x=1,y=2),c` on the commas outside parentheses."""
    items, depth, current = [], 0, []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise ConfigError(f"variants={text!r} has a ')' without its '('")
        if char == "," and depth == 0:
            items.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    if depth:
        raise ConfigError(f"variants={text!r} has a '(' without its ')'")
    items.append("".join(current).strip())
    return [item for item in items if item]


def parse_variant(raw: str | Mapping[str, Any]) -> VariantEntry:
    """Parse one entry (text or a JSON object); raise ConfigError naming what is allowed."""
    if isinstance(raw, Mapping):
        items = dict(raw)
        kind = items.pop("kind", None)
        if not isinstance(kind, str):
            raise ConfigError(
                f"variants: {dict(raw)!r} has no 'kind'; allowed kinds {', '.join(VARIANT_KINDS)}"
            )
        name = items.pop("name", None)
        return _entry(kind, None, items, name, from_text=False, shown=str(dict(raw)))
    if not isinstance(raw, str):
        raise ConfigError(
            f"variants: {raw!r} is not a variant; allowed a name such as ptq or ptq(group_size=32)"
        )
    text = raw.strip()
    settings: dict[str, Any] = {}
    name = None
    head = text
    if text.endswith(")") and "(" in text:
        head, _, inner = text[:-1].partition("(")
        for item in filter(None, (part.strip() for part in split_variant_list(inner))):
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise ConfigError(f"variants: '{text}' has '{item}' where key=value belongs")
            key = key.strip()
            if key in settings or (key == "name" and name is not None):
                raise ConfigError(f"variants: '{text}' sets {key} twice")
            if key == "name":
                name = value.strip()
            else:
                settings[key] = value.strip().replace("+", ",")
    elif "(" in text or ")" in text:
        raise ConfigError(f"variants: '{text}' is malformed; allowed kind or kind(setting=value,...)")
    kind, _, strategy = head.strip().partition(":")
    return _entry(kind, strategy or None, settings, name, from_text=True, shown=text)


def _entry(
    kind: str,
    strategy: str | None,
    raw_settings: Mapping[str, Any],
    name: Any,
    *,
    from_text: bool,
    shown: str,
) -> VariantEntry:
    if kind not in VARIANT_KINDS:
        raise ConfigError(f"variants: '{shown}' is not a known variant; allowed {', '.join(VARIANT_KINDS)}")
    spec = VARIANT_KINDS[kind]
    settings: dict[str, Any] = {}
    if strategy is not None:
        if not spec.strategy_suffix or strategy not in QUANTIZATION_STRATEGIES:
            raise ConfigError(
                f"variants: '{shown}' has an unknown strategy suffix; allowed ptq:/qat: with "
                f"{', '.join(QUANTIZATION_STRATEGIES)}"
            )
        settings["quantization_strategy"] = strategy
    for key, value in raw_settings.items():
        field = canonical_key(str(key))
        if field not in spec.settings:
            allowed = ", ".join(spec.settings) or "none"
            raise ConfigError(
                f"variants: '{shown}': {kind} does not take {field}; allowed settings: {allowed}"
            )
        if field in settings:
            raise ConfigError(f"variants: '{shown}' sets {field} twice")
        settings[field] = coerce_field(field, value, from_text=from_text)
    entry = VariantEntry("", kind, tuple(sorted(settings.items())))
    if name is None:
        return VariantEntry(entry.default_name(), kind, entry.settings)
    if not isinstance(name, str) or not _NAME_CHARS.match(name):
        raise ConfigError(
            f"variants: '{shown}' has name {name!r}; allowed up to 80 letters, digits and _ . : + = , ( ) -, "
            "starting with a letter or digit"
        )
    return VariantEntry(name, kind, entry.settings)


def parse_variant_list(raw: Any, *, from_text: bool) -> list[str]:
    """The `variants` field's value as canonical texts (`from_text`: one comma-separated CLI string)."""
    if from_text and isinstance(raw, str):
        items: list[Any] = split_variant_list(raw)
    elif isinstance(raw, list | tuple):
        items = list(raw)
    else:
        raise ConfigError(
            f"variants={raw!r} is not a list; allowed a list of variants (comma-separated on the CLI)"
        )
    return [entry.text() for entry in parse_variants(items)]


def parse_variants(texts: list[Any]) -> list[VariantEntry]:
    """Parse a `variants` list, refusing an empty list and two entries of one name or file stem."""
    if not texts:
        raise ConfigError("variants=[] is empty; allowed one or more of " + ", ".join(VARIANT_KINDS))
    entries = [parse_variant(text) for text in texts]
    texts = [entry.text() for entry in entries]
    seen: dict[str, str] = {}
    for entry in entries:
        stem = artifact_stem(entry.name)
        if stem in seen:
            if seen[stem] == entry.name:
                raise ConfigError(f"variants={','.join(texts)} lists variant {entry.name!r} twice")
            raise ConfigError(
                f"variants: {seen[stem]!r} and {entry.name!r} would share the file name {stem!r}; "
                "give one of them another name=..."
            )
        seen[stem] = entry.name
    return entries


def artifact_stem(name: str) -> str:
    """File-system-safe stem of a variant name (`ptq:int4_weight_only` -> `ptq-int4_weight_only`,
    `ptq(group_size=32)` -> `ptq-group_size-32`)."""
    stem = re.sub(r"[^A-Za-z0-9_.]+", "-", name).strip("-.")
    return stem or "variant"


FIELD_PARSERS["variants"] = lambda raw, from_text: parse_variant_list(raw, from_text=from_text)
