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
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageChops, ImageFilter, ImageStat

from pipeline.config.data_sections import AugmentationConfig
from pipeline.data.backgrounds import FIELD_SCALE, linear_map, make_background, noise_image, window
from pipeline.data.colour import contrasting_text_colour, rgb_background
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
    "with_final_height",
]


def _ink_layer(plan: LinePlan, params: RenderParams | None = None) -> Image.Image:
    """The glyph masks composed at layout size (overlaps, from tight spacing, blend as ink would), with the
    underline and strike-through rules when the params ask for them."""
    layer = Image.new("L", plan.layer_size, 0)
    paste = layer.paste
    for position, g in zip(plan.positions, plan.glyphs, strict=True):
        if g.mask is not None:
            paste(255, position, g.mask)
    if params is not None and (params.underline or params.strike):
        thickness = max(1, round(plan.font_size * 0.06))
        width = plan.layer_size[0]
        if params.underline:  # just under the baseline, through the descenders as a real underline does
            top = plan.baseline + max(1, round(plan.font_size * 0.1))
            layer.paste(255, (0, top, width, top + thickness))
        if params.strike:  # through the middle of the lower-case letters
            top = plan.baseline - round(plan.font_size * 0.27)
            layer.paste(255, (0, top, width, top + thickness))
    return layer


def _ink(plan: LinePlan, params: RenderParams | None = None) -> Image.Image:
    """Ink coverage (mode "L", 255 = full ink) of the planned line at output size."""
    layer = _ink_layer(plan, params)
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


def _paint_text(image: Image.Image, ink: Image.Image, text, background, params: RenderParams) -> None:
    """Paint the ink mask onto `image` in colour `text` (an int for "L", a tuple for "RGB"), with the drop
    shadow and outline the params ask for."""
    if params.shadow_offset != (0, 0):
        shadow = Image.new("L", ink.size, 0)
        shadow.paste(ink, params.shadow_offset)
        if isinstance(text, int):
            shade = (text + background) // 2
        else:
            shade = tuple((t + b) // 2 for t, b in zip(text, background, strict=True))
        image.paste(shade, (0, 0), shadow)
    if params.outline:  # hollow letters: a ring of ink colour around a core of background colour
        image.paste(text, (0, 0), ink.filter(ImageFilter.MaxFilter(3)))
        image.paste(background, (0, 0), ink)
        return
    image.paste(text, (0, 0), ink)  # alpha-blends the ink colour by coverage


def _colour_line(plan: LinePlan, params: RenderParams) -> Image.Image:
    """A colour line composed in RGB and converted to grey (ITU-R 601), as a colour photo is at inference."""
    width, height = plan.output_size
    background = rgb_background(
        params.rgb_kind,
        params.rgb_background,
        params.rgb_background2,
        params.rgb_photo_variant,
        params.rgb_photo_mix,
        params.background_offset,
        params.background_variant,
        height,
        width,
    )
    if plan.glyphs:
        text, background = contrasting_text_colour(
            background, params.rgb_text_hue, params.rgb_text_position, params.min_contrast
        )
        fill = tuple(int(c) for c in ImageStat.Stat(background).mean)
        _paint_text(background, _ink(plan, params), text, fill, params)
    return background.convert("L")


def draw_image(plan: LinePlan, params: RenderParams) -> Image.Image:
    """Compose a planned line as a mode "L" image: ink over the background (in RGB for colour lines, then
    converted), contrast and brightness, blur, sensor noise, JPEG compression (as a camera or scanner
    would), then the resize to the final size when the line was drawn at another height. Every step is one
    C call."""
    width, height = plan.output_size
    if params.rgb_kind:
        image = _colour_line(plan, params)
    else:
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
            _paint_text(image, _ink(plan, params), params.text_grey, params.background_grey, params)
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
    if plan.final_size is not None and plan.final_size != image.size:
        image = image.resize(plan.final_size, Image.Resampling.BILINEAR)  # the resize inference applies
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
    plan = plan_line(text, font, params, max(8, round(height * params.render_scale)))
    return draw_line(with_final_height(plan, height), params)


def with_final_height(plan: LinePlan, height: int, max_width: int | None = None) -> LinePlan:
    """`plan` to be resized to `height` after drawing (aspect ratio kept, as inference resizes), if it was
    laid out at another height."""
    width, drawn_height = plan.output_size
    if drawn_height == height:
        return plan
    final_width = max(1, int(round(width * height / drawn_height)))
    if max_width is not None:
        final_width = min(final_width, max_width)
    return replace(plan, final_size=(final_width, height))
