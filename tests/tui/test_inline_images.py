"""Figures through the terminal's graphics protocol: detection per terminal, the escapes it writes,
and the block preview wherever no protocol is known (tmux, plain xterm, OCRQ_GRAPHICS=blocks)."""

from __future__ import annotations

import base64
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from rich.console import Console

from tests.tui.conftest import wait_for
from tests.tui.store_fixtures import QUICK_ID, write_figure
from tui.model.graphics import Graphics, detect_graphics, fit_cells
from tui.screens.artifact_view import FigureScreen
from tui.screens.experiment import ExperimentScreen
from tui.widgets.experiment.artifacts import ArtifactsTable


@pytest.mark.parametrize(
    ("env", "protocol"),
    [
        ({"TERM": "xterm-kitty"}, "kitty"),
        ({"TERM": "xterm-256color", "KITTY_WINDOW_ID": "3"}, "kitty"),
        ({"TERM": "xterm-256color", "TERM_PROGRAM": "iTerm.app"}, "sixel"),
        ({"TERM": "xterm-256color", "TERM_PROGRAM": "WezTerm"}, "sixel"),
        ({"TERM": "foot"}, "sixel"),
        ({"TERM": "mlterm"}, "sixel"),
        ({"TERM": "xterm-256color"}, "blocks"),
        ({"TERM": "xterm"}, "blocks"),
        ({}, "blocks"),
        # tmux without passthrough swallows or misplaces image escapes, whatever the outer terminal
        ({"TERM": "tmux-256color", "TMUX": "/tmp/tmux-1000/default,1,0", "KITTY_WINDOW_ID": "1"}, "blocks"),
        ({"TERM": "screen-256color", "TERM_PROGRAM": "iTerm.app"}, "blocks"),
        ({"TERM": "xterm-kitty", "OCRQ_GRAPHICS": "blocks"}, "blocks"),
        ({"TERM": "tmux-256color", "TMUX": "x", "OCRQ_GRAPHICS": "Sixel"}, "sixel"),  # the user says so
    ],
)
def test_each_terminal_gets_its_protocol(env, protocol):
    assert detect_graphics(env, is_tty=True).protocol == protocol


def test_no_terminal_no_images_and_a_bad_setting_names_the_choices():
    assert detect_graphics({"TERM": "xterm-kitty"}, is_tty=False).protocol == "blocks"
    assert detect_graphics({"TERM": "xterm-kitty"}, is_tty=True).reason == "kitty ($TERM=xterm-kitty)"
    with pytest.raises(
        ValueError, match="OCRQ_GRAPHICS='png' is not allowed; use one of auto, kitty, sixel, blocks"
    ):
        detect_graphics({"OCRQ_GRAPHICS": "png"}, is_tty=True)


def test_a_bad_setting_exits_2_from_the_installed_command(tmp_path):
    ocrq = Path(sys.executable).with_name("ocrq")
    env = {**os.environ, "OCRQ_GRAPHICS": "png", "OCRQ_HOME": str(tmp_path)}
    done = subprocess.run([str(ocrq), "tui"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "OCRQ_GRAPHICS='png' is not allowed; use one of auto, kitty, sixel, blocks" in done.stderr


def test_fit_keeps_the_aspect_and_stays_inside():
    # a 1000x500 figure in 78x20 cells of 10x20 px: the width binds (780 px wide -> 390 px high)
    assert fit_cells((1000, 500), (78, 20), (10, 20)) == (78, 20)
    # with room to spare sideways the height binds: 20 rows = 400 px high -> 800 px = 80 columns
    assert fit_cells((1000, 500), (200, 20), (10, 20)) == (80, 20)
    assert fit_cells((400, 800), (100, 50), (8, 16)) == (50, 50)


def _kitty_escapes(path: Path, columns: int, monkeypatch) -> tuple[str, str]:
    from textual_image.renderable.tgp import Image as KittyImage

    written = io.StringIO()
    monkeypatch.setattr(sys, "__stdout__", written)  # the protocol writes the image data to the terminal
    console = Console(file=io.StringIO(), width=80, force_terminal=True, color_system="truecolor")
    console.print(KittyImage(path, width=columns))
    return written.getvalue(), console.file.getvalue()


def test_kitty_escapes_carry_the_png_and_a_placement_of_the_asked_cells(tmp_path, monkeypatch):
    path = tmp_path / "curve.png"
    write_figure(path)  # 160x80 px
    data, cells = _kitty_escapes(path, 20, monkeypatch)
    transfers = re.findall(r"\x1b_Gi=(\d+),m=(\d),f=100,q=2;([A-Za-z0-9+/=]+)\x1b\\", data)
    assert transfers and transfers[-1][1] == "0"  # the last chunk says no more follow
    png = base64.b64decode("".join(chunk for _, _, chunk in transfers))
    assert png.startswith(b"\x89PNG")
    assert Image.open(io.BytesIO(png)).size[0] > 0
    image_id = transfers[0][0]
    assert re.search(rf"\x1b_Ga=p,i={image_id},c=20,r=\d+,U=1,q=2\x1b\\", data)
    # the screen cells are unicode placeholders that the terminal replaces with the image
    assert cells.count(chr(0x10EEEE)) == 20 * int(re.search(r",r=(\d+),", data).group(1))


def test_sixel_escapes_hold_the_image_raster(tmp_path):
    from textual_image.renderable.sixel import Image as SixelImage

    path = tmp_path / "curve.png"
    write_figure(path)
    console = Console(file=io.StringIO(), width=80, force_terminal=True)
    console.print(SixelImage(path, width=16))
    out = console.file.getvalue()
    sixel = out[out.index("\x1bP") : out.index("\x1b\\", out.index("\x1bP")) + 2]
    assert re.match(r'\x1bP0;0;0q"1;1;(\d+);(\d+)', sixel)  # DCS q, raster attributes: width;height px
    assert sixel.endswith("\x1b\\")


async def _open_figure(app, pilot, name: str) -> FigureScreen:
    app.open_experiment(QUICK_ID)
    await wait_for(pilot, lambda: isinstance(app.screen, ExperimentScreen) and app.screen.document)
    await pilot.press("a")
    table = app.screen.query_one(ArtifactsTable)
    table.move_cursor(row=next(i for i, key in enumerate(table.keys) if key.endswith(name)), animate=False)
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, FigureScreen), what="the figure view")
    return app.screen


