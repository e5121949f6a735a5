"""A figure drawn through the terminal's graphics protocol (kitty's or sixel), by ``textual-image``.

``textual-image`` asks the terminal for its cell size in pixels when it is imported, which only works
before Textual starts reading standard input: ``prepare_inline_images`` runs first, and only for a
terminal that ``tui.model.graphics`` found able to draw images (others never pay for the import).
"""

from __future__ import annotations

from pathlib import Path

from textual.widget import Widget


def prepare_inline_images() -> None:
    """Import ``textual-image`` (it measures the terminal's cells) before the app starts.

    Raises:
        ImportError, OSError, textual_image's TerminalError: no library or no answer; draw blocks.
    """
    import textual_image.widget  # noqa: F401  (the import itself measures the cells)


def cell_pixels() -> tuple[int, int]:
    """One terminal cell's width and height in pixels (measured when the library was imported)."""
    from textual_image._terminal import get_cell_size

    size = get_cell_size()
    return size.width, size.height


def image_pixels(path: str | Path) -> tuple[int, int]:
    """An image file's width and height (its header only).

    Raises:
        OSError: the file cannot be read or is not an image Pillow knows.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return image.size
    except UnidentifiedImageError as error:
        raise OSError(f"{path} is not an image Pillow can read") from error


def inline_image(protocol: str, path: str | Path, *, id: str | None = None) -> Widget:
    """The image widget for ``protocol`` (``kitty`` or ``sixel``) showing the file at ``path``."""
    from textual_image.widget import SixelImage, TGPImage

    widget_class = {"kitty": TGPImage, "sixel": SixelImage}[protocol]
    return widget_class(str(path), id=id)
