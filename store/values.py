"""Small value helpers: ids, timestamps and the conversion of user values to JSON-native ones."""

from __future__ import annotations

import math
import os
import re
import secrets
from datetime import UTC, datetime
from typing import Any

ID_LENGTH = 12
MIN_PREFIX = 4
_ID_RE = re.compile(r"[0-9a-f]{12}")


def new_id() -> str:
    """Return a fresh random id: 12 lowercase hex characters."""
    return secrets.token_hex(ID_LENGTH // 2)


def is_full_id(value: object) -> bool:
    """Whether ``value`` is a well-formed full id (safe to join into a path)."""
    return isinstance(value, str) and _ID_RE.fullmatch(value) is not None


def check_id(value: object, field: str = "id") -> str:
    """Return ``value`` when it is a well-formed id, else raise ``ValueError`` naming the field."""
    if not is_full_id(value):
        raise ValueError(
            f"{field}={value!r} is not a valid id; allowed: {ID_LENGTH} lowercase hex characters"
        )
    return value  # type: ignore[return-value]


def now_iso() -> str:
    """The current time as an ISO-8601 UTC string with milliseconds (sorts as text)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def parse_iso(text: object) -> datetime | None:
    """Parse a timestamp written by :func:`now_iso`; ``None`` when it is missing or malformed."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def to_json_native(value: Any, where: str = "value") -> Any:
    """Convert ``value`` to plain JSON types before it is stored.

    NaN and infinite floats become ``None`` (JSON has no spelling for them), tuples become lists,
    paths become strings and numpy-like scalars (anything with ``.item()``) their Python value.

    Args:
        value: what the caller wants to store.
        where: a name for error messages (the field being stored).

    Raises:
        TypeError: for a value that has no JSON form (a set, an object, ...).
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        return str(value)
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if isinstance(key, bool) or not isinstance(key, str | int | float):
                raise TypeError(f"{where}: key {key!r} is not a string; stored documents need string keys")
            out[str(key)] = to_json_native(item, f"{where}.{key}")
        return out
    if isinstance(value, list | tuple):
        return [to_json_native(item, f"{where}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    item = getattr(value, "item", None)
    if callable(item):
        try:
            return to_json_native(item(), where)
        except (TypeError, ValueError):
            pass
    raise TypeError(
        f"{where}: {type(value).__name__} is not JSON-native; store numbers, strings, lists or dicts"
    )
