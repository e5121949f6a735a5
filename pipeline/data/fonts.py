"""Font pools for synthetic lines: bundled fonts plus user folders, split into train and held-out."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from fontTools.ttLib import TTFont, TTLibError
from PIL import ImageFont

from fonts import FONT_SUFFIXES, bundled_fonts
from pipeline.config.data_sections import SyntheticDataConfig
from pipeline.core.charset import Charset

FONT_POOLS = ("train", "held_out", "all")


def available_fonts(font_dirs: list[str] | tuple[str, ...] = ()) -> dict[str, Path]:
    """Font file name -> path for the bundled fonts and every .ttf/.otf in `font_dirs`.

    Raises:
        ValueError: two fonts share a file name (names must identify fonts in configs).
    """
    found = {p.name: p for p in bundled_fonts()}
    for folder in font_dirs:
        for path in sorted(Path(folder).expanduser().iterdir()):
            if path.suffix.lower() not in FONT_SUFFIXES or not path.is_file():
                continue
            if path.name in found and found[path.name] != path:
                raise ValueError(
                    f"font name {path.name!r} is in both {found[path.name].parent} and {folder}; rename one"
                )
            found[path.name] = path
    return found


@lru_cache(maxsize=256)
def font_coverage(path: str) -> frozenset[str]:
    """Characters the font has a glyph for (from its cmap), so no line is drawn with missing-glyph boxes."""
    try:
        with TTFont(path, lazy=True, fontNumber=0) as font:
            cmap = font.getBestCmap() or {}
    except (TTLibError, OSError) as exc:
        raise ValueError(f"font {path!r} cannot be read: {exc}") from None
    return frozenset(chr(code) for code in cmap)


@lru_cache(maxsize=1024)
def load_font(path: str, size: int) -> ImageFont.FreeTypeFont:
    """A cached FreeType font; opening one costs far more than drawing a line with it.

    The basic layout engine is enough (glyphs are placed one by one) and much faster than raqm.
    """
    return ImageFont.truetype(path, size, layout_engine=ImageFont.Layout.BASIC)


@dataclass(frozen=True)
class FontPools:
    """Fonts usable for a charset, split so validation can measure fonts the model never saw.

    Attributes:
        train: Fonts of the train split (selected fonts minus the held-out ones).
        held_out: Fonts kept out of training.
        excluded: Selected fonts dropped because they cannot draw enough of the charset, with the reason.
    """

    train: tuple[Path, ...]
    held_out: tuple[Path, ...]
    excluded: tuple[str, ...] = ()

    def pool(self, name: str) -> tuple[Path, ...]:
        """The fonts of pool `name` ("train", "held_out" or "all")."""
        if name == "train":
            return self.train
        if name == "held_out":
            return self.held_out
        if name == "all":
            return self.train + self.held_out
        raise ValueError(f"font pool {name!r} is unknown; allowed {', '.join(FONT_POOLS)}")


def resolve_font_pools(config: SyntheticDataConfig, charset: Charset) -> FontPools:
    """Find the configured fonts and split them into train and held-out pools.

    A font is kept only if it draws at least half as many charset characters as the best font does, so a
    Latin-only font is not used for a Chinese charset (its lines would lose most characters).

    Raises:
        ValueError: an unknown font name, or no usable training font.
    """
    found = available_fonts(config.font_dirs)
    names = sorted(found) if config.fonts == "all" else list(config.fonts)
    for name in [*names, *config.held_out_fonts]:
        if name not in found:
            raise ValueError(f"font {name!r} was not found; available: {', '.join(sorted(found))}")
    held_out_names = set(config.held_out_fonts)
    candidates = sorted(set(names) | held_out_names)
    wanted = set(charset.chars) - {" "}
    drawable = {name: len(font_coverage(str(found[name])) & wanted) for name in candidates}
    best = max(drawable.values(), default=0)
    if best == 0:
        raise ValueError(f"none of the fonts {candidates} can draw any character of charset {charset.name!r}")
    usable = {name for name in candidates if drawable[name] * 2 >= best}
    excluded = tuple(
        f"{name} draws {drawable[name]} of {len(wanted)} charset characters"
        for name in candidates
        if name not in usable
    )
    train = tuple(found[n] for n in names if n in usable and n not in held_out_names)
    held_out = tuple(found[n] for n in sorted(held_out_names) if n in usable)
    if not train:
        raise ValueError(
            f"no training font left: fonts={config.fonts!r} minus held_out_fonts={list(config.held_out_fonts)!r}"
            + (f" ({'; '.join(excluded)})" if excluded else "")
        )
    return FontPools(train=train, held_out=held_out, excluded=excluded)
