"""`ocrq tui` in a real terminal (tmux) with a graphics protocol chosen: textual-image is loaded and
measures the terminal before the screen takes over, the figure view opens and closes, the TUI exits 0;
without the override, tmux gets the block preview."""

from __future__ import annotations

import shutil
import time

import pytest

from tests.tui.store_fixtures import QUICK_ID, fill_quickstart, fill_store
from tests.tui.test_e2e_tmux import PROMPT, Tmux, _tui_command

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"OCRQ_GRAPHICS": "kitty"}, "kitty ($OCRQ_GRAPHICS)"),
        ({"OCRQ_GRAPHICS": "sixel"}, "sixel ($OCRQ_GRAPHICS)"),
        ({"TERM": "xterm-kitty"}, "blocks"),
    ],
    ids=["forced-kitty", "forced-sixel", "kitty-term-inside-tmux"],
)
def test_figures_in_a_real_terminal(tmp_path, env, expected):
    home = tmp_path / "home"
    fill_quickstart(fill_store(home))
    tmux = Tmux(f"ocrq-graphics-{time.monotonic_ns()}")
    tmux.start({"PS1": PROMPT, "TERM": "xterm-256color", **env})
    try:
        tmux.wait_for(PROMPT.strip(), timeout=10)
        tmux.type(_tui_command(home, QUICK_ID) + "; echo exit=$?")
        tmux.keys("Enter")
        tmux.wait_for("Epochs", timeout=60)
        tmux.keys("a")
        tmux.wait_for("training_curves.png", timeout=20)
        tmux.wait_for("/experiments/", timeout=10)  # the first row (a figure) highlighted: its full path
        tmux.keys("Enter")
        screen = tmux.wait_for("ocrq — training_curves.png", timeout=20)  # the figure view's title
        if expected == "blocks":  # tmux: no protocol, the figure in text cells filling the screen
            screen = tmux.wait_for("▀" * 60, timeout=20)
            assert "kitty" not in screen and screen.count("▀") > 500, screen
        else:
            assert expected in screen, screen
        tmux.keys("Escape")
        tmux.wait_for("Artifacts", timeout=10)
        tmux.keys("q")
        tmux.wait_for("exit=0", timeout=20)
    finally:
        tmux.kill()
