"""Errors the store raises; the CLI and the TUI catch ``StoreError`` and show its one-line message."""

from __future__ import annotations


class StoreError(Exception):
    """Base class of every error the experiment store raises on purpose."""


class ExperimentNotFound(StoreError, LookupError):
    """No experiment matches the given id, id prefix or name."""


class StudyNotFound(StoreError, LookupError):
    """No study matches the given id, id prefix or name."""


class AmbiguousId(StoreError, LookupError):
    """An id prefix or a name matches more than one record.

    Attributes:
        ref: what the user typed.
        candidates: the full ids that match, in store order.
    """

    def __init__(self, message: str, *, ref: str, candidates: list[str]) -> None:
        super().__init__(message)
        self.ref = ref
        self.candidates = candidates


class SchemaTooNew(StoreError):
    """The store on disk was written by a newer ocrq than this one."""
