"""Bundled open-licence fonts: 80+ families from Debian font packages (see SOURCES.md), with their licences.

A package rather than a bare folder so the font files are found the same way in an editable checkout and in an
installed wheel. `families.json` (written by `build_fonts.py`) names the family and kinds of every file, so
held-out splits can keep whole families out of training.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

FONT_DIR = Path(__file__).parent

FONT_SUFFIXES = (".ttf", ".otf")


def bundled_fonts() -> list[Path]:
    """All bundled font files (top level and family folders), sorted by file name (a stable order keeps
    font choice reproducible)."""
    return sorted(
        (p for p in FONT_DIR.rglob("*") if p.suffix.lower() in FONT_SUFFIXES and p.is_file()),
        key=lambda p: p.name,
    )


@lru_cache(maxsize=1)
def bundled_families() -> dict[str, dict]:
    """Family name -> {"kinds": [...], "licence": ..., "package": ..., "files": [file names]} of the bundle."""
    manifest = json.loads((FONT_DIR / "families.json").read_text(encoding="utf-8"))
    return {
        fam["family"]: {**fam, "files": [Path(f).name for f in fam["files"]]} for fam in manifest["families"]
    }


@lru_cache(maxsize=1)
def bundled_font_families() -> dict[str, str]:
    """Bundled font file name -> its family name."""
    return {name: family for family, fam in bundled_families().items() for name in fam["files"]}
