"""Full-screen views of one artifact: a figure at the terminal's size, a text artifact in a viewer
(``comparison.md`` as Markdown, ``report.json`` pretty-printed, ``predictions.tsv`` wrong lines first)."""

from __future__ import annotations

from pathlib import Path

from rich.markdown import Markdown
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static
from textual.worker import get_current_worker

from tui.messages import PreviewReady
from tui.model.artifacts import TextArtifact, read_text_artifact
from tui.model.graphics import Graphics, fit_cells
from tui.model.preview import half_block_preview
from tui.widgets.common.inline_image import cell_pixels, image_pixels, inline_image
from tui.widgets.common.keyed_table import Col, KeyedTable

_BACK = Binding("escape,q", "back", "Back", id="artifact.back", tooltip="Back to the experiment")
_COPY = Binding("y", "copy_path", "Copy path", id="artifact.copy", tooltip="Copy the path (OSC 52)")


class _ArtifactScreen(Screen):
    BINDINGS = [_BACK, _COPY]

    def __init__(self, path: str, shown: str) -> None:
        super().__init__()
        self.path = path
        self.shown = shown

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_copy_path(self) -> None:
        self.app.copy_to_clipboard(self.path)
        self.notify(f"copied {self.path}", title="clipboard", timeout=4)


class FigureScreen(_ArtifactScreen):
    """A figure at the full size of the terminal, redrawn when it resizes.

    Drawn through the terminal's graphics protocol (kitty's or sixel) when ``graphics`` names one,
    else in text cells (two pixels a cell), which works everywhere, tmux and plain SSH included.
    """

    def __init__(self, path: str, shown: str, graphics: Graphics | None = None) -> None:
        super().__init__(path, shown)
        self.graphics = graphics or Graphics("blocks", "blocks")
        self.image_px: tuple[int, int] | None = None

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        if self.graphics.protocol == "blocks":
            yield Static(Text("rendering…", style="dim"), id="figure")
        else:
            try:
                self.image_px = image_pixels(self.path)
                image = inline_image(self.graphics.protocol, self.path, id="figure-image")
            except OSError as failure:
                yield Static(Text(str(failure), style="red"), id="figure")
            else:
                yield Container(image, id="figure-frame")
        yield Footer()

    def on_mount(self) -> None:
        inline = self.graphics.protocol != "blocks"
        self.sub_title = self.shown + (f" · {self.graphics.reason}" if inline else "")

    def on_resize(self) -> None:
        if self.image_px is not None:
            columns, rows = fit_cells(
                self.image_px, (max(10, self.size.width - 2), max(4, self.size.height - 2)), cell_pixels()
            )
            image = self.query_one("#figure-image")
            image.styles.width, image.styles.height = columns, rows
            return
        if self.graphics.protocol != "blocks":
            return  # the file could not be read: its error stays
        figure = self.query_one("#figure", Static)
        self._render_figure(max(10, self.size.width - 2), max(4, self.size.height - 2))
        figure.update(Text("rendering…", style="dim"))

    @work(thread=True, exclusive=True, exit_on_error=False, group="figure", description="figure")
    def _render_figure(self, width: int, height: int) -> None:
        try:
            text, error = half_block_preview(self.path, width, height), None
        except OSError as failure:
            text, error = None, str(failure)
        if not get_current_worker().is_cancelled:
            self.post_message(PreviewReady(self.path, text, error))

    def on_preview_ready(self, message: PreviewReady) -> None:
        figure = self.query_one("#figure", Static)
        figure.update(message.preview if message.error is None else Text(message.error, style="red"))


class TextArtifactScreen(_ArtifactScreen):
    """A text artifact, read once; predictions show as a table with the wrong lines first."""

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield Static("", id="artifact-note", classes="status-line")
        yield VerticalScroll(Static("", id="artifact-text"), id="artifact-scroll")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = self.shown
        self._read()

    @work(thread=True, exclusive=True, exit_on_error=False, group="artifact", description="reading the file")
    def _read(self) -> None:
        try:
            artifact = read_text_artifact(self.path)
        except OSError as failure:
            artifact = TextArtifact("text", text="", note=f"cannot read {Path(self.path).name}: {failure}")
        self.app.call_from_thread(self._show, artifact)

    async def _show(self, artifact: TextArtifact) -> None:
        self.artifact = artifact
        self.query_one("#artifact-note", Static).update(Text(artifact.note))
        scroll = self.query_one("#artifact-scroll", VerticalScroll)
        if artifact.kind == "table":
            scroll.display = False
            columns = [Col(f"c{i}", name, 0 if i < 2 else 1) for i, name in enumerate(artifact.columns or [])]
            table = KeyedTable(columns, id="artifact-table")
            await self.mount(table, after=scroll)
            table.sync((str(index), tuple(row)) for index, row in enumerate(artifact.rows or []))
            table.focus()
            return
        body = Markdown(artifact.text) if artifact.kind == "markdown" else Text(artifact.text)
        self.query_one("#artifact-text", Static).update(body)
        scroll.focus()
