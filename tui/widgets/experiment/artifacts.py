"""An experiment's artifacts: path (relative to the experiment folder), kind, variant and size; the full
path of the highlighted one, its copy to the clipboard (OSC 52, works over SSH), a colour preview of
figures; enter opens a figure full-screen or a text artifact in the viewer.

Paths come resolved in this home from the store (a home copied from a GPU box included)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Static
from textual.worker import get_current_worker

from tui.messages import OpenArtifact, PreviewReady
from tui.model.artifacts import shown_path
from tui.model.format import fmt_bytes
from tui.model.graphics import fit_cells
from tui.model.preview import half_block_preview, is_image
from tui.widgets.common.inline_image import cell_pixels, image_pixels, inline_image
from tui.widgets.common.keyed_table import Col, KeyedTable

COLUMNS = (
    Col("path", "path", 0, max_width=48), Col("kind", "kind", 1), Col("size", "size", 2, numeric=True),
    Col("variant", "variant", 3),
)  # fmt: skip


class ArtifactsTable(KeyedTable):
    """The artifacts DataTable; enter opens the artifact (figure full-screen, text in the viewer)."""

    BINDINGS = [
        Binding(
            "enter",
            "select_cursor",
            "Open",
            id="artifacts.preview",
            tooltip="Open: a figure full-screen, a text file (md, json, tsv) in the viewer",
        ),
        Binding(
            "y",
            "copy_path",
            "Copy path",
            id="artifacts.copy",
            tooltip="Copy the path to the clipboard (OSC 52)",
        ),
    ]

    def action_copy_path(self) -> None:
        path = self.cursor_key
        if path is None:
            return
        self.app.copy_to_clipboard(path)
        self.notify(f"copied {path}", title="clipboard", timeout=4)


class ArtifactsView(Vertical):
    """The artifacts table, the highlighted path in full, and a preview when it is an image."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.preview_path: str | None = None
        self.base: str | None = None

    def compose(self) -> ComposeResult:
        yield ArtifactsTable(COLUMNS, id="artifacts-table")
        yield Static("", id="artifact-path", classes="path-line")
        yield Static("", id="artifact-preview")

    def show(self, artifacts: list[dict[str, Any]], base: str | None = None) -> None:
        """Show ``artifacts``; paths inside the experiment folder ``base`` are shown relative to it."""
        rows = []
        self.base = base
        for artifact in artifacts:
            path = Path(str(artifact.get("path")))
            cells = (
                shown_path(path, base),
                artifact.get("kind") or "-",
                fmt_bytes(artifact.get("bytes")),
                artifact.get("variant") or "-",
            )
            rows.append((str(path), cells))
        self.query_one(ArtifactsTable).sync(rows)
        self._show_path(self.query_one(ArtifactsTable).cursor_key)

    def _show_path(self, path: str | None) -> None:
        line = self.query_one("#artifact-path", Static)
        if path is None:
            line.update(Text("no artifacts yet", style="dim"))
            return
        exists = Path(path).exists()
        text = Text(path)
        if not exists:
            text.append("  (missing)", style="red")
        line.update(text)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        path = event.row_key.value
        self._show_path(path)
        if path and is_image(path):  # figures preview as soon as the cursor reaches them
            self.preview(path)
        else:
            self.preview_path = None
            self._drop_inline_image()
            self.query_one("#artifact-preview", Static).update(Text("y copies the path", style="dim"))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        path = event.row_key.value
        if path:
            self.post_message(OpenArtifact(path))

    def preview(self, path: str) -> None:
        """Render a preview of ``path`` at the preview area's size (in a thread)."""
        target = self.query_one("#artifact-preview", Static)
        if not is_image(path):
            target.update(
                Text(f"{Path(path).name}: no preview for this kind of file; y copies its path", style="dim")
            )
            return
        self.preview_path = path
        width = max(10, self.size.width - 2)
        height = max(4, self.size.height - self.query_one(ArtifactsTable).outer_size.height - 2)
        protocol = getattr(getattr(self.app, "graphics", None), "protocol", "blocks")
        if protocol != "blocks" and self._show_inline_image(protocol, path, width, height):
            return
        self._drop_inline_image()
        target.update(Text("rendering preview…", style="dim"))
        self._render_preview(path, width, height)

    def _show_inline_image(self, protocol: str, path: str, width: int, height: int) -> bool:
        """Draw ``path`` through the terminal's graphics protocol in the preview area; False when unreadable."""
        try:
            columns, rows = fit_cells(image_pixels(path), (width, height), cell_pixels())
            image = inline_image(protocol, path)
        except OSError:
            return False  # the block preview says why
        self._drop_inline_image()
        self.query_one("#artifact-preview", Static).display = False
        image.add_class("artifact-inline")  # a class, not an id: the previous one may still be leaving
        image.styles.width, image.styles.height = columns, rows
        self.mount(image, after="#artifact-path")
        return True

    def _drop_inline_image(self) -> None:
        for image in self.query(".artifact-inline"):
            image.remove()
        self.query_one("#artifact-preview", Static).display = True

    @work(thread=True, exclusive=True, exit_on_error=False, group="preview", description="preview")
    def _render_preview(self, path: str, width: int, height: int) -> None:
        try:
            text, error = half_block_preview(path, width, height), None
        except OSError as failure:
            text, error = None, str(failure)
        if not get_current_worker().is_cancelled:
            self.post_message(PreviewReady(path, text, error))

    def on_preview_ready(self, message: PreviewReady) -> None:
        message.stop()
        if message.path != self.preview_path:
            return
        target = self.query_one("#artifact-preview", Static)
        target.update(message.preview if message.error is None else Text(message.error, style="red"))
