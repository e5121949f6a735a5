"""Rendering realism: colour lines, tight crops, spacing, rules, shadows, outlines, resolution changes."""

from __future__ import annotations

import random
from dataclasses import fields, replace

import numpy as np
from PIL import Image

from fonts import FONT_DIR
from pipeline.config.data_sections import AugmentationConfig, SyntheticDataConfig
from pipeline.core.charset import Charset
from pipeline.data.colour import contrasting_text_colour, rgb_background
from pipeline.data.layout import plan_line
from pipeline.data.params import sample_render_params
from pipeline.data.preview import describe_augmentations
from pipeline.data.render import draw_image, with_final_height
from pipeline.data.synthetic import SyntheticLineDataset

ASCII = Charset.from_spec("ascii")
SANS = FONT_DIR / "DejaVuSans.ttf"
NEW_AUGMENTATIONS = ("rgb", "tight_crop", "underline", "strike", "shadow", "outline", "lowres", "highres")


def _clean(**changes):
    return replace(AugmentationConfig.none(), **changes)


def _params(aug: AugmentationConfig, seed: int = 0, **changes):
    params = sample_render_params(random.Random(seed), aug)
    return replace(params, **changes) if changes else params


def _draw(text: str, params, height: int = 32) -> np.ndarray:
    plan = plan_line(text, SANS, params, max(8, round(height * params.render_scale)))
    return np.asarray(draw_image(with_final_height(plan, height), params), dtype=np.float32)


def test_every_new_augmentation_has_a_field_and_shows_in_the_preview_summary():
    names = {f.name for f in fields(AugmentationConfig)}
    summary = " ".join(describe_augmentations(AugmentationConfig()))
    for name in NEW_AUGMENTATIONS:
        assert f"{name}_prob" in names
        assert f"{name} " in summary


def test_colour_lines_are_composed_in_rgb_and_keep_their_contrast():
    for seed in range(20):
        background = rgb_background("photo", (90, 140, 30), (0, 0, 0), seed % 4, 0.3, (0.3, 0.6), 0, 32, 200)
        assert background.mode == "RGB"
        colour, calmed = contrasting_text_colour(
            background, (0.9, 0.1, 0.4), random.Random(seed).random(), 70
        )
        grey = np.asarray(calmed.convert("L"), dtype=np.float32)
        text_grey = 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]
        assert abs(text_grey - grey.mean()) >= 70
    aug = _clean(rgb_prob=1.0, rgb_plain_weight=0.0, rgb_gradient_weight=0.0, rgb_photo_weight=1.0)
    params = _params(aug)
    assert params.rgb_kind == "photo"
    image = _draw("Colour 10:45", params)
    assert image.shape[0] == 32 and image.std() > 20


def test_tight_crops_fill_the_height():
    filled = []
    for seed in range(12):
        params = _params(_clean(tight_crop_prob=1.0), seed)
        assert params.margin_top <= 0.0 and params.margin_bottom <= 0.0
        image = _draw("Hljgpy", params)
        filled.append((image.min(axis=1) < image.max() - 60).mean())
    loose = _draw("Hljgpy", replace(params, margin_top=0.25, margin_bottom=0.25))
    assert np.mean(filled) >= 0.88 > 0.75 > (loose.min(axis=1) < loose.max() - 60).mean()


def test_tight_spacing_overlaps_glyphs_and_doubled_letters_appear_in_labels():
    params = _params(AugmentationConfig.none())
    normal = plan_line("committee", SANS, replace(params, char_spacing=1.0), 32)
    kerned = plan_line("committee", SANS, replace(params, char_spacing=0.7), 32)
    assert kerned.output_size[0] < normal.output_size[0]
    config = SyntheticDataConfig(doubled_letter_ratio=1.0, text_source_weights={"words": 1.0})
    dataset = SyntheticLineDataset(config, AugmentationConfig.none(), ASCII, 40, seed=2)
    labels = [dataset.label(i) for i in range(40) if dataset.label(i)]
    assert all(any(a == b != " " for a, b in zip(label, label[1:], strict=False)) for label in labels)


def test_underline_strike_shadow_and_outline_change_the_pixels_as_expected():
    base = _params(AugmentationConfig.none(), margin_top=0.2, margin_bottom=0.2, pad_left=0.3, pad_right=0.3)
    plain = _draw("mamma", base)
    underlined = _draw("mamma", replace(base, underline=True))
    dark = underlined < 128
    assert dark.all(axis=1).sum() == 0 and (dark[:, 12:-12].all(axis=1)).any()  # a rule across the text
    assert not (plain[:, 12:-12] < 128).all(axis=1).any()
    struck = _draw("mamma", replace(base, strike=True))
    assert (struck[:, 12:-12] < 128).all(axis=1).any()
    shadowed = _draw("mamma", replace(base, shadow_offset=(2, 2)))
    changed = np.abs(shadowed - plain) > 20
    assert (
        changed.sum() > 30 and (shadowed[changed] < plain.max() - 20).all()
    )  # a darker copy beside the text
    hollow = _draw("mamma", replace(base, outline=True))
    assert hollow.mean() != plain.mean() and (hollow < 128).sum() > 0


def test_lowres_and_highres_lines_are_drawn_at_another_height_then_resized_to_the_model_height():
    config, aug = SyntheticDataConfig(), _clean(lowres_prob=1.0)
    dataset = SyntheticLineDataset(config, aug, ASCII, 10, seed=4)
    for i in range(10):
        params = dataset.sample_params(i)
        assert 0.4 <= params.render_scale <= 0.75
        tensor, _ = dataset[i]
        assert tensor.shape[1] == config.image_height and tensor.shape[2] == dataset.width_hint(i)
    params = _params(_clean(highres_prob=1.0))
    assert 1.3 <= params.render_scale <= 2.5
    plan = with_final_height(plan_line("resize", SANS, params, 64), 32)
    image = draw_image(plan, params)
    assert image.size == plan.final_size and image.size[1] == 32 and isinstance(image, Image.Image)


def test_default_augmentations_stay_deterministic_with_every_new_choice():
    dataset = SyntheticLineDataset(SyntheticDataConfig(), AugmentationConfig.heavy(), ASCII, 8, seed=9)
    again = SyntheticLineDataset(SyntheticDataConfig(), AugmentationConfig.heavy(), ASCII, 8, seed=9)
    for i in range(8):
        a, b = dataset[i], again[i]
        assert a[1] == b[1] and bool((a[0] == b[0]).all())
        assert a[0].shape[2] == dataset.width_hint(i)


def test_photo_backgrounds_of_lines_wider_than_the_photo_stay_rgb():
    """A stretched line (width_scale 2) can be wider than a photo texture; the photo is tiled across, not
    along its colour channels (which made a 9-channel array that PIL refused)."""
    for width in (2047, 2049, 5000):
        background = rgb_background("photo", (200, 30, 30), (0, 0, 0), 1, 0.3, (0.5, 0.5), 0, 40, width)
        assert background.mode == "RGB" and background.size == (width, 40)
        assert len(set(np.asarray(background)[20, ::97, 0].tolist())) > 1  # a scene, not a flat fill
