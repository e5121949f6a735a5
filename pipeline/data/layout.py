"""Glyph layout and line geometry: where each glyph goes and how the ink layer maps onto the output image.

Planning draws nothing, so it is cheap enough for loaders to learn every line's width up front.
Glyphs are cached per (font, size, character) and placed one by one, which allows character spacing and
baseline jitter but ignores kerning and complex-script shaping.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw

from pipeline.data.fonts import load_font
from pipeline.data.params import RenderParams

# A long line turned by a few degrees rises by many line heights, and its axis-aligned crop would shrink the
# text to a sliver; line detectors crop along the line, so residual rotation is capped to this rise.
MAX_ROTATION_RISE = 0.6
# Below this output/layout scale, bilinear resampling aliases thin strokes: lay out at a smaller size.
MIN_SCALE = 0.75
# Font sizes come from this ladder so the glyph cache stays small and warm; the final scaling to the
# output height takes up the difference.
SIZE_LADDER = (6, 8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256)


@dataclass(frozen=True)
class Glyph:
    mask: Image.Image | None  # mode "L" coverage; None for blank glyphs (space)
    left: int  # offset of the mask from the pen position
    top: int  # offset of the mask from the baseline (negative: above it)
    width: int
    advance: float


# The broad font set meets ~2,000 (font, size) pairs in a quickstart run (208 files, and low- and high-res
# rendering reach more of the ladder); with room for 512 tables the cache thrashed, re-rasterising ~8 glyphs a
# line. All of them hold ~17 MB of masks.
GLYPH_TABLES = 8192


@lru_cache(maxsize=GLYPH_TABLES)
def glyph_table(font_path: str, size: int) -> dict[str, Glyph]:
    """The per-(font, size) glyph cache, filled on first use of each character."""
    return {}


@lru_cache(maxsize=GLYPH_TABLES)
def font_metrics(font_path: str, size: int) -> tuple[int, int]:
    """(ascent, descent) of a font at a size, cached apart from the fonts, so laying a line out never reopens
    a font evicted from `load_font`'s smaller cache."""
    return load_font(font_path, size).getmetrics()


def glyph(font_path: str, size: int, char: str) -> Glyph:
    """The mask and metrics of one character, cached."""
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
        return Glyph(None, 0, 0, 0, advance)
    mask = Image.new("L", (right - left, bottom - top), 0)
    ImageDraw.Draw(mask).text((-left, -top), char, font=font, fill=255, anchor="ls")
    return Glyph(mask, left, top, right - left, advance)


def ladder_size(ideal: float) -> int:
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
    """(ascent + descent) / size: how tall the font's line box is per unit of size."""
    ascent, descent = font_metrics(font_path, 100)
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
    baseline: int = 0  # y of the baseline in the ink layer (underline and strike-through hang off it)
    # Size after drawing, when the line was drawn at another height (low-res or high-res rendering, then
    # resized the way inference resizes); None when drawn at its final size.
    final_size: tuple[int, int] | None = None

    @property
    def size(self) -> tuple[int, int]:
        """The (width, height) of the finished image."""
        return self.final_size or self.output_size


def quad_homography(width: float, height: float, quad: list[tuple[float, float]]) -> tuple[float, ...]:
    """PIL PERSPECTIVE coefficients mapping output points in `quad` back onto the `width` x `height` layer.

    `quad` holds where the layer corners (0,0), (w,0), (w,h), (0,h) land in the output. Closed form
    (Heckbert's square-to-quad, then a 3x3 inverse), no linear solve.
    """
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = quad
    sx, sy = x0 - x1 + x2 - x3, y0 - y1 + y2 - y3
    dx1, dx2, dy1, dy2 = x1 - x2, x3 - x2, y1 - y2, y3 - y2
    den = dx1 * dy2 - dx2 * dy1
    g = (sx * dy2 - dx2 * sy) / den
    h = (dx1 * sy - sx * dy1) / den
    # unit square -> quad; fold in the layer size so (x, y) in the layer maps to the output
    a, b, c = (x1 - x0 + g * x1) / width, (x3 - x0 + h * x3) / height, x0
    d, e, f = (y1 - y0 + g * y1) / width, (y3 - y0 + h * y3) / height, y0
    g, h = g / width, h / height
    # inverse via the adjugate; any common factor cancels when normalising by the last entry
    ia, ib, ic = e - f * h, c * h - b, b * f - c * e
    id_, ie, if_ = f * g - d, a - c * g, c * d - a * f
    ig, ih, ii = d * h - e * g, b * g - a * h, a * e - b * d
    return (ia / ii, ib / ii, ic / ii, id_ / ii, ie / ii, if_ / ii, ig / ii, ih / ii)


def _layout(text: str, font_path: str, size: int, params: RenderParams) -> tuple:
    """Glyphs, their top-left positions in the ink layer, and the layer size (one pass over the text)."""
    ascent, descent = font_metrics(font_path, size)
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
        if g.width:
            if x < left:
                left = x
            if x + g.width > right:
                right = x + g.width
        if pen + g.advance > right:
            right = pen + g.advance
        pen += g.advance * spacing
    positions = tuple((int(round(x - left)), int(round(y))) for x, y in raw)
    layer = (max(1, int(math.ceil(right - left))), ascent + descent + 2 * room)
    return tuple(glyphs), positions, layer, baseline


