"""Looking through an exception's chain: C extensions re-raise what really happened as another error
(ONNX Runtime turns Ctrl-C into `ImportError`, torch turns a full disk into a `RuntimeError`)."""

from __future__ import annotations

from typing import TypeVar

E = TypeVar("E", bound=BaseException)


def cause_of_type(error: BaseException, kind: type[E]) -> E | None:
    """The first exception of `kind` in `error`'s chain (itself, then its causes and contexts), or None."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
