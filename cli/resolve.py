"""Turning the ids a user typed into experiments, with usage errors (exit 2) for bad ones."""

from __future__ import annotations

from cli.console import UsageError
from store import AmbiguousId, ExperimentNotFound, Store


def resolve(store: Store, ref: str) -> str:
    """Full id for an id, unique prefix (>= 4 chars) or exact name; a usage error otherwise.

    A damaged store is not the user's typo: its StoreError goes on to `main` (exit 1, `ocrq doctor`).
    """
    try:
        return store.resolve_id(ref)
    except (ExperimentNotFound, AmbiguousId, ValueError) as error:
        raise UsageError(str(error)) from None


def resolve_all(store: Store, refs: list[str]) -> list[str]:
    ids = [resolve(store, ref) for ref in refs]
    seen: set[str] = set()
    for ref, exp_id in zip(refs, ids, strict=True):
        if exp_id in seen:
            raise UsageError(f"'{ref}' names experiment {exp_id} twice; give each experiment once")
        seen.add(exp_id)
    return ids