def _geometry(layer_w: float, layer_h: float, params: RenderParams, height: int) -> tuple:
    """The layer corners after perspective and (capped) rotation, their bounding box and the output scale."""
    rise_limit = math.degrees(math.atan(MAX_ROTATION_RISE * layer_h / layer_w))
    rotation = max(-rise_limit, min(rise_limit, params.rotation_degrees))
    cos, sin = math.cos(math.radians(rotation)), math.sin(math.radians(rotation))
    cx, cy = layer_w / 2, layer_h / 2
    shifts = params.perspective_shifts
    quad = []
    for k, (x, y) in enumerate(((0.0, 0.0), (layer_w, 0.0), (layer_w, layer_h), (0.0, layer_h))):
        # image y points down, so a positive angle turns the line counter-clockwise
        rx, ry = x + shifts[2 * k] * layer_h - cx, y + shifts[2 * k + 1] * layer_h - cy
        quad.append((cx + rx * cos + ry * sin, cy - rx * sin + ry * cos))
    x_min, x_max = min(q[0] for q in quad), max(q[0] for q in quad)
    y_min, y_max = min(q[1] for q in quad), max(q[1] for q in quad)
    scale = height / ((y_max - y_min) + (params.margin_top + params.margin_bottom) * layer_h)
    return rotation, cos, sin, quad, (x_min, x_max, y_min, y_max), scale


def plan_line(
    text: str, font_path: str | Path, params: RenderParams, height: int, width_scale: float = 1.0
) -> LinePlan:
    """Lay out `text` and compute the output image size and geometric mapping (no drawing).

    Args:
        text: The line; "" gives a blank line `params.blank_width` heights wide.
        font_path: A TrueType/OpenType font file.
        params: Sampled choices from `sample_render_params`.
        height: Output height in pixels.
        width_scale: Horizontal stretch after scaling to `height` (the resize rule every line follows, so
            narrow characters get enough output frames; see `SyntheticDataConfig.width_scale`).
    """
    font_path = str(font_path)
    if not text:
        width = max(1, int(round(params.blank_width * height * width_scale)))
        return LinePlan((), (), (1, 1), (width, height), (0.0,) * 8, False, 0, 0.0)
    size = ladder_size(height / ((1.0 + params.margin_top + params.margin_bottom) * _box_ratio(font_path)))
    # Estimate the geometry from the summed advances to pick a size that needs little downscaling, so the
    # full layout runs once.
    table = glyph_table(font_path, size)
    advance = sum((table.get(c) or glyph(font_path, size, c)).advance for c in text)
    estimate_w = max(1.0, advance * params.char_spacing)
    estimate_h = _box_ratio(font_path) * size + 2 * math.ceil(params.baseline_jitter * size)
    scale = _geometry(estimate_w, estimate_h, params, height)[-1]
    if scale < MIN_SCALE:
        size = ladder_size(size * scale)
    for _ in range(2):
        glyphs, positions, (layer_w, layer_h), baseline = _layout(text, font_path, size, params)
        rotation, cos, sin, quad, (x_min, x_max, y_min, y_max), scale = _geometry(
            layer_w, layer_h, params, height
        )
        smaller = ladder_size(size * scale)
        if scale >= MIN_SCALE or smaller >= size:
            break
        size = smaller
    shift_x, shift_y = params.pad_left * height, params.margin_top * layer_h * scale
    ws = width_scale
    width = max(1, int(round(((x_max - x_min) * scale + (params.pad_left + params.pad_right) * height) * ws)))
    perspective = any(params.perspective_shifts)
    scaled_size, paste_at = None, (0, 0)
    if perspective:
        out = [(((x - x_min) * scale + shift_x) * ws, (y - y_min) * scale + shift_y) for x, y in quad]
        coefficients = quad_homography(layer_w, layer_h, out)
    else:  # rotation + scale + shift: invert the affine map directly
        cx, cy = layer_w / 2, layer_h / 2
        kx, ky = shift_x / scale + cx - x_min, shift_y / scale + cy - y_min
        coefficients = (
            cos / scale / ws, -sin / scale, cx - cos * kx + sin * ky,
            sin / scale / ws, cos / scale, cy - sin * kx - cos * ky,
            0.0, 0.0,
        )  # fmt: skip
        if rotation == 0.0:
            scaled_size = (max(1, int(round(layer_w * scale * ws))), max(1, int(round(layer_h * scale))))
            paste_at = (int(round(shift_x * ws)), int(round(shift_y)))
    return LinePlan(
        glyphs,
        positions,
        (layer_w, layer_h),
        (width, height),
        coefficients,
        perspective,
        size,
        rotation,
        scaled_size,
        paste_at,
        baseline,
    )
