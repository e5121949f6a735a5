"""A contact sheet of dataset lines with their labels, so a user sees exactly what the model sees."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from PIL import Image, ImageDraw
from torch.utils.data import Dataset

from fonts import FONT_DIR
from pipeline.config.data_sections import AugmentationConfig
from pipeline.data.fonts import load_font
from pipeline.data.samples import tensor_to_image

LABEL_FONT = FONT_DIR / "DejaVuSans.ttf"
LABEL_SIZE = 14
MAX_CELL_WIDTH = 760


def _label_line(index: int, label: str, note: str) -> str:
    shown = repr(label) if label else "(blank)"
    return f"#{index}  {shown}" + (f"   [{note}]" if note else "")


def write_contact_sheet(
    dataset: Dataset, path: str | Path, n: int = 32, columns: int = 2, zoom: int = 2, start: int = 0
) -> Path:
    """Write a PNG grid of the first `n` items (from `start`) with each label printed under its image.

    Images are shown as the model gets them (after augmentation and resizing), enlarged `zoom` times with
    nearest-neighbour so no smoothing hides artefacts.

    Args:
        dataset: Items `(image tensor, label)`; its `describe(i)` (font, file) is shown if it has one.
        path: Where to write the PNG; parent folders are created.
        n: Number of items.
        columns: Items per row.
        zoom: Integer enlargement.
        start: First index.

    Returns:
        The path written.
    """
    if n < 1 or columns < 1 or zoom < 1:
        raise ValueError(f"n={n}, columns={columns}, zoom={zoom} are not allowed; each must be >= 1")
    indices = list(range(start, min(start + n, len(dataset))))
    if not indices:
        raise ValueError(f"the dataset has no items from index {start} (it has {len(dataset)})")
    describe = getattr(dataset, "describe", None)
    cells = []
    for index in indices:
        tensor, label = dataset[index]
        image = tensor_to_image(tensor)
        image = image.resize((image.width * zoom, image.height * zoom), Image.Resampling.NEAREST)
        if image.width > MAX_CELL_WIDTH:  # very long lines: shrink to fit the cell, keeping the aspect ratio
            image = image.resize(
                (MAX_CELL_WIDTH, max(1, round(image.height * MAX_CELL_WIDTH / image.width))),
                Image.Resampling.BILINEAR,
            )
        cells.append((image, _label_line(index, label, describe(index) if describe else "")))
    font = load_font(str(LABEL_FONT), LABEL_SIZE)
    text_height = LABEL_SIZE + 8
    cell_width = min(MAX_CELL_WIDTH, max(max(img.width for img, _ in cells), 200))
    cell_height = max(img.height for img, _ in cells) + text_height + 12
    rows = (len(cells) + columns - 1) // columns
    sheet = Image.new("RGB", (columns * (cell_width + 16) + 16, rows * cell_height + 16), (235, 235, 240))
    draw = ImageDraw.Draw(sheet)
    for k, (image, caption) in enumerate(cells):
        x = 16 + (k % columns) * (cell_width + 16)
        y = 16 + (k // columns) * cell_height
        sheet.paste(image.convert("RGB"), (x, y))
        draw.rectangle((x - 1, y - 1, x + image.width, y + image.height), outline=(160, 160, 170))
        while caption and draw.textlength(caption, font=font) > cell_width:
            caption = caption[:-2] + "…"
        draw.text((x, y + image.height + 4), caption, font=font, fill=(20, 20, 90))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path, format="PNG")
    return path


def describe_augmentations(aug: AugmentationConfig) -> list[str]:
    """One line per augmentation probability: how often each disturbance appears on the sheet's lines."""
    probs = [
        (f.name.removesuffix("_prob"), getattr(aug, f.name)) for f in fields(aug) if f.name.endswith("_prob")
    ]
    on = ", ".join(f"{name} {value:.0%}" for name, value in probs if value > 0)
    off = ", ".join(name for name, value in probs if value == 0)
    return [f"augmentations: {on or 'none'}"] + ([f"off: {off}"] if off else [])
