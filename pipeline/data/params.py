"""Every random choice for one rendered line, drawn up front so tests can check it and rendering is pure."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np

from pipeline.config.data_sections import AugmentationConfig
from pipeline.data.backgrounds import BACKGROUND_KINDS, NUM_GRADIENT_VARIANTS, NUM_TEXTURE_VARIANTS
from pipeline.data.colour import NUM_PHOTO_VARIANTS, RGB_KINDS


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
    # Colour lines (rgb_kind != ""): drawn in RGB, then converted to grey. Text colour is fixed at draw time
    # from the background's luma so it stays `min_contrast` apart: hue direction and where in the room.
    rgb_kind: str = ""
    rgb_background: tuple[int, int, int] = (255, 255, 255)
    rgb_background2: tuple[int, int, int] = (255, 255, 255)
    rgb_text_hue: tuple[float, float, float] = (0.0, 0.0, 0.0)
    rgb_text_position: float = 0.0
    rgb_photo_variant: int = 0
    rgb_photo_mix: float = 0.0
    underline: bool = False
    strike: bool = False
    shadow_offset: tuple[int, int] = (0, 0)
    outline: bool = False
    min_contrast: int = 70  # grey levels between a colour line's text and most of its background
    render_scale: float = (
        1.0  # < 1: rendered small then upscaled (low dpi); > 1: rendered large, resized down
    )


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
    if u() < aug.tight_crop_prob:  # text fills the height: margins 0 or slightly negative (ascenders touch)
        margin_top, margin_bottom = u(-0.08, 0.0), u(-0.08, 0.0)
    else:
        margin_top, margin_bottom = (
            u(margin_low, aug.vertical_margin_max),
            u(margin_low, aug.vertical_margin_max),
        )
    colour = _sample_colour(u, aug)
    render_scale = 1.0
    if u() < aug.lowres_prob:
        render_scale = u(aug.lowres_scale_min, 0.75)
    elif u() < aug.highres_prob:
        render_scale = u(1.3, 2.5)
    shadow = (0, 0)
    if u() < aug.shadow_prob:
        shadow = (u.integer(1, 2) * (1 if u() < 0.7 else -1), u.integer(1, 2))
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
        margin_top=margin_top,
        margin_bottom=margin_bottom,
        contrast=u(aug.contrast_min, aug.contrast_max) if u() < aug.contrast_prob else 1.0,
        brightness=u(-1, 1) * aug.brightness_max_shift if u() < aug.brightness_prob else 0.0,
        blur_sigma=u(0.1, 1.0) * aug.blur_sigma_max if u() < aug.blur_prob else 0.0,
        noise_sigma=u(0.2, 1.0) * aug.noise_sigma_max if u() < aug.noise_prob else 0.0,
        noise_offset=(u(), u()),
        jpeg_quality=u.integer(aug.jpeg_quality_min, aug.jpeg_quality_max) if u() < aug.jpeg_prob else None,
        blank_width=u(2.0, 12.0),
        **colour,
        underline=u() < aug.underline_prob,
        strike=u() < aug.strike_prob,
        shadow_offset=shadow,
        outline=u() < aug.outline_prob,
        min_contrast=aug.min_contrast,
        render_scale=render_scale,
    )


def _random_rgb(u: _Uniforms, low: float = 0.0, high: float = 255.0) -> tuple[int, int, int]:
    return (int(u(low, high)), int(u(low, high)), int(u(low, high)))


def _sample_colour(u: _Uniforms, aug: AugmentationConfig) -> dict:
    """The colour-line choices (an empty dict keeps the line grey)."""
    if not u() < aug.rgb_prob:
        return {}
    weights = (aug.rgb_plain_weight, aug.rgb_gradient_weight, aug.rgb_photo_weight)
    roll, kind = u(0, sum(weights)), RGB_KINDS[-1]
    for name, weight in zip(RGB_KINDS, weights, strict=True):
        if roll < weight:
            kind = name
            break
        roll -= weight
    background = _random_rgb(u)
    # a second colour near the first in luma (a gradient the text must contrast with end to end)
    second = tuple(int(min(255, max(0, c + u(-90, 90)))) for c in background)
    return {
        "rgb_kind": kind,
        "rgb_background": background,
        "rgb_background2": second,
        "rgb_text_hue": (u(), u(), u()),
        "rgb_text_position": u(),
        "rgb_photo_variant": u.integer(0, NUM_PHOTO_VARIANTS - 1),
        "rgb_photo_mix": u(0.25, 0.75),
    }
