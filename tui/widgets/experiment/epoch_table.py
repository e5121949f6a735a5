"""The live epoch table of one experiment: a row per recorded epoch, newest kept in view."""

from __future__ import annotations

from typing import Any

from tui.model.format import EPOCH_COLUMNS, epoch_cells
from tui.widgets.common.keyed_table import KeyedTable

_KEYS = ("phase", "epoch", "train_loss", "val_loss", "cer", "em", "lr", "seconds")


class EpochTable(KeyedTable):
    """Epochs of every phase (baseline, qat:..., finetune:...), in the order they were recorded."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(tuple(zip(_KEYS, EPOCH_COLUMNS, strict=True)), follow_tail=True, **kwargs)

    def show(self, epochs: list[dict[str, Any]]) -> None:
        """Show ``epochs`` (the experiment's full list so far); only new rows are added."""
        self.sync((f"epoch-{index}", epoch_cells(epoch)) for index, epoch in enumerate(epochs))