@pytest.mark.anyio
async def test_a_kitty_terminal_draws_the_figure_with_the_protocol(quick_store, make_app, capfd):
    from textual_image.widget import TGPImage

    app = make_app(quick_store, graphics=detect_graphics({"TERM": "xterm-kitty"}, is_tty=True))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open_figure(app, pilot, "training_curves.png")
        image = screen.query_one("#figure-image")
        assert isinstance(image, TGPImage) and not screen.query("#figure")
        await wait_for(pilot, lambda: image.size.width > 0, what="the image to be laid out")
        assert image.size.width <= 78 and image.size.height <= 22
        assert screen.sub_title.endswith("kitty ($TERM=xterm-kitty)")
        await pilot.pause(0.1)
        await pilot.press("escape")
        assert isinstance(app.screen, ExperimentScreen)
    assert "\x1b_G" in capfd.readouterr().out  # the image went to the terminal


@pytest.mark.anyio
@pytest.mark.parametrize(
    "env", [{"TERM": "tmux-256color", "TMUX": "x", "KITTY_WINDOW_ID": "1"}, {"TERM": "xterm"}]
)
async def test_elsewhere_the_figure_falls_back_to_blocks(quick_store, make_app, env):
    app = make_app(quick_store, graphics=detect_graphics(env, is_tty=True))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open_figure(app, pilot, "training_curves.png")
        figure = screen.query_one("#figure")
        await wait_for(pilot, lambda: "▀" in str(figure.render()), what="the block preview")
        assert not screen.query("#figure-image") and screen.sub_title.endswith("training_curves.png")


def test_graphics_default_to_blocks():
    assert FigureScreen("x.png", "x.png").graphics == Graphics("blocks", "blocks")


@pytest.mark.anyio
@pytest.mark.parametrize("protocol", ["kitty", "sixel"])
async def test_the_artifacts_preview_uses_the_protocol_too(quick_store, make_app, protocol):
    from textual_image.widget import SixelImage, TGPImage

    app = make_app(quick_store, graphics=Graphics(protocol, f"{protocol} (test)"))
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_experiment(QUICK_ID)
        await wait_for(pilot, lambda: isinstance(app.screen, ExperimentScreen) and app.screen.document)
        await pilot.press("a")
        table = app.screen.query_one(ArtifactsTable)
        keys = list(table.keys)
        figure = next(i for i, key in enumerate(keys) if key.endswith("training_curves.png"))
        report = next(i for i, key in enumerate(keys) if key.endswith("comparison.md"))
        widget_class = {"kitty": TGPImage, "sixel": SixelImage}[protocol]
        for row in (figure, report, figure):
            table.move_cursor(row=row, animate=False)
            await pilot.pause(0.1)
            images = app.screen.query(".artifact-inline")
            preview = app.screen.query_one("#artifact-preview")
            if row == figure:
                assert len(images) == 1 and isinstance(images.first(), widget_class)
                assert not preview.display and images.first().size.height >= 1
            else:
                assert not images and preview.display and "y copies the path" in str(preview.render())
