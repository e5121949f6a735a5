"""Turning the ids a user typed into experiments, with usage errors (exit 2) for bad ones."""

from __future__ import annotations

from cli.console import UsageError
from store import AmbiguousId, ExperimentNotFound, Store, StoreError


def resolve(store: Store, ref: str) -> str:
    """Full id for an id, unique prefix (>= 4 chars) or exact name; a usage error otherwise."""
    try:
        return store.resolve_id(ref)
    except (ExperimentNotFound, AmbiguousId, StoreError, ValueError) as error:
        raise UsageError(str(error)) from None


def resolve_all(store: Store, refs: list[str]) -> list[str]:
    ids = [resolve(store, ref) for ref in refs]
    seen: set[str] = set()
    for ref, exp_id in zip(refs, ids, strict=True):
        if exp_id in seen:
            raise UsageError(f"'{ref}' names experiment {exp_id} twice; give each experiment once")
        seen.add(exp_id)
    return ids
