"""Backgrounds and noise for rendered lines: plain, paper-like, gradients and procedural textures.

Textures and the noise field are generated once per process from fixed seeds (so every process draws the
same pixels for the same sample) and each line takes a window of them at a sampled offset. Drawing fresh
random fields per line would cost more than everything else in the renderer.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image, ImageChops, ImageFilter

BACKGROUND_KINDS = ("plain", "paper", "gradient", "texture")
TEXTURE_HEIGHT = 128
TEXTURE_WIDTH = 2048
NOISE_WIDTH = 4096
NUM_TEXTURE_VARIANTS = 5
NUM_GRADIENT_VARIANTS = 4


def _smooth_noise(rng: np.random.Generator, height: int, width: int, radius: float) -> np.ndarray:
    """White noise blurred to a given feature size, scaled to zero mean and unit deviation."""
    field = rng.standard_normal((height, width)).astype(np.float32)
    image = Image.fromarray(np.clip(field * 40 + 128, 0, 255).astype(np.uint8))
    smooth = np.asarray(image.filter(ImageFilter.GaussianBlur(radius)), dtype=np.float32)
    smooth = smooth - smooth.mean()
    return smooth / max(float(smooth.std()), 1e-6)


def _normalise(field: np.ndarray) -> np.ndarray:
    """Scale a field into -1..1 (negative = darker than the base grey)."""
    field = field.astype(np.float32)
    peak = float(np.abs(field).max())
    return field / peak if peak > 0 else field


@lru_cache(maxsize=1)
def paper_texture() -> np.ndarray:
    """Paper-like grain: fine speckle over soft blotches, values about -1..1."""
    rng = np.random.default_rng(1001)
    h, w = TEXTURE_HEIGHT, TEXTURE_WIDTH
    field = (
        0.5 * _smooth_noise(rng, h, w, 0.7)
        + 0.35 * _smooth_noise(rng, h, w, 3)
        + 0.6 * _smooth_noise(rng, h, w, 12)
    )
    return _normalise(np.clip(field, -3, 3))


@lru_cache(maxsize=1)
def textures() -> tuple[np.ndarray, ...]:
    """Procedural textures, each about -1..1: ruled lines, stains, dust, graph paper, streaks."""
    rng = np.random.default_rng(2002)
    h, w = TEXTURE_HEIGHT, TEXTURE_WIDTH
    rows = np.arange(h, dtype=np.float32)[:, None]
    cols = np.arange(w, dtype=np.float32)[None, :]

    ruled = np.zeros((h, w), np.float32)  # notebook / form lines crossing the line box
    for y in range(7, h, 37):
        ruled[y : y + 1 + (y % 2), :] = -1.0
    ruled += 0.15 * _smooth_noise(rng, h, w, 2)

    stains = np.minimum(_smooth_noise(rng, h, w, 18) - 0.6, 0)  # dark blotches on a clean sheet
    stains = stains + 0.2 * _smooth_noise(rng, h, w, 1)

    dust = 0.25 * _smooth_noise(rng, h, w, 1.0)
    spots = rng.random((h, w)) < 0.004
    dust[spots] = -1.0
    dust = np.asarray(
        Image.fromarray(((dust + 1) * 127).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.6))
    )
    dust = dust.astype(np.float32) / 127 - 1

    grid = np.where((rows % 16 < 1) | (cols % 16 < 1), -1.0, 0.0).astype(np.float32)
    grid += 0.1 * _smooth_noise(rng, h, w, 2)

    warp = 6 * _smooth_noise(rng, h, w, 20)
    streaks = np.sin((cols * 0.9 + rows * 0.25 + warp) * 0.35).astype(np.float32) * 0.6
    streaks += 0.3 * _smooth_noise(rng, h, w, 1.5)
    return tuple(_normalise(t) for t in (ruled, stains, dust, grid, streaks))


# Fields are stored as 8-bit images centred on 128 so every per-line step is a C call (crop, lookup table,
# paste); FIELD_SCALE grey levels of the image stand for one unit of the field.
FIELD_SCALE = 31.0


def _as_image(field: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(np.rint(128 + FIELD_SCALE * field), 0, 255).astype(np.uint8))


@lru_cache(maxsize=1)
def paper_image() -> Image.Image:
    """`paper_texture` as an 8-bit image (range -1..1 scaled by FIELD_SCALE)."""
    return _as_image(paper_texture())


@lru_cache(maxsize=1)
def texture_images() -> tuple[Image.Image, ...]:
    """`textures` as 8-bit images."""
    return tuple(_as_image(t) for t in textures())


@lru_cache(maxsize=1)
def noise_image() -> Image.Image:
    """Standard normal noise (clipped to 4 deviations) whose windows serve as per-line sensor noise."""
    field = np.random.default_rng(3003).standard_normal((TEXTURE_HEIGHT, NOISE_WIDTH))
    return _as_image(np.clip(field, -4, 4))


@lru_cache(maxsize=1)
def gradient_images() -> tuple[Image.Image, ...]:
    """Small linear ramps (-1..1) across, down and along both diagonals, resized to each line."""
    ramp = np.linspace(-1.0, 1.0, 16)  # small: lines are larger, so resizing only interpolates (cheap)
    across, down = ramp[None, :].repeat(16, 0), ramp[:, None].repeat(16, 1)
    return tuple(_as_image(f) for f in (across, down, (across + down) / 2, (across - down) / 2))


def window(field: Image.Image, offset: tuple[float, float], height: int, width: int) -> Image.Image:
    """A width x height window of an 8-bit field at a fractional offset (tiled if the field is too small)."""
    field_w, field_h = field.size
    if width <= field_w and height <= field_h:
        x0 = int(offset[1] * (field_w - width + 1))
        y0 = int(offset[0] * (field_h - height + 1))
        return field.crop((x0, y0, x0 + width, y0 + height))
    array = np.asarray(field)
    # tile rows and columns only: an RGB photo's channel axis stays as it is
    reps = (height // field_h + 2, width // field_w + 2) + (1,) * (array.ndim - 2)
    y0, x0 = int(offset[0] * field_h), int(offset[1] * field_w)
    return Image.fromarray(np.ascontiguousarray(np.tile(array, reps)[y0 : y0 + height, x0 : x0 + width]))


def linear_map(image: Image.Image, slope: float, offset: float) -> Image.Image:
    """`slope * v + offset` for every pixel, clipped to 0..255, as one C call (ImageChops).

    Much cheaper than `Image.point` with a per-line lookup table.
    """
    if slope == 0:
        return Image.new("L", image.size, int(round(min(255.0, max(0.0, offset)))))
    zero = Image.new("L", image.size, 0)
    if slope > 0:
        return ImageChops.add(image, zero, scale=1.0 / slope, offset=int(round(offset)))
    return ImageChops.subtract(zero, image, scale=-1.0 / slope, offset=int(round(offset)))


def make_background(
    kind: str,
    grey: float,
    strength: float,
    variant: int,
    offset: tuple[float, float],
    height: int,
    width: int,
) -> Image.Image:
    """A mode "L" width x height background around `grey`.

    Args:
        kind: One of `BACKGROUND_KINDS`.
        grey: Base grey level (0..255).
        strength: Amplitude in grey levels of the texture or gradient (signed for gradients).
        variant: Which texture or gradient direction.
        offset: Fractional (row, column) position of the texture window.
    """
    if kind == "plain" or strength == 0:
        return Image.new("L", (width, height), int(round(grey)))
    slope = strength / FIELD_SCALE
    if kind == "paper":
        field = window(paper_image(), offset, height, width)
    elif kind == "texture":
        field = window(texture_images()[variant % NUM_TEXTURE_VARIANTS], offset, height, width)
    elif kind == "gradient":
        field = gradient_images()[variant % NUM_GRADIENT_VARIANTS].resize(
            (width, height), Image.Resampling.BILINEAR
        )
    else:
        raise ValueError(f"background kind {kind!r} is unknown; allowed {', '.join(BACKGROUND_KINDS)}")
    return linear_map(field, slope, grey - 128.0 * slope)
