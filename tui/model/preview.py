"""A coarse colour preview of a PNG figure in text cells: one ``▀`` per cell carries two pixels.

Works in every true-colour terminal, over SSH and in tmux, with no graphics protocol. Pillow is
imported only when a preview is asked for.
"""

from __future__ import annotations

from pathlib import Path

from rich.style import Style
from rich.text import Text

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp")


def is_image(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def half_block_preview(path: str | Path, width: int, height: int) -> Text:
    """The image at ``path`` scaled to fit ``width`` x ``height`` cells (aspect ratio kept).

    Raises:
        OSError: the file cannot be read or is not an image Pillow knows.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as opened:
            image = opened.convert("RGB")
    except UnidentifiedImageError as error:
        raise OSError(f"{path} is not an image Pillow can read") from error
    width, height = max(1, width), max(1, height)
    # A cell is about twice as tall as wide, and holds two pixel rows: pixels map 1:1 to half-cells.
    scale = min(width / image.width, 2 * height / image.height)
    size = (max(1, round(image.width * scale)), max(2, round(image.height * scale)))
    image = image.resize(size, Image.Resampling.BOX)
    pixels = image.load()
    text = Text(no_wrap=True, overflow="crop")
    for row in range(0, size[1] - 1, 2):
        if row:
            text.append("\n")
        for col in range(size[0]):
            top, bottom = pixels[col, row], pixels[col, row + 1]
            text.append("▀", style=Style(color=f"rgb{top}", bgcolor=f"rgb{bottom}"))
    return text
