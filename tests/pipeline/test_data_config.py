"""Data and augmentation configs validate themselves with one-line messages."""

from __future__ import annotations

from dataclasses import fields

import pytest

from pipeline.config.data_sections import AugmentationConfig, SyntheticDataConfig


def test_defaults_and_presets_are_valid():
    SyntheticDataConfig()
    for aug in (
        AugmentationConfig(),
        AugmentationConfig.none(),
        AugmentationConfig.light(),
        AugmentationConfig.heavy(),
    ):
        assert 0 <= aug.rotation_prob <= 1
    assert all(
        getattr(AugmentationConfig.none(), f.name) == 0
        for f in fields(AugmentationConfig)
        if f.name.endswith("_prob")
    )
    assert all(
        getattr(AugmentationConfig.heavy(), f.name) == 1
        for f in fields(AugmentationConfig)
        if f.name.endswith("_prob")
    )


def test_field_names_are_unique_across_both_configs():
    data_names = {f.name for f in fields(SyntheticDataConfig)}
    aug_names = {f.name for f in fields(AugmentationConfig)}
    assert not data_names & aug_names


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rotation_max_degrees": 9.0}, r"rotation_max_degrees=9.0 is out of range; allowed 0.0..5.0"),
        ({"char_spacing_min": 0.5}, r"char_spacing_min=0.5 is out of range; allowed 0.6..1.5"),
        (
            {"char_spacing_min": 1.2, "char_spacing_max": 1.0},
            r"char_spacing_min=1.2 is above char_spacing_max=1.0",
        ),
        ({"blur_sigma_max": 2.0}, r"blur_sigma_max=2.0 is out of range; allowed 0.0..1.5"),
        ({"jpeg_quality_min": 10}, r"jpeg_quality_min=10 is out of range; allowed 30..95"),
        ({"jpeg_quality_max": 90.5}, r"jpeg_quality_max=90.5 is not an integer"),
        ({"noise_prob": 1.5}, r"noise_prob=1.5 is out of range; allowed 0.0..1.0"),
        (
            {
                "background_plain_weight": 0,
                "background_paper_weight": 0,
                "background_gradient_weight": 0,
                "background_texture_weight": 0,
            },
            "all 0",
        ),
    ],
)
def test_augmentation_config_errors(kwargs, message):
    with pytest.raises(ValueError, match=message) as info:
        AugmentationConfig(**kwargs)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"text_source_weights": {"words": 1, "poems": 2}}, r"unknown keys \['poems'\]"),
        ({"text_source_weights": {"words": -1}}, r"text_source_weights\['words'\]=-1"),
        ({"text_source_weights": {"words": 0, "numbers": 0}}, "no positive weight"),
        ({"min_length": 50, "max_length": 40}, r"min_length=50 is above max_length=40"),
        ({"blank_ratio": 0.9}, r"blank_ratio=0.9 is out of range"),
        ({"fonts": []}, "selects no font"),
        ({"font_dirs": ["/no/such/folder"]}, "is not a folder"),
        ({"image_height": 4}, r"image_height=4 is out of range; allowed 8..256"),
        ({"max_image_width": 50}, r"max_image_width=50 is out of range; allowed 128..16384"),
    ],
)
def test_synthetic_config_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SyntheticDataConfig(**kwargs)


def test_long_lines_are_allowed():
    assert SyntheticDataConfig(max_length=120, min_length=0).max_length == 120


def test_a_config_saved_before_the_new_data_fields_keeps_its_data():
    from pipeline.config import config_from_dict, resolve_config

    saved = resolve_config("smoke").to_dict()
    for key in ("width_scale", "held_out_families", "doubled_letter_ratio"):
        del saved["synthetic"][key]
    for key in ("rgb_prob", "tight_crop_prob", "lowres_prob", "highres_prob"):
        del saved["augment"][key]
    old = config_from_dict(saved)
    assert old.synthetic.width_scale == 1.0 and old.synthetic.held_out_families == []
    assert old.synthetic.doubled_letter_ratio == 0.0 and old.augment.rgb_prob == 0.0
    assert old.augment.lowres_prob == 0.0 and old.augment.highres_prob == 0.0
    fresh = config_from_dict(resolve_config("ocr_balanced").to_dict())
    assert fresh.synthetic.width_scale == 2.0 and fresh.augment.rgb_prob > 0
