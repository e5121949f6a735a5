"""Backgrounds and noise for rendered lines: plain, paper-like, gradients and procedural textures.

Textures and the noise field are generated once per process from fixed seeds (so every process draws the
same pixels for the same sample) and each line takes a window of them at a sampled offset. Drawing fresh
random fields per line would cost more than everything else in the renderer.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image, ImageFilter

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
    field = 0.5 * _smooth_noise(rng, h, w, 0.7) + 0.35 * _smooth_noise(rng, h, w, 3) + 0.6 * _smooth_noise(rng, h, w, 12)
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
    dust = np.asarray(Image.fromarray(((dust + 1) * 127).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.6)))
    dust = dust.astype(np.float32) / 127 - 1

    grid = np.where((rows % 16 < 1) | (cols % 16 < 1), -1.0, 0.0).astype(np.float32)
    grid += 0.1 * _smooth_noise(rng, h, w, 2)

    warp = 6 * _smooth_noise(rng, h, w, 20)
    streaks = np.sin((cols * 0.9 + rows * 0.25 + warp) * 0.35).astype(np.float32) * 0.6
    streaks += 0.3 * _smooth_noise(rng, h, w, 1.5)
    return tuple(_normalise(t) for t in (ruled, stains, dust, grid, streaks))


@lru_cache(maxsize=1)
def noise_field() -> np.ndarray:
    """Standard normal noise, windows of which serve as per-line sensor noise."""
    return np.random.default_rng(3003).standard_normal((TEXTURE_HEIGHT, NOISE_WIDTH)).astype(np.float32)


def window(field: np.ndarray, offset: tuple[float, float], height: int, width: int) -> np.ndarray:
    """A height x width window of `field` at a fractional offset, wrapping around its edges if needed."""
    field_h, field_w = field.shape
    y0 = int(offset[0] * field_h) % field_h
    x0 = int(offset[1] * field_w) % field_w
    if y0 + height <= field_h and x0 + width <= field_w:
        return field[y0 : y0 + height, x0 : x0 + width]
    rows = np.arange(y0, y0 + height) % field_h
    cols = np.arange(x0, x0 + width) % field_w
    return field[rows[:, None], cols[None, :]]


def make_background(
    kind: str, grey: float, strength: float, variant: int, offset: tuple[float, float], height: int, width: int
) -> np.ndarray:
    """A float32 height x width background around `grey`.

    Args:
        kind: One of `BACKGROUND_KINDS`.
        grey: Base grey level (0..255).
        strength: Amplitude in grey levels of the texture or gradient (signed for gradients).
        variant: Which texture or gradient direction.
        offset: Fractional (row, column) position of the texture window.
    """
    if kind == "plain" or strength == 0:
        return np.full((height, width), grey, dtype=np.float32)
    if kind == "paper":
        return grey + strength * window(paper_texture(), offset, height, width)
    if kind == "texture":
        texture = textures()[variant % NUM_TEXTURE_VARIANTS]
        return grey + strength * window(texture, offset, height, width)
    if kind == "gradient":
        across = np.linspace(-1.0, 1.0, width, dtype=np.float32)[None, :]
        down = np.linspace(-1.0, 1.0, height, dtype=np.float32)[:, None]
        shape = (across, down, (across + down) * 0.5, (across - down) * 0.5)[variant % NUM_GRADIENT_VARIANTS]
        return np.broadcast_to(grey + strength * shape, (height, width)).astype(np.float32)
    raise ValueError(f"background kind {kind!r} is unknown; allowed {', '.join(BACKGROUND_KINDS)}")
