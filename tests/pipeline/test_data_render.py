"""Rendering: image shape and contrast, measured rotation, augmentation bounds, the glyph cache."""

from __future__ import annotations

import math
import random
from dataclasses import replace

import numpy as np
import pytest

from fonts import FONT_DIR, bundled_fonts
from pipeline.config import resolve_config
from pipeline.config.data_sections import AugmentationConfig
from pipeline.core.charset import Charset
from pipeline.data import layout
from pipeline.data.bundle import build_data
from pipeline.data.layout import quad_homography
from pipeline.data.render import draw_line, plan_line, render_text_line, sample_render_params

SANS = FONT_DIR / "DejaVuSans.ttf"


def _ink_angle(pixels: np.ndarray, text_grey: int, background_grey: int) -> float:
    """Angle (degrees, counter-clockwise positive) of the principal axis of the dark pixels."""
    ys, xs = np.nonzero(pixels < (text_grey + background_grey) / 2)
    coords = np.stack([xs - xs.mean(), ys - ys.mean()])
    eigenvalues, eigenvectors = np.linalg.eigh(np.cov(coords))
    vx, vy = eigenvectors[:, np.argmax(eigenvalues)]
    if vx < 0:
        vx, vy = -vx, -vy
    return math.degrees(math.atan2(-vy, vx))  # image y points down


def test_fonts_package_bundles_varied_fonts_with_licences():
    names = {p.name for p in bundled_fonts()}
    assert len(names) >= 8
    assert {"DejaVuSans.ttf", "DejaVuSerif.ttf", "DejaVuSansMono.ttf", "LiberationSans-Bold.ttf"} <= names
    assert any("Italic" in n for n in names) and any("Condensed" in n for n in names)
    assert (FONT_DIR / "LICENSE-DejaVu.txt").is_file() and (FONT_DIR / "LICENSE-Liberation.txt").is_file()
    assert sum(p.stat().st_size for p in bundled_fonts()) < 14_000_000


def test_width_follows_text_and_height_is_fixed():
    aug = AugmentationConfig.none()
    short = render_text_line("ab", SANS, random.Random(0), 32, aug)
    long = render_text_line("ab" * 20, SANS, random.Random(0), 32, aug)
    assert short.mode == "L" and long.mode == "L"
    assert short.height == long.height == 32
    assert long.width > 10 * short.width / 2


def test_clean_line_has_dark_ink_on_light_background():
    params = sample_render_params(random.Random(3), AugmentationConfig.none())
    pixels = np.asarray(draw_line(plan_line("Hello", SANS, params, 48), params))
    assert params.text_grey + 70 <= params.background_grey
    assert pixels.min() <= params.text_grey + 10
    assert np.median(pixels) == pytest.approx(params.background_grey, abs=2)


def test_rotation_measured_on_pixels_stays_within_configured_max():
    aug = replace(AugmentationConfig.none(), rotation_prob=1.0, rotation_max_degrees=4.0)
    measured_any_large = False
    for seed in range(16):
        params = sample_render_params(random.Random(seed), aug)
        assert 0 < abs(params.rotation_degrees) <= 4.0
        plan = plan_line("__________", SANS, params, 48)
        pixels = np.asarray(draw_line(plan, params))
        angle = _ink_angle(pixels, params.text_grey, params.background_grey)
        assert abs(angle - plan.rotation_degrees) < 0.6, (seed, angle, plan.rotation_degrees)
        assert abs(angle) <= 4.5
        measured_any_large |= abs(angle) > 2.0
    assert measured_any_large


def test_perspective_coefficients_map_output_quad_back_to_layer_corners():
    quad = [(3.0, 2.0), (210.0, -4.0), (205.0, 40.0), (-1.0, 35.0)]
    a, b, c, d, e, f, g, h = quad_homography(200.0, 36.0, quad)
    corners = [(0.0, 0.0), (200.0, 0.0), (200.0, 36.0), (0.0, 36.0)]
    for (x, y), (u, v) in zip(quad, corners, strict=True):
        w = g * x + h * y + 1
        assert (a * x + b * y + c) / w == pytest.approx(u, abs=1e-6)
        assert (d * x + e * y + f) / w == pytest.approx(v, abs=1e-6)


