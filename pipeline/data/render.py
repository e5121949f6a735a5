"""Render one text line to a greyscale image with augmentations.

Rendering is split in three steps so each can be used alone:

1. `sample_render_params` draws every random choice into a `RenderParams` (tests assert on these);
2. `plan_line` lays the glyphs out and computes the output size without drawing (cheap: loaders use it to
   group lines of similar width);
3. `draw_line` composes the pixels.

Speed: glyph masks are cached per (font, size, character); rotation, perspective, crop and scaling are one
PIL transform (a plain resize when there is no rotation or perspective); textures and noise are windows of
precomputed fields; no per-pixel Python loops.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from pipeline.data.backgrounds import make_background, noise_field, window
from pipeline.data.config import AugmentationConfig
from pipeline.data.layout import LinePlan, plan_line
from pipeline.data.params import RenderParams, sample_render_params

__all__ = ["LinePlan", "RenderParams", "draw_line", "draw_line_pixels", "plan_line", "render_text_line", "sample_render_params"]


def _ink_layer(plan: LinePlan) -> Image.Image:
    """The glyph masks composed at layout size (overlaps, from tight spacing, blend as ink would)."""
    layer = Image.new("L", plan.layer_size, 0)
    paste = layer.paste
    for position, g in zip(plan.positions, plan.glyphs, strict=True):
        if g.mask is not None:
            paste(255, position, g.mask)
    return layer


def _ink(plan: LinePlan) -> np.ndarray:
    """Ink coverage (0..1 float32) of the planned line at output size."""
    layer = _ink_layer(plan)
    if plan.scaled_size is not None:
        canvas = Image.new("L", plan.output_size, 0)
        canvas.paste(layer.resize(plan.scaled_size, Image.Resampling.BILINEAR), plan.paste_at)
    elif plan.perspective:
        canvas = layer.transform(plan.output_size, Image.Transform.PERSPECTIVE, plan.coefficients, Image.Resampling.BILINEAR)
    else:
        canvas = layer.transform(plan.output_size, Image.Transform.AFFINE, plan.coefficients[:6], Image.Resampling.BILINEAR)
    return np.asarray(canvas, dtype=np.float32) * (1.0 / 255.0)


def draw_line_pixels(plan: LinePlan, params: RenderParams) -> np.ndarray:
    """Compose a planned line as a uint8 (height, width) array: ink on background, contrast and brightness,
    blur, noise, then JPEG compression (applied last, as a camera or scanner would)."""
    width, height = plan.output_size
    pixels = make_background(
        params.background_kind,
        params.background_grey,
        params.background_strength,
        params.background_variant,
        params.background_offset,
        height,
        width,
    )
    if plan.glyphs:
        pixels = pixels + (params.text_grey - pixels) * _ink(plan)
    if params.contrast != 1.0 or params.brightness != 0.0:
        pixels = (pixels - 128.0) * params.contrast + (128.0 + params.brightness)
    if params.blur_sigma > 0:
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
        pixels = np.asarray(image.filter(ImageFilter.GaussianBlur(params.blur_sigma)))
    if params.noise_sigma > 0:
        pixels = pixels + params.noise_sigma * window(noise_field(), params.noise_offset, height, width)
    if pixels.dtype != np.uint8:
        pixels = np.clip(pixels, 0, 255).astype(np.uint8)
    if params.jpeg_quality is not None:
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="JPEG", quality=params.jpeg_quality)
        with Image.open(io.BytesIO(buffer.getvalue()), formats=["JPEG"]) as decoded:
            pixels = np.asarray(decoded.convert("L"))
    return pixels


def draw_line(plan: LinePlan, params: RenderParams) -> Image.Image:
    """Compose a planned line as a mode "L" image (see `draw_line_pixels`)."""
    return Image.fromarray(draw_line_pixels(plan, params))


def render_text_line(
    text: str, font: str | Path, rng: random.Random | np.random.Generator, height: int, aug: AugmentationConfig
) -> Image.Image:
    """Render `text` with `font` as a greyscale (mode "L") line image `height` pixels tall.

    The width follows the text (never squeezed to a fixed width). An empty `text` gives a plausible blank
    background. Deterministic for a given rng state.
    """
    params = sample_render_params(rng, aug)
    return draw_line(plan_line(text, font, params, height), params)
