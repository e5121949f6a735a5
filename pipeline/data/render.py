"""Render one text line to a greyscale image with augmentations.

Rendering is split in three steps so each can be used alone:

1. `sample_render_params` draws every random choice into a `RenderParams` (tests assert on these);
2. `plan_line` lays the glyphs out and computes the output size without drawing (cheap: loaders use it to
   group lines of similar width);
3. `draw_line` composes the pixels.

Speed: glyph bitmaps are cached per (font, size, character) and pasted with numpy, rotation, perspective,
crop and scaling are one PIL transform, textures and noise are precomputed windows. Glyphs are placed one by
one (so character spacing and baseline jitter are possible), which ignores kerning and complex-script shaping.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from pipeline.data.backgrounds import (
    BACKGROUND_KINDS,
    NUM_GRADIENT_VARIANTS,
    NUM_TEXTURE_VARIANTS,
    make_background,
    noise_field,
    window,
)
from pipeline.data.config import AugmentationConfig
from pipeline.data.fonts import load_font

# A long line turned by a few degrees rises by many line heights, and its axis-aligned crop would shrink the
# text to a sliver; line detectors crop along the line, so residual rotation is capped to this rise.
MAX_ROTATION_RISE = 0.6
# Below this output/layout scale, bilinear resampling aliases thin strokes: lay out again at a smaller size.
MIN_SCALE = 0.75


@dataclass(frozen=True)
class RenderParams:
    """Every random choice made for one line. Lengths are fractions (see `AugmentationConfig`)."""

    text_grey: int
    background_grey: int
    background_kind: str
    background_strength: float
    background_variant: int
    background_offset: tuple[float, float]
    char_spacing: float
    baseline_jitter: float
    baseline_period: float
    baseline_phase: float
    rotation_degrees: float
    perspective_shifts: tuple[float, ...]
    pad_left: float
    pad_right: float
    margin_top: float
    margin_bottom: float
    contrast: float
    brightness: float
    blur_sigma: float
    noise_sigma: float
    noise_offset: tuple[float, float]
    jpeg_quality: int | None
    blank_width: float


class _Uniforms:
    """Uniform draws taken from one batch: a single rng call instead of dozens of slow scalar ones."""

    def __init__(self, rng: np.random.Generator, count: int = 96) -> None:
        self._values = rng.random(count).tolist()
        self._next = 0

    def __call__(self, low: float = 0.0, high: float = 1.0) -> float:
        value = self._values[self._next]
        self._next += 1
        return low + (high - low) * value

    def integer(self, low: int, high: int) -> int:
        """An integer in low..high (both included)."""
        return min(high, low + int(self() * (high - low + 1)))


def _luma(red: float, green: float, blue: float) -> int:
    """Grey level of an RGB colour (ITU-R BT.601 weights, as PIL's convert('L'))."""
    return int(round(0.299 * red + 0.587 * green + 0.114 * blue))


def _sample_greys(u: _Uniforms, aug: AugmentationConfig) -> tuple[int, int]:
    """Text and background grey levels: dark ink on a lighter background, at least `min_contrast` apart."""
    if u() < aug.color_prob:
        for _ in range(6):  # random colours, as a colour scan converted to grey would show them
            text_grey = _luma(u(0, 255), u(0, 255), u(0, 255))
            background_grey = _luma(u(90, 255), u(90, 255), u(90, 255))
            if abs(background_grey - text_grey) >= aug.min_contrast:
                return min(text_grey, background_grey), max(text_grey, background_grey)
    background_grey = u.integer(max(170, aug.min_contrast), 255)
    text_grey = u.integer(0, max(0, min(110, background_grey - aug.min_contrast)))
    return text_grey, background_grey


def sample_render_params(rng: np.random.Generator, aug: AugmentationConfig) -> RenderParams:
    """Draw all random choices for one line from `aug`.

    Args:
        rng: Source of randomness, seeded by the caller per sample.
        aug: Probabilities and strengths of each augmentation.
    """
    u = _Uniforms(rng)
    text_grey, background_grey = _sample_greys(u, aug)
    weights = (
        aug.background_plain_weight,
        aug.background_paper_weight,
        aug.background_gradient_weight,
        aug.background_texture_weight,
    )
    roll, kind = u(0, sum(weights)), BACKGROUND_KINDS[-1]
    for name, weight in zip(BACKGROUND_KINDS, weights, strict=True):
        if roll < weight:
            kind = name
            break
        roll -= weight
    headroom = max(0.0, background_grey - text_grey - 0.7 * aug.min_contrast)  # keep the ink readable
    strength, variant = 0.0, 0
    if kind == "gradient":
        strength = u(-1, 1) * min(60.0, headroom)
        variant = u.integer(0, NUM_GRADIENT_VARIANTS - 1)
    elif kind == "texture":
        strength = u(6, 28) if headroom > 6 else headroom
        variant = u.integer(0, NUM_TEXTURE_VARIANTS - 1)
    elif kind == "paper":
        strength = u(3, 14)
    rotation = u(-1, 1) * aug.rotation_max_degrees if u() < aug.rotation_prob else 0.0
    shift = aug.perspective_max_shift
    shifts = tuple(u(-shift, shift) for _ in range(8)) if u() < aug.perspective_prob else (0.0,) * 8
    spacing = u(aug.char_spacing_min, aug.char_spacing_max) if u() < aug.char_spacing_prob else 1.0
    jitter = u(0.3, 1.0) * aug.baseline_jitter_max if u() < aug.baseline_jitter_prob else 0.0
    margin_low = min(0.03, aug.vertical_margin_max)
    return RenderParams(
        text_grey=text_grey,
        background_grey=background_grey,
        background_kind=kind,
        background_strength=strength,
        background_variant=variant,
        background_offset=(u(), u()),
        char_spacing=spacing,
        baseline_jitter=jitter,
        baseline_period=u(3.0, 12.0),
        baseline_phase=u(0, 2 * math.pi),
        rotation_degrees=rotation,
        perspective_shifts=shifts,
        pad_left=aug.horizontal_padding_max * u() ** 2,
        pad_right=aug.horizontal_padding_max * u() ** 2,
        margin_top=u(margin_low, aug.vertical_margin_max),
        margin_bottom=u(margin_low, aug.vertical_margin_max),
        contrast=u(aug.contrast_min, aug.contrast_max) if u() < aug.contrast_prob else 1.0,
        brightness=u(-1, 1) * aug.brightness_max_shift if u() < aug.brightness_prob else 0.0,
        blur_sigma=u(0.1, 1.0) * aug.blur_sigma_max if u() < aug.blur_prob else 0.0,
        noise_sigma=u(0.2, 1.0) * aug.noise_sigma_max if u() < aug.noise_prob else 0.0,
        noise_offset=(u(), u()),
        jpeg_quality=u.integer(aug.jpeg_quality_min, aug.jpeg_quality_max) if u() < aug.jpeg_prob else None,
        blank_width=u(2.0, 12.0),
    )


@dataclass(frozen=True)
class Glyph:
    bitmap: np.ndarray  # uint8 coverage, (h, w); empty for spaces
    left: int  # bitmap offset from the pen position
    top: int  # bitmap offset from the baseline (negative: above it)
    advance: float


@lru_cache(maxsize=65536)
def glyph(font_path: str, size: int, char: str) -> Glyph:
    """The cached bitmap and metrics of one character."""
    font = load_font(font_path, size)
    left, top, right, bottom = font.getbbox(char, anchor="ls")
    advance = float(font.getlength(char))
    if right <= left or bottom <= top:
        return Glyph(np.zeros((0, 0), np.uint8), 0, 0, advance)
    canvas = Image.new("L", (right - left, bottom - top), 0)
    ImageDraw.Draw(canvas).text((-left, -top), char, font=font, fill=255, anchor="ls")
    return Glyph(np.asarray(canvas), left, top, advance)


# Font sizes are drawn from this ladder so the glyph cache stays small and warm; the final scaling to the
# output height takes up the difference.
SIZE_LADDER = (6, 7, 8, 9, 10, 11, 12, 13, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 36, 40, 44, 48, 56, 64, 72, 80,
               96, 112, 128, 160, 192, 224, 256)  # fmt: skip


def _ladder_size(ideal: float) -> int:
    """The ladder size closest to `ideal`."""
    return min(SIZE_LADDER, key=lambda size: abs(size - ideal))


@lru_cache(maxsize=256)
def _box_ratio(font_path: str) -> float:
    """(ascent + descent) / size: how tall the font's line box is per point of size."""
    ascent, descent = load_font(font_path, 100).getmetrics()
    return (ascent + descent) / 100.0


@dataclass(frozen=True)
class LinePlan:
    """Where every glyph goes and how the layer maps onto the output, before any pixel is drawn."""

    glyphs: tuple[Glyph, ...]
    positions: tuple[tuple[int, int], ...]
    layer_size: tuple[int, int]  # (width, height) of the ink layer
    output_size: tuple[int, int]  # (width, height) of the final image
    coefficients: tuple[float, ...]  # output -> layer mapping for PIL's transform
    perspective: bool
    font_size: int
    rotation_degrees: float  # the rotation applied (the sampled one, capped for long lines)


def _homography(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 8 coefficients mapping points `src` (4x2) onto `dst` (4x2) projectively."""
    rows = []
    for (x, y), (u, v) in zip(src, dst, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    return np.linalg.solve(np.array(rows, dtype=np.float64), dst.reshape(8).astype(np.float64))


def _layout(text: str, font_path: str, size: int, params: RenderParams) -> tuple:
    ascent, descent = load_font(font_path, size).getmetrics()
    glyphs = tuple(glyph(font_path, size, c) for c in text)
    pens, pen = [], 0.0
    for g in glyphs:
        pens.append(pen)
        pen += g.advance * params.char_spacing
    end = pens[-1] + glyphs[-1].advance if glyphs else 0.0
    amplitude = params.baseline_jitter * size
    room = int(math.ceil(amplitude))
    left = min([0.0] + [p + g.left for p, g in zip(pens, glyphs, strict=True) if g.bitmap.size])
    right = max([end] + [p + g.left + g.bitmap.shape[1] for p, g in zip(pens, glyphs, strict=True) if g.bitmap.size])
    baseline = room + ascent
    omega = 2 * math.pi / (params.baseline_period * size)
    positions = tuple(
        (
            int(round(p + g.left - left)),
            int(round(baseline + g.top + amplitude * math.sin(omega * p + params.baseline_phase))),
        )
        for p, g in zip(pens, glyphs, strict=True)
    )
    layer = (max(1, int(math.ceil(right - left))), ascent + descent + 2 * room)
    return glyphs, positions, layer


def plan_line(text: str, font_path: str | Path, params: RenderParams, height: int) -> LinePlan:
    """Lay out `text` and compute the output image size and geometric mapping (no drawing).

    Args:
        text: The line; "" gives a blank line `params.blank_width` heights wide.
        font_path: A TrueType/OpenType font file.
        params: Sampled choices from `sample_render_params`.
        height: Output height in pixels.
    """
    font_path = str(font_path)
    if not text:
        width = max(1, int(round(params.blank_width * height)))
        return LinePlan((), (), (1, 1), (width, height), (0.0,) * 8, False, 0, 0.0)
    margins = params.margin_top + params.margin_bottom
    size = _ladder_size(height / ((1.0 + margins) * _box_ratio(font_path)))
    shifts = params.perspective_shifts
    for _ in range(2):
        glyphs, positions, (layer_w, layer_h) = _layout(text, font_path, size, params)
        rise_limit = math.degrees(math.atan(MAX_ROTATION_RISE * layer_h / layer_w))
        rotation = max(-rise_limit, min(rise_limit, params.rotation_degrees))
        cos, sin = math.cos(math.radians(rotation)), math.sin(math.radians(rotation))
        cx, cy = layer_w / 2, layer_h / 2
        src = ((0.0, 0.0), (float(layer_w), 0.0), (float(layer_w), float(layer_h)), (0.0, float(layer_h)))
        quad = []
        for k, (x, y) in enumerate(src):
            # image y points down, so a positive angle turns the line counter-clockwise
            rx, ry = x + shifts[2 * k] * layer_h - cx, y + shifts[2 * k + 1] * layer_h - cy
            quad.append((cx + rx * cos + ry * sin, cy - rx * sin + ry * cos))
        x_min, x_max = min(q[0] for q in quad), max(q[0] for q in quad)
        y_min, y_max = min(q[1] for q in quad), max(q[1] for q in quad)
        scale = height / ((y_max - y_min) + margins * layer_h)
        smaller = _ladder_size(size * scale)
        if scale >= MIN_SCALE or smaller >= size:
            break
        size = smaller
    shift_x, shift_y = params.pad_left * height, params.margin_top * layer_h * scale
    width = max(1, int(round((x_max - x_min) * scale + (params.pad_left + params.pad_right) * height)))
    perspective = any(shifts)
    if perspective:
        out = [((x - x_min) * scale + shift_x, (y - y_min) * scale + shift_y) for x, y in quad]
        coefficients = tuple(float(c) for c in _homography(np.array(out), np.array(src)))
    else:  # rotation + scale + shift: invert the affine map directly (no solve)
        kx = shift_x / scale + cx - x_min
        ky = shift_y / scale + cy - y_min
        coefficients = (
            cos / scale, -sin / scale, cx - cos * kx + sin * ky,
            sin / scale, cos / scale, cy - sin * kx - cos * ky,
            0.0, 0.0,
        )  # fmt: skip
    return LinePlan(glyphs, positions, (layer_w, layer_h), (width, height), coefficients, perspective, size, rotation)


def _ink_layer(plan: LinePlan) -> Image.Image:
    layer_w, layer_h = plan.layer_size
    layer = np.zeros((layer_h, layer_w), dtype=np.uint8)
    for (x, y), g in zip(plan.positions, plan.glyphs, strict=True):
        h, w = g.bitmap.shape
        if not h:
            continue
        y0, y1, x0, x1 = max(y, 0), min(y + h, layer_h), max(x, 0), min(x + w, layer_w)
        if y0 >= y1 or x0 >= x1:
            continue
        target = layer[y0:y1, x0:x1]
        np.maximum(target, g.bitmap[y0 - y : y1 - y, x0 - x : x1 - x], out=target)
    return Image.fromarray(layer)


def draw_line(plan: LinePlan, params: RenderParams) -> Image.Image:
    """Compose the pixels of a planned line: ink, background, photometric effects, blur, noise, JPEG."""
    width, height = plan.output_size
    background = make_background(
        params.background_kind,
        params.background_grey,
        params.background_strength,
        params.background_variant,
        params.background_offset,
        height,
        width,
    )
    if plan.glyphs:
        if plan.perspective:
            method, data = Image.Transform.PERSPECTIVE, plan.coefficients
        else:  # rotation, scale and shift only: the mapping is affine, and PIL's affine path is faster
            method, data = Image.Transform.AFFINE, plan.coefficients[:6]
        ink = _ink_layer(plan).transform(plan.output_size, method, data, resample=Image.Resampling.BILINEAR)
        alpha = np.asarray(ink, dtype=np.float32) * (1.0 / 255.0)
        pixels = background + (params.text_grey - background) * alpha
    else:
        pixels = background
    if params.contrast != 1.0 or params.brightness != 0.0:
        pixels = (pixels - 128.0) * params.contrast + (128.0 + params.brightness)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    if params.blur_sigma > 0:
        image = image.filter(ImageFilter.GaussianBlur(params.blur_sigma))
    if params.noise_sigma > 0:
        noise = window(noise_field(), params.noise_offset, height, width)
        noisy = np.asarray(image, dtype=np.float32) + params.noise_sigma * noise
        image = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
    if params.jpeg_quality is not None:
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=params.jpeg_quality)
        buffer.seek(0)
        image = Image.open(buffer)
        image.load()
    return image


def render_text_line(
    text: str, font: str | Path, rng: np.random.Generator, height: int, aug: AugmentationConfig
) -> Image.Image:
    """Render `text` with `font` as a greyscale (mode "L") line image `height` pixels tall.

    The width follows the text (never squeezed to a fixed width). An empty `text` gives a plausible blank
    background. Deterministic for a given rng state.
    """
    params = sample_render_params(rng, aug)
    return draw_line(plan_line(text, font, params, height), params)
