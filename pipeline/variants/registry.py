"""One registry of variant kinds: kind -> spec dataclass, builder and declared dependencies.

Builders register themselves (`@register_kind`) in the modules that define them, as timm's model
families do; `pipeline.variants.catalog` loads them and answers questions about kinds; the config-level facts of a kind (its help, the settings it may set, the guard's advice)
live in `pipeline.config.variant_specs`, which the CLI and TUI read without torch.

A dependency says which other listed variant a kind reads a result of: a QAT variant reports how much
of PTQ's CER rise it won back, so it needs the PTQ variant that shares its plan settings. The registry
orders the variants so a dependency is built first and hands its result to the builder; nothing is
passed through a shared cache.

A kind may also have an import builder (`@register_import_builder`): how it is made from a foreign ONNX
model that `ocrq import` prepared (no torch model behind it). The kinds with one are the kinds an import
offers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipeline.config.variant_specs import VARIANT_KINDS
from pipeline.variants.specs import VariantSpec


@dataclass(frozen=True)
class Need:
    """A result a kind reads from another listed variant.

    Attributes:
        kind: The kind it needs.
        same: Settings the two must share for the result to apply.
    """

    kind: str
    same: tuple[str, ...] = ()


@dataclass(frozen=True)
class RegisteredKind:
    kind: str
    spec: type[VariantSpec]
    build: Callable[..., Any]
    needs: tuple[Need, ...] = ()

    @property
    def guard_advice(self) -> str:
        return VARIANT_KINDS[self.kind].guard_advice


_REGISTRY: dict[str, RegisteredKind] = {}


def register_kind(kind: str, spec: type[VariantSpec], *, needs: tuple[Need, ...] = ()):
    """Decorator: `build(ctx, spec, needed) -> Built` produces variants of `kind`."""
    if kind not in VARIANT_KINDS:
        raise ValueError(f"variant kind {kind!r} has no entry in pipeline.config.variant_specs.VARIANT_KINDS")

    def decorate(build: Callable[..., Any]) -> Callable[..., Any]:
        if kind in _REGISTRY:
            raise ValueError(f"variant kind {kind!r} is registered twice")
        _REGISTRY[kind] = RegisteredKind(kind, spec, build, needs)
        return build

    return decorate


_IMPORT_BUILDERS: dict[str, Callable[..., Any]] = {}


def register_import_builder(kind: str):
    """Decorator: `build(ctx, spec) -> Built` makes a variant of `kind` from an imported ONNX model."""
    if kind not in VARIANT_KINDS:
        raise ValueError(f"variant kind {kind!r} has no entry in pipeline.config.variant_specs.VARIANT_KINDS")

    def decorate(build: Callable[..., Any]) -> Callable[..., Any]:
        if kind in _IMPORT_BUILDERS:
            raise ValueError(f"variant kind {kind!r} has two import builders")
        _IMPORT_BUILDERS[kind] = build
        return build

    return decorate


def registered_import_builders() -> dict[str, Callable[..., Any]]:
    """Import builders registered so far, in VARIANT_KINDS order."""
    return {kind: _IMPORT_BUILDERS[kind] for kind in VARIANT_KINDS if kind in _IMPORT_BUILDERS}


def registered_kinds() -> dict[str, RegisteredKind]:
    """What has registered so far (`pipeline.variants.catalog` loads every builder first)."""
    return dict(_REGISTRY)
