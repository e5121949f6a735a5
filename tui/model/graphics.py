"""Which terminal graphics protocol draws figures: kitty's, sixel, or text cells (``▀`` blocks).

Decided once, before the screen takes over, from the environment alone: querying the terminal costs a
round trip that an unanswering terminal turns into a 0.1 s wait per query at every start, and the
answer can swallow a keystroke. ``OCRQ_GRAPHICS`` (``auto``, ``kitty``, ``sixel``, ``blocks``) overrides
the guess. Pure functions, no Textual.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

GRAPHICS_ENV = "OCRQ_GRAPHICS"
PROTOCOLS = ("kitty", "sixel", "blocks")
CHOICES = ("auto", *PROTOCOLS)
# Terminals that draw sixel images, by $TERM (the ones that set no $TERM_PROGRAM).
_SIXEL_TERMS = ("foot", "mlterm", "contour", "yaft")
# iTerm2 (3.3+) and WezTerm draw sixel; WezTerm's kitty protocol lacks the unicode placeholders that
# an image inside a Textual screen needs, and iTerm2's own protocol would need a hand-written encoder.
_SIXEL_PROGRAMS = ("iTerm.app", "WezTerm")


@dataclass(frozen=True)
class Graphics:
    """How figures are drawn and why (the figure view says it, so a user knows what to change).

    Attributes:
        protocol: ``kitty`` (terminal graphics protocol), ``sixel`` or ``blocks`` (text cells).
        reason: the words a user reads, such as ``kitty ($TERM=xterm-kitty)``.
    """

    protocol: str
    reason: str


def detect_graphics(env: Mapping[str, str], is_tty: bool) -> Graphics:
    """The graphics protocol for a terminal with environment ``env``.

    Args:
        env: the environment (``os.environ``).
        is_tty: whether standard output is a terminal (images are written to it directly).

    Raises:
        ValueError: ``OCRQ_GRAPHICS`` holds something other than ``CHOICES``.
    """
    asked = env.get(GRAPHICS_ENV, "auto").strip().lower() or "auto"
    if asked not in CHOICES:
        raise ValueError(
            f"{GRAPHICS_ENV}={env[GRAPHICS_ENV]!r} is not allowed; use one of {', '.join(CHOICES)}"
        )
    if asked != "auto":
        return Graphics(asked, f"{asked} (${GRAPHICS_ENV})")
    if not is_tty:
        return Graphics("blocks", "blocks (output is not a terminal)")
    term, program = env.get("TERM", ""), env.get("TERM_PROGRAM", "")
    if env.get("TMUX") or term.startswith(("screen", "tmux")):
        # tmux passes image escapes on only with allow-passthrough, and even then draws them in the
        # wrong place when panes move; a user who set it up says so with OCRQ_GRAPHICS.
        return Graphics("blocks", f"blocks (inside tmux/screen; {GRAPHICS_ENV}=kitty|sixel overrides)")
    if term == "xterm-kitty" or env.get("KITTY_WINDOW_ID"):
        return Graphics(
            "kitty", "kitty ($TERM=xterm-kitty)" if term == "xterm-kitty" else "kitty ($KITTY_WINDOW_ID)"
        )
    if program in _SIXEL_PROGRAMS:
        return Graphics("sixel", f"sixel ($TERM_PROGRAM={program})")
    if term.startswith(_SIXEL_TERMS) or "sixel" in term:
        return Graphics("sixel", f"sixel ($TERM={term})")
    return Graphics("blocks", f"blocks (no graphics protocol known for $TERM={term or 'unset'})")


def fit_cells(
    image_px: tuple[int, int], room_cells: tuple[int, int], cell_px: tuple[int, int]
) -> tuple[int, int]:
    """The largest (columns, rows) that show an image of ``image_px`` pixels whole, aspect kept.

    Args:
        image_px: the image's width and height in pixels.
        room_cells: the columns and rows available.
        cell_px: one cell's width and height in pixels (the terminal's font).
    """
    (width, height), (columns, rows), (cell_w, cell_h) = image_px, room_cells, cell_px
    if min(width, height, columns, rows, cell_w, cell_h) <= 0:
        return max(1, columns), max(1, rows)
    scale = min(columns * cell_w / width, rows * cell_h / height)
    return max(1, min(columns, round(width * scale / cell_w))), max(
        1, min(rows, round(height * scale / cell_h))
    )
