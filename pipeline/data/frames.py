"""How many output frames a narrow character gets: CTC needs a blank between two identical letters, so a
doubled pair (`ll`, `ii`, `11`) must span at least 3 frames or the model can only read it as one letter."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from fonts import bundled_fonts
from pipeline.data.fonts import load_font
from pipeline.data.layout import _box_ratio

NARROW_CHARS = "li1"
# Margins above plus below the text, as a fraction of its box: the median of the default augmentation.
TYPICAL_MARGINS = 0.28
MIN_PAIR_FRAMES = 3


@dataclass(frozen=True)
class PairFrames:
    """Frames of one doubled pair in one font."""

    frames: float
    font: str
    pair: str


@lru_cache(maxsize=64)
def narrow_pair_frames(
    stride: int, image_height: int = 32, width_scale: float = 1.0, margins: float = TYPICAL_MARGINS
) -> tuple[PairFrames, ...]:
    """Output frames of every doubled narrow pair in every bundled font, narrowest first.

    A line is scaled so its text box plus `margins` fills `image_height`, then stretched by `width_scale`;
    a model with horizontal stride `stride` gives one frame per `stride` pixels.
    """
    rows = []
    for path in bundled_fonts():
        font = load_font(str(path), 100)
        px_per_em = image_height / ((1.0 + margins) * _box_ratio(str(path))) * width_scale
        for char in NARROW_CHARS:
            width = 2 * font.getlength(char) / 100 * px_per_em
            rows.append(PairFrames(width / stride, Path(path).name, char * 2))
    return tuple(sorted(rows, key=lambda r: r.frames))


def narrowest_pair(stride: int, image_height: int = 32, width_scale: float = 1.0) -> PairFrames:
    """The doubled narrow pair with the fewest frames over the bundled fonts."""
    return narrow_pair_frames(stride, image_height, width_scale)[0]
