"""Small messages that carry store reads from thread workers to the screens.

Whole-listing reads coalesce (a newer one replaces a pending older one); experiment updates do not,
as each carries only what is new.
"""

from __future__ import annotations

from typing import Any

from textual.message import Message

from tui.model.data import ExperimentsSnapshot, ExperimentUpdate
from tui.model.studies import StudiesSnapshot


class ExperimentsLoaded(Message):
    """A fresh read of the experiments list."""

    def __init__(self, snapshot: ExperimentsSnapshot) -> None:
        super().__init__()
        self.snapshot = snapshot

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, type(self))  # a newer read makes a pending older one useless


class ExperimentUpdated(Message):
    """What is new in the open experiment."""

    def __init__(self, update: ExperimentUpdate) -> None:
        super().__init__()
        self.update = update


class StudiesLoaded(Message):
    """A fresh read of the studies and the selected study's trials."""

    def __init__(self, snapshot: StudiesSnapshot) -> None:
        super().__init__()
        self.snapshot = snapshot

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, type(self))  # a newer read makes a pending older one useless


class ComparisonLoaded(Message):
    """Full documents of the experiments being compared."""

    def __init__(self, experiments: list[dict[str, Any]]) -> None:
        super().__init__()
        self.experiments = experiments

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, type(self))  # a newer read makes a pending older one useless


class PreviewReady(Message):
    """A rendered image preview (or why there is none) for an artifact path."""

    def __init__(self, path: str, preview: Any, error: str | None) -> None:
        super().__init__()
        self.path = path
        self.preview = preview
        self.error = error


class OpenArtifact(Message):
    """The user asked to open an artifact (a figure full-screen, a text file in the viewer)."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
