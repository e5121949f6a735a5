"""Font pools for synthetic lines: bundled fonts, user folders and (optionally) the machine's fonts, split
into train and held-out by whole families."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from fontTools.ttLib import TTFont, TTLibError
from PIL import ImageFont

from fonts import FONT_DIR, FONT_SUFFIXES, bundled_font_families, bundled_fonts
from pipeline.config.data_sections import SyntheticDataConfig
from pipeline.core.charset import Charset

FONT_POOLS = ("train", "held_out", "all")


@lru_cache(maxsize=1)
def system_font_files() -> tuple[Path, ...]:
    """The .ttf/.otf files fontconfig knows (`fc-list`); empty where fontconfig is not installed."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return ()
    try:
        out = subprocess.run(
            [fc_list, "--format", "%{file}\n"], capture_output=True, text=True, timeout=60, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    files = {Path(line.strip()) for line in out.splitlines() if line.strip()}
    return tuple(sorted((p for p in files if p.suffix.lower() in FONT_SUFFIXES and p.is_file()), key=str))


def available_fonts(font_dirs: list[str] | tuple[str, ...] = (), system: bool = False) -> dict[str, Path]:
    """Font file name -> path for the bundled fonts, every .ttf/.otf in `font_dirs` and, with `system`,
    the fonts fontconfig lists (a system font whose file name is already taken is skipped: the bundled or
    user copy wins).

    Raises:
        ValueError: two fonts of the bundle or of `font_dirs` share a file name (names identify fonts).
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
    if system:
        for path in system_font_files():
            found.setdefault(path.name, path)
    return found


@lru_cache(maxsize=4096)
def font_family(path: str) -> str:
    """The family of a font: from the bundle's manifest, else the font's own typographic family name."""
    name = Path(path).name
    bundled = bundled_font_families()
    if name in bundled and Path(path).resolve().is_relative_to(FONT_DIR.resolve()):
        return bundled[name]
    try:
        with TTFont(path, lazy=True, fontNumber=0) as font:
            table = font["name"]
            family = table.getDebugName(16) or table.getDebugName(1)
    except (TTLibError, OSError, KeyError):
        family = None
    return family or Path(path).stem


@lru_cache(maxsize=4096)
def font_coverage(path: str) -> frozenset[str]:
    """Characters the font maps to a glyph (its cmap)."""
    try:
        with TTFont(path, lazy=True, fontNumber=0) as font:
            cmap = font.getBestCmap() or {}
    except (TTLibError, OSError) as exc:
        raise ValueError(f"font {path!r} cannot be read: {exc}") from None
    return frozenset(chr(code) for code in cmap)


@lru_cache(maxsize=4096)
def drawable_chars(path: str, wanted: frozenset[str]) -> frozenset[str]:
    """The characters of `wanted` the font really draws: in its cmap and, spaces aside, with ink.

    Some fonts map characters to empty glyphs (a blank where `#` or `{` should be); a line drawn with them
    would carry a label the image does not show, so those characters count as missing.
    """
    mapped = font_coverage(path) & wanted
    font = ImageFont.truetype(path, 24, layout_engine=ImageFont.Layout.BASIC)
    return frozenset(ch for ch in mapped if ch.isspace() or font.getmask(ch).getbbox() is not None)


@lru_cache(maxsize=1024)
def load_font(path: str, size: int) -> ImageFont.FreeTypeFont:
    """A cached FreeType font; opening one costs far more than drawing a line with it.

    The basic layout engine is enough (glyphs are placed one by one) and much faster than raqm.
    """
    return ImageFont.truetype(path, size, layout_engine=ImageFont.Layout.BASIC)


@dataclass(frozen=True)
class FontPools:
    """Fonts usable for a charset, split so validation can measure font families the model never saw.

    Attributes:
        train: Fonts of the train split (selected fonts minus the held-out ones).
        held_out: Fonts kept out of training (every font of a held-out family, and held-out files).
        excluded: Selected fonts dropped because they cannot draw enough of the charset, with the reason.
        families: Font file name -> family, for every font of both pools.
    """

    train: tuple[Path, ...]
    held_out: tuple[Path, ...]
    excluded: tuple[str, ...] = ()
    families: dict[str, str] = field(default_factory=dict)

    def pool(self, name: str) -> tuple[Path, ...]:
        """The fonts of pool `name` ("train", "held_out" or "all")."""
        if name == "train":
            return self.train
        if name == "held_out":
            return self.held_out
        if name == "all":
            return self.train + self.held_out
        raise ValueError(f"font pool {name!r} is unknown; allowed {', '.join(FONT_POOLS)}")

    def pool_families(self, name: str) -> list[str]:
        """The families of pool `name`, sorted."""
        return sorted({self.families[p.name] for p in self.pool(name)})


def resolve_font_pools(config: SyntheticDataConfig, charset: Charset) -> FontPools:
    """Find the configured fonts and split them into train and held-out pools.

    Every font of a family in `held_out_families` (bundled, from `font_dirs` or, with `fonts: system`, the
    machine's) and every file in `held_out_fonts` is held out, so no style of a held-out family is trained
    on. A font is kept only if it draws at least half as many charset characters as the best font does, so
    a Latin-only font is not used for a Chinese charset (its lines would lose most characters).

    Raises:
        ValueError: an unknown font or family name, or no usable training font.
    """
    system = config.fonts == "system"
    found = available_fonts(config.font_dirs, system=system)
    names = sorted(found) if config.fonts in ("all", "system") else list(config.fonts)
    for name in [*names, *config.held_out_fonts]:
        if name not in found:
            raise ValueError(f"font {name!r} was not found; available: {', '.join(sorted(found))}")
    families = {name: font_family(str(path)) for name, path in found.items()}
    unknown = sorted(set(config.held_out_families) - set(families.values()))
    if unknown:
        raise ValueError(
            f"held_out_families {unknown} are not font families here; "
            f"known: {', '.join(sorted(set(families.values())))}"
        )
    held_out_families = set(config.held_out_families)
    held_out_names = set(config.held_out_fonts) | {
        n for n, fam in families.items() if fam in held_out_families
    }
    candidates = sorted(set(names) | held_out_names)
    wanted = frozenset(charset.chars) - {" "}
    drawable = {name: len(drawable_chars(str(found[name]), wanted)) for name in candidates}
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
            f"no training font left: fonts={config.fonts!r} minus held_out_families="
            f"{list(config.held_out_families)!r} and held_out_fonts={list(config.held_out_fonts)!r}"
            + (f" ({'; '.join(excluded)})" if excluded else "")
        )
    pool_families = {p.name: families[p.name] for p in train + held_out}
    return FontPools(train=train, held_out=held_out, excluded=excluded, families=pool_families)
