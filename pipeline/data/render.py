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
from PIL import Image, ImageChops, ImageFilter

from pipeline.config.data_sections import AugmentationConfig
from pipeline.data.backgrounds import FIELD_SCALE, linear_map, make_background, noise_image, window
from pipeline.data.layout import LinePlan, plan_line
from pipeline.data.params import RenderParams, sample_render_params

__all__ = [
    "LinePlan",
    "RenderParams",
    "draw_image",
    "draw_line",
    "draw_line_pixels",
    "plan_line",
    "render_text_line",
    "sample_render_params",
]


def _ink_layer(plan: LinePlan) -> Image.Image:
    """The glyph masks composed at layout size (overlaps, from tight spacing, blend as ink would)."""
    layer = Image.new("L", plan.layer_size, 0)
    paste = layer.paste
    for position, g in zip(plan.positions, plan.glyphs, strict=True):
        if g.mask is not None:
            paste(255, position, g.mask)
    return layer


def _ink(plan: LinePlan) -> Image.Image:
    """Ink coverage (mode "L", 255 = full ink) of the planned line at output size."""
    layer = _ink_layer(plan)
    if plan.scaled_size is not None:
        canvas = Image.new("L", plan.output_size, 0)
        canvas.paste(layer.resize(plan.scaled_size, Image.Resampling.BILINEAR), plan.paste_at)
        return canvas
    if plan.perspective:
        return layer.transform(plan.output_size, Image.Transform.PERSPECTIVE, plan.coefficients, _BILINEAR)
    return layer.transform(plan.output_size, Image.Transform.AFFINE, plan.coefficients[:6], _BILINEAR)


_BILINEAR = Image.Resampling.BILINEAR


def _jpeg_round_trip(image: Image.Image, quality: int) -> Image.Image:
    """The image after JPEG compression at `quality` (blocking and ringing as in real scans)."""
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    data = buffer.getvalue()
    try:  # the raw decoder skips the JPEG plugin's Python-level parsing (about half the cost)
        return Image.frombytes("L", image.size, data, "jpeg", "L", "")
    except (TypeError, ValueError, OSError):  # decoder arguments differ in some Pillow version
        with Image.open(io.BytesIO(data), formats=["JPEG"]) as decoded:
            return decoded.convert("L")


def draw_image(plan: LinePlan, params: RenderParams) -> Image.Image:
    """Compose a planned line as a mode "L" image: ink over the background, contrast and brightness, blur,
    sensor noise, then JPEG compression (last, as a camera or scanner would). Every step is one C call."""
    width, height = plan.output_size
    image = make_background(
        params.background_kind,
        params.background_grey,
        params.background_strength,
        params.background_variant,
        params.background_offset,
        height,
        width,
    )
    if plan.glyphs:
        image.paste(params.text_grey, (0, 0), _ink(plan))  # alpha-blends the ink colour by coverage
    if params.contrast != 1.0 or params.brightness != 0.0:
        image = linear_map(image, params.contrast, 128.0 * (1.0 - params.contrast) + params.brightness)
    if params.blur_sigma > 0:
        image = image.filter(ImageFilter.GaussianBlur(params.blur_sigma))
    if params.noise_sigma > 0:
        slope = params.noise_sigma / FIELD_SCALE  # the noise field is centred on 128, FIELD_SCALE per unit
        noise = linear_map(
            window(noise_image(), params.noise_offset, height, width), slope, 128.0 * (1.0 - slope)
        )
        image = ImageChops.add(image, noise, scale=1.0, offset=-128)
    if params.jpeg_quality is not None:
        image = _jpeg_round_trip(image, params.jpeg_quality)
    return image


def draw_line_pixels(plan: LinePlan, params: RenderParams) -> np.ndarray:
    """`draw_image` as a uint8 (height, width) array."""
    return np.asarray(draw_image(plan, params))


def draw_line(plan: LinePlan, params: RenderParams) -> Image.Image:
    """Compose a planned line as a mode "L" image (see `draw_image`)."""
    return draw_image(plan, params)


def render_text_line(
    text: str,
    font: str | Path,
    rng: random.Random | np.random.Generator,
    height: int,
    aug: AugmentationConfig,
) -> Image.Image:
    """Render `text` with `font` as a greyscale (mode "L") line image `height` pixels tall.

    The width follows the text (never squeezed to a fixed width). An empty `text` gives a plausible blank
    background. Deterministic for a given rng state.
    """
    params = sample_render_params(rng, aug)
    return draw_line(plan_line(text, font, params, height), params)
