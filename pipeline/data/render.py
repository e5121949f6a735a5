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

import bisect
import io
import math
import random
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
    """Uniform draws in a range from a Python `random.Random` (scalar draws there cost ~20x less than numpy's)."""

    def __init__(self, rng: random.Random) -> None:
        self._random = rng.random
        self.integer = rng.randint  # both ends included

    def __call__(self, low: float = 0.0, high: float = 1.0) -> float:
        return low + (high - low) * self._random()


def as_random(rng: random.Random | np.random.Generator) -> random.Random:
    """A `random.Random` from either kind of generator (a numpy one seeds a new Random from one draw)."""
    if isinstance(rng, random.Random):
        return rng
    return random.Random(int(rng.integers(0, 2**63)))


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


def sample_render_params(rng: random.Random | np.random.Generator, aug: AugmentationConfig) -> RenderParams:
    """Draw all random choices for one line from `aug`.

    Args:
        rng: Source of randomness, seeded by the caller per sample.
        aug: Probabilities and strengths of each augmentation.
    """
    u = _Uniforms(as_random(rng))
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


@lru_cache(maxsize=512)
def glyph_table(font_path: str, size: int) -> dict[str, Glyph]:
    """The per-(font, size) glyph cache, filled on first use of each character."""
    return {}


def glyph(font_path: str, size: int, char: str) -> Glyph:
    """The bitmap and metrics of one character, cached."""
    table = glyph_table(font_path, size)
    found = table.get(char)
    if found is None:
        found = table[char] = _rasterise(font_path, size, char)
    return found


def _rasterise(font_path: str, size: int, char: str) -> Glyph:
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
    i = bisect.bisect_left(SIZE_LADDER, ideal)
    if i == 0:
        return SIZE_LADDER[0]
    if i == len(SIZE_LADDER):
        return SIZE_LADDER[-1]
    below, above = SIZE_LADDER[i - 1], SIZE_LADDER[i]
    return below if ideal - below <= above - ideal else above


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
    # Without rotation or perspective the mapping is a scale and a shift: a resize (far faster than PIL's
    # generic transform) to `scaled_size`, pasted at `paste_at`.
    scaled_size: tuple[int, int] | None = None
    paste_at: tuple[int, int] = (0, 0)


def _homography(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 8 coefficients mapping points `src` (4x2) onto `dst` (4x2) projectively."""
    rows = []
    for (x, y), (u, v) in zip(src, dst, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    return np.linalg.solve(np.array(rows, dtype=np.float64), dst.reshape(8).astype(np.float64))


def _layout(text: str, font_path: str, size: int, params: RenderParams) -> tuple:
    """Glyphs, their top-left positions in the ink layer, and the layer size (one pass over the text)."""
    ascent, descent = load_font(font_path, size).getmetrics()
    amplitude = params.baseline_jitter * size
    room = int(math.ceil(amplitude))
    baseline = room + ascent
    omega = 2 * math.pi / (params.baseline_period * size)
    phase, spacing = params.baseline_phase, params.char_spacing
    table = glyph_table(font_path, size)
    glyphs, raw = [], []
    pen, left, right = 0.0, 0.0, 0.0
    for char in text:
        g = table.get(char) or glyph(font_path, size, char)
        glyphs.append(g)
        x = pen + g.left
        y = baseline + g.top + (amplitude * math.sin(omega * pen + phase) if amplitude else 0.0)
        raw.append((x, y))
        if g.bitmap.size:
            left = min(left, x)
            right = max(right, x + g.bitmap.shape[1])
        right = max(right, pen + g.advance)
        pen += g.advance * spacing
    positions = tuple((int(round(x - left)), int(round(y))) for x, y in raw)
    layer = (max(1, int(math.ceil(right - left))), ascent + descent + 2 * room)
    return tuple(glyphs), positions, layer


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
    scaled_size, paste_at = None, (0, 0)
    if not perspective and rotation == 0.0:
        scaled_size = (max(1, int(round(layer_w * scale))), max(1, int(round(layer_h * scale))))
        paste_at = (int(round(shift_x)), int(round(shift_y)))
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
    return LinePlan(
        glyphs, positions, (layer_w, layer_h), (width, height), coefficients, perspective, size, rotation, scaled_size, paste_at
    )


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
