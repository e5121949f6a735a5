"""A reproducible dataset of synthetic text lines, rendered on the fly.

Sample `i` of split `s` with seed `k` is a pure function of (k, s, i): its random generator is seeded from
those three numbers alone, so any process, worker or order gives the same pixels and label, and train, val
and test sets are reproducible without storing a single image.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image
from torch.utils.data import Dataset

from pipeline.config.data_sections import AugmentationConfig, SyntheticDataConfig
from pipeline.core.charset import Charset
from pipeline.data.fonts import FONT_POOLS, drawable_chars, resolve_font_pools
from pipeline.data.render import (
    LinePlan,
    RenderParams,
    draw_line_pixels,
    plan_line,
    sample_render_params,
    with_final_height,
)
from pipeline.data.samples import LinePixels, LineSample, pixels_to_tensor
from pipeline.data.text import TextSampler, _cut

SPLITS = {"train": 0, "val": 1, "test": 2}


@dataclass(frozen=True)
class SyntheticSample:
    """One rendered line with everything that was chosen to draw it.

    Attributes:
        image: The line, mode "L".
        text: Its label ("" for a blank line).
        font: The font file name.
        params: The augmentation choices as applied (rotation after the long-line cap).
        font_size: The size the glyphs were rasterised at.
    """

    image: Image.Image
    text: str
    font: str
    params: RenderParams
    font_size: int


class SyntheticLineDataset(Dataset):
    """Synthetic text lines; item `i` is `(image tensor (1, H, W) in [-1, 1], label)`.

    Args:
        config: Text, fonts and image size.
        aug: Augmentation probabilities and strengths.
        charset: Characters labels may hold; generated text is filtered to it.
        size: Number of lines.
        seed: Base seed; with `split` and the index it fixes every line.
        split: "train", "val" or "test": independent streams of lines.
        font_pool: Fonts to draw with: "train" (not held out), "held_out" or "all". The train split only
            ever uses "train"; val and test default to "all".
    """

    def __init__(
        self,
        config: SyntheticDataConfig,
        aug: AugmentationConfig,
        charset: Charset,
        size: int,
        seed: int = 0,
        split: str = "train",
        font_pool: str | None = None,
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"split={split!r} is unknown; allowed {', '.join(SPLITS)}")
        if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= 2**36:
            raise ValueError(f"size={size!r} is not allowed; expected an integer 0..2**36")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed={seed!r} is not allowed; expected an integer >= 0")
        font_pool = font_pool or ("train" if split == "train" else "all")
        if font_pool not in FONT_POOLS:
            raise ValueError(f"font_pool={font_pool!r} is unknown; allowed {', '.join(FONT_POOLS)}")
        if split == "train" and font_pool != "train":
            raise ValueError(
                f"font_pool={font_pool!r} is not allowed for the train split; it only uses 'train' fonts"
            )
        self.config, self.aug, self.charset = config, aug, charset
        self.size, self.seed, self.split, self.font_pool = size, seed, split, font_pool
        self.pools = resolve_font_pools(config, charset)
        self.fonts: tuple[Path, ...] = self.pools.pool(font_pool)
        if not self.fonts:
            raise ValueError(
                f"font_pool={font_pool!r} has no fonts; set held_out_families or held_out_fonts in the data config"
            )
        self._font_paths = tuple(str(p) for p in self.fonts)
        self._drawable = {p: drawable_chars(p, frozenset(charset.chars)) for p in self._font_paths}
        self.text_sampler = TextSampler(config, charset)
        self._width_hints: np.ndarray | None = None
        # Widths asked one by one (by loaders, chunk by chunk) are remembered: -1 = not known yet.
        self._width_cache = np.full(size, -1, dtype=np.int32) if size <= 10_000_000 else None

    def __len__(self) -> int:
        return self.size

    def _rng(self, index: int) -> random.Random:
        if not 0 <= index < self.size:
            raise IndexError(f"index {index} is out of range for a dataset of {self.size} lines")
        # One integer that differs for every (seed, split, index) triple (index < 2**36): Random seeds its
        # whole state from it, the same way in every process.
        return random.Random((self.seed << 40) | (SPLITS[self.split] << 36) | index)

    def _plan(self, index: int) -> tuple[str, str, RenderParams, LinePlan]:
        """Every choice for line `index`, laid out but not drawn."""
        rng = self._rng(int(index))
        blank = rng.random() < self.config.blank_ratio
        font = rng.choice(self._font_paths)
        text = "" if blank else self.text_sampler.sample(rng, self._drawable[font])
        params = sample_render_params(rng, self.aug)
        height, max_width = self.config.image_height, self.config.max_image_width
        # A line drawn small (low dpi) or large is resized to `height` after drawing, as inference resizes.
        drawn_height = max(8, int(round(height * params.render_scale)))
        drawn_max_width = int(max_width * drawn_height / height)
        plan = plan_line(text, font, params, drawn_height, self.config.width_scale)
        for _ in range(6):  # too wide: shorten the text (never squeeze it), then drop the padding
            width = plan.output_size[0]
            if width <= drawn_max_width:
                break
            if len(text) > 1:
                keep = max(1, min(len(text) - 1, int(len(text) * drawn_max_width / width * 0.95)))
                text = _cut(text, keep, 1)
            else:
                params = replace(
                    params, pad_left=0.0, pad_right=0.0, blank_width=min(params.blank_width, 4.0)
                )
            plan = plan_line(text, font, params, drawn_height, self.config.width_scale)
        plan = with_final_height(plan, height, max_width)
        if plan.rotation_degrees != params.rotation_degrees:  # report the rotation actually applied
            params = replace(params, rotation_degrees=plan.rotation_degrees)
        return text, font, params, plan

    def sample(self, index: int) -> SyntheticSample:
        """Line `index` as a PIL image with its label, font and the augmentation choices applied."""
        text, font, params, plan = self._plan(index)
        image = Image.fromarray(draw_line_pixels(plan, params))
        return SyntheticSample(image, text, Path(font).name, params, plan.font_size)

    def sample_params(self, index: int) -> RenderParams:
        """The augmentation choices of line `index` as applied (cheap: nothing is drawn)."""
        return self._plan(index)[2]

    def label(self, index: int) -> str:
        """The label of line `index` (cheap: nothing is drawn)."""
        return self._plan(index)[0]

    def describe(self, index: int) -> str:
        """A short note on line `index` for previews: its font."""
        return Path(self._plan(index)[1]).stem

    def source(self, index: int) -> str:
        """Where line `index` comes from, for predictions files: enough to render it again."""
        if not 0 <= index < self.size:
            raise IndexError(f"index {index} is out of range for a dataset of {self.size} lines")
        return f"synthetic:{self.split}:{self.font_pool}:{self.seed}:{index}"

    def width_hint(self, index: int) -> int:
        """Exact pixel width of line `index`, computed without drawing it (for batching by width)."""
        if self._width_hints is not None:
            return int(self._width_hints[index])
        cache = self._width_cache
        if cache is not None and 0 <= index < self.size and cache[index] >= 0:
            return int(cache[index])
        width = self._plan(index)[3].size[0]
        if cache is not None:
            cache[index] = width
        return width

    def width_hints(self) -> np.ndarray:
        """Widths of all lines (computed once, then cached; about 0.1 ms a line)."""
        if self._width_hints is None:
            self._width_hints = np.array([self.width_hint(i) for i in range(self.size)], dtype=np.int64)
        return self._width_hints

    def pixels(self, index: int) -> LinePixels:
        """Line `index` as uint8 (H, W) pixels with its label."""
        text, _, params, plan = self._plan(index)
        return draw_line_pixels(plan, params), text

    def __getitem__(self, index: int) -> LineSample:
        pixels, text = self.pixels(index)
        return pixels_to_tensor(pixels), text

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_width_hints"] = None  # workers never need the hints; do not ship large arrays to each
        state["_width_cache"] = None
        return state
