"""Turning what a user types (full id, id prefix, name) into one full id, like git does for commits."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .errors import AmbiguousId
from .values import MIN_PREFIX, is_full_id

_HEX = frozenset("0123456789abcdef")
_MAX_LISTED = 10


def resolve_ref(ref: str, docs: Iterable[dict[str, Any]], *, what: str, not_found: type[Exception]) -> str:
    """Return the id of the one document ``ref`` designates.

    ``ref`` matches a document by its full id, by a unique prefix of at least 4 hex characters of
    the id, or by its exact name. A full id wins outright; otherwise prefix and name matches are
    pooled and must be exactly one.

    Args:
        ref: what the user typed.
        docs: documents with ``id`` and ``name``.
        what: the record's noun for messages ("experiment", "study").
        not_found: the error class raised when nothing matches.

    Raises:
        not_found: nothing matches (the message says when a prefix was too short).
        AmbiguousId: several documents match; the message lists them.
    """
    if not isinstance(ref, str) or not ref.strip():
        raise not_found(f"no {what} matches {ref!r}")
    ref = ref.strip()
    docs = list(docs)
    if is_full_id(ref):
        for doc in docs:
            if doc.get("id") == ref:
                return ref
    looks_like_prefix = set(ref) <= _HEX
    by_prefix = looks_like_prefix and len(ref) >= MIN_PREFIX
    matches = [
        doc for doc in docs if (by_prefix and doc.get("id", "").startswith(ref)) or doc.get("name") == ref
    ]
    if len(matches) == 1:
        return matches[0]["id"]
    if not matches:
        if looks_like_prefix and len(ref) < MIN_PREFIX:
            raise not_found(f"no {what} matches '{ref}': an id prefix needs at least {MIN_PREFIX} characters")
        raise not_found(f"no {what} matches '{ref}'")
    plural = "studies" if what == "study" else f"{what}s"
    listed = ", ".join(f"{doc['id']} ({doc.get('name', '')})" for doc in matches[:_MAX_LISTED])
    more = f" and {len(matches) - _MAX_LISTED} more" if len(matches) > _MAX_LISTED else ""
    raise AmbiguousId(
        f"'{ref}' matches {len(matches)} {plural}: {listed}{more}; give more characters of the id",
        ref=ref,
        candidates=[doc["id"] for doc in matches],
    )
