"""The live epoch table of one experiment: a row per recorded epoch, newest kept in view."""

from __future__ import annotations

from typing import Any

from tui.model.format import EPOCH_COLUMNS, epoch_row
from tui.widgets.common.keyed_table import Col, KeyedTable

_KEYS = ("phase", "epoch", "train_loss", "val_loss", "cer", "em", "lr", "seconds")
# phase and epoch always; then loss and CER; EM, lr and seconds go first on a narrow terminal
_PRIORITY = (0, 0, 1, 1, 1, 2, 4, 3)
COLUMNS = tuple(
    Col(key, label, priority, numeric=key != "phase")
    for key, label, priority in zip(_KEYS, EPOCH_COLUMNS, _PRIORITY, strict=True)
)


class EpochTable(KeyedTable):
    """Epochs of every phase (baseline, qat:..., finetune:...), in the order they were recorded."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("fixed_columns", 2)
        super().__init__(COLUMNS, follow_tail=True, **kwargs)

    def show(self, epochs: list[dict[str, Any]]) -> None:
        """Show ``epochs`` (the experiment's full list so far); only new rows are added."""
        self.sync((f"epoch-{index}", epoch_row(epoch)) for index, epoch in enumerate(epochs))