def test_no_rotation_gives_level_lines():
    params = sample_render_params(random.Random(0), AugmentationConfig.none())
    pixels = np.asarray(draw_line(plan_line("__________", SANS, params, 48), params))
    assert abs(_ink_angle(pixels, params.text_grey, params.background_grey)) < 0.3


def test_character_spacing_in_range_and_visible_in_width():
    aug = replace(
        AugmentationConfig.none(), char_spacing_prob=1.0, char_spacing_min=0.8, char_spacing_max=1.3
    )
    factors = [sample_render_params(random.Random(s), aug).char_spacing for s in range(200)]
    assert min(factors) >= 0.8 and max(factors) <= 1.3 and max(factors) - min(factors) > 0.3
    base = replace(
        sample_render_params(random.Random(0), AugmentationConfig.none()), pad_left=0.0, pad_right=0.0
    )
    tight = plan_line("spacing test", SANS, replace(base, char_spacing=0.8), 32).output_size[0]
    loose = plan_line("spacing test", SANS, replace(base, char_spacing=1.3), 32).output_size[0]
    assert loose > tight * 1.3


def test_photometric_parameters_within_bounds():
    aug = replace(
        AugmentationConfig.heavy(),
        jpeg_quality_min=40,
        jpeg_quality_max=60,
        blur_sigma_max=0.8,
        noise_sigma_max=10.0,
    )
    for seed in range(200):
        p = sample_render_params(random.Random(seed), aug)
        assert p.jpeg_quality is not None and 40 <= p.jpeg_quality <= 60
        assert 0 < p.blur_sigma <= 0.8 and 0 < p.noise_sigma <= 10.0
        assert aug.contrast_min <= p.contrast <= aug.contrast_max
        assert abs(p.brightness) <= aug.brightness_max_shift
        assert all(abs(s) <= aug.perspective_max_shift for s in p.perspective_shifts)
        assert p.background_grey - p.text_grey >= aug.min_contrast


def test_all_augmentations_render_valid_images():
    aug = AugmentationConfig.heavy()
    for seed, font in enumerate(bundled_fonts()):
        image = render_text_line("Invoice #42: $1,299.00", font, random.Random(seed), 32, aug)
        pixels = np.asarray(image)
        assert image.height == 32 and image.width >= 32 and pixels.std() > 5


def test_blank_line_is_plain_background():
    image = render_text_line("", SANS, random.Random(5), 32, AugmentationConfig())
    pixels = np.asarray(image)
    assert image.height == 32 and 64 <= image.width <= 12 * 32
    assert pixels.std() < 30


def test_numpy_generator_is_accepted_and_deterministic():
    first = render_text_line("same", SANS, np.random.default_rng(9), 32, AugmentationConfig())
    second = render_text_line("same", SANS, np.random.default_rng(9), 32, AugmentationConfig())
    assert np.array_equal(np.asarray(first), np.asarray(second))


def test_the_glyph_cache_holds_every_font_size_a_run_meets(monkeypatch):
    """quickstart's fonts and sizes make ~2,000 glyph tables; a cache of 512 re-drew ~8 glyphs a line."""
    config = resolve_config("quickstart", overrides={"num_workers": "0", "num_train": "1500"})
    lines = build_data(config, Charset.from_spec("ascii"), width_multiple=4).train_dataset(0)
    for index in range(len(lines)):
        lines[index]
    drawn = []
    real = layout._rasterise
    monkeypatch.setattr(layout, "_rasterise", lambda *args: drawn.append(args) or real(*args))
    for index in range(len(lines)):
        lines[index]
    assert drawn == []  # the second pass over the same lines finds every glyph cached
