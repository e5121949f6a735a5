"""Questions about the registered variant kinds, with every builder loaded: which builder and spec a
kind has, the typed specs of a config's `variants`, and the order to build them in."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.config import ConfigError
from pipeline.config.variant_specs import parse_variants
from pipeline.variants import (  # noqa: F401  (they register)
    build_basic,
    build_imported,
    build_mixed,
    build_pruned,
    build_torchao,
)
from pipeline.variants.registry import RegisteredKind, registered_import_builders, registered_kinds
from pipeline.variants.specs import VariantSpec, spec_for


def registered(kind: str) -> RegisteredKind:
    """The registered kind; ValueError naming the known kinds."""
    kinds = registered_kinds()
    if kind not in kinds:
        raise ValueError(f"variant kind {kind!r} is not known; allowed {', '.join(sorted(kinds))}")
    return kinds[kind]


def import_builders() -> dict:
    """Kind -> import builder, for every kind `ocrq import` can make (ort-fp32, the prepared graph, first)."""
    return registered_import_builders()


def import_kinds() -> tuple[str, ...]:
    """The variant kinds an import offers besides its prepared graph (ort-fp32, always built)."""
    return tuple(kind for kind in registered_import_builders() if kind != "ort-fp32")


def resolve_specs(config, *, include_fp32: bool = False) -> list[VariantSpec]:
    """The typed specs of `config.deploy.variants`, in the listed order (`fp32` left out unless asked)."""
    specs = []
    for entry in parse_variants(list(config.deploy.variants)):
        if entry.kind == "fp32" and not include_fp32:
            continue
        if entry.kind == "fp32":
            specs.append(VariantSpec(entry.name, "fp32"))
            continue
        specs.append(spec_for(registered(entry.kind).spec, entry, config))
    return specs


def spec_named(config, name: str) -> VariantSpec:
    """The spec of one listed variant."""
    for spec in resolve_specs(config):
        if spec.name == name:
            return spec
    raise ConfigError(f"variant {name!r} is not in variants={','.join(config.deploy.variants)}")


@dataclass(frozen=True)
class PlannedVariant:
    """A spec in build order with the names of the variants whose results it reads, by kind."""

    spec: VariantSpec
    needed: dict[str, str]


# ort-fp32 first (every ratio's baseline); torchao variants after the others, in the order earlier
# versions used, so a seeded experiment draws the same random numbers and gives the same figures.
_LEGACY_RANK = {"ort-fp32": 0, "ptq": 2, "qat": 3}


def build_order(specs: list[VariantSpec]) -> list[PlannedVariant]:
    """Each variant after the variants it needs (`ort-fp32` first), otherwise in the listed order."""
    matched: dict[str, dict[str, str]] = {}
    for spec in specs:
        links: dict[str, str] = {}
        for need in registered(spec.kind).needs:
            for other in specs:
                if other is not spec and other.kind == need.kind and spec.same_settings(other, need.same):
                    links[need.kind] = other.name
                    break
        matched[spec.name] = links
    ordered: list[VariantSpec] = []
    placed: set[str] = set()
    by_name = {spec.name: spec for spec in specs}

    def place(spec: VariantSpec, chain: tuple[str, ...]) -> None:
        if spec.name in placed:
            return
        if spec.name in chain:
            raise ValueError(f"variants {' -> '.join((*chain, spec.name))} need each other")
        for name in matched[spec.name].values():
            place(by_name[name], (*chain, spec.name))
        placed.add(spec.name)
        ordered.append(spec)

    for spec in sorted(specs, key=lambda s: _LEGACY_RANK.get(s.kind, 1)):
        place(spec, ())
    return [PlannedVariant(spec, matched[spec.name]) for spec in ordered]
