"""Bundled open-licence fonts (DejaVu: Bitstream Vera licence; Liberation: SIL OFL 1.1).

A package rather than a bare folder so the font files are found the same way in an editable
checkout and in an installed wheel.
"""

from __future__ import annotations

from pathlib import Path

FONT_DIR = Path(__file__).parent

FONT_SUFFIXES = (".ttf", ".otf")


def bundled_fonts() -> list[Path]:
    """All bundled font files, sorted by file name (a stable order keeps font choice reproducible)."""
    return sorted(
        (p for p in FONT_DIR.iterdir() if p.suffix.lower() in FONT_SUFFIXES and p.is_file()),
        key=lambda p: p.name,
    )
