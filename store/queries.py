"""Filtering and sorting experiment summaries for listings."""

from __future__ import annotations

from typing import Any

from .files import encode_json

TEXT_FIELDS = ("id", "name", "template", "model", "note")


def matches(
    doc: dict[str, Any],
    *,
    template: str | None,
    tag: str | None,
    text: str | None,
    include_deleted: bool,
    study_id: str | None,
) -> bool:
    """Whether a summary passes the listing filters (the status filter is applied after derivation)."""
    if doc.get("deleted") and not include_deleted:
        return False
    if template is not None and doc.get("template") != template:
        return False
    if tag is not None and tag not in (doc.get("tags") or []):
        return False
    if study_id is not None and doc.get("study_id") != study_id:
        return False
    if text:
        haystack = " ".join(str(doc.get(field) or "") for field in TEXT_FIELDS)
        haystack += " " + " ".join(doc.get("tags") or [])
        if text.lower() not in haystack.lower():
            return False
    return True


def _sort_key(value: Any) -> tuple[int, Any]:
    """Order mixed values: numbers, then text, then anything else as its JSON text."""
    if isinstance(value, bool | int | float):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    return (2, encode_json(value))


def sort_summaries(docs: list[dict[str, Any]], field: str, *, descending: bool) -> list[dict[str, Any]]:
    """Sort by ``field``; documents where it is ``None`` or absent come last in either direction.

    Ties keep store order ascending and reverse store order descending, so "newest first" holds
    even for experiments created within the same millisecond.
    """
    ordered = docs[::-1] if descending else docs
    present = [doc for doc in ordered if doc.get(field) is not None]
    missing = [doc for doc in ordered if doc.get(field) is None]
    kinds = {type(doc[field]) for doc in present}
    if kinds <= {int, float} or kinds == {str}:  # the usual case, without the mixed-type key
        present.sort(key=lambda doc: doc[field], reverse=descending)
    else:
        present.sort(key=lambda doc: _sort_key(doc[field]), reverse=descending)
    return present + missing
