"""Configs for synthetic text lines and their augmentations.

Field names are unique across both classes because the experiment config flattens them into CLI flags.
Every config validates itself; a bad value raises one line naming the field, the value and what is allowed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

TEXT_SOURCES = ("words", "phrases", "numbers", "dates", "prices", "codes", "emails", "addresses", "random")

DEFAULT_TEXT_SOURCE_WEIGHTS: dict[str, float] = {
    "words": 3.0,
    "phrases": 3.0,
    "numbers": 1.5,
    "dates": 1.0,
    "prices": 1.0,
    "codes": 1.0,
    "emails": 0.5,
    "addresses": 0.75,
    "random": 1.0,
}

# Whole families held out of the train split by default, one of each kind (serif, sans with thin and italic
# styles, monospace, condensed, rounded, handwriting-like, display script, thin sans), so a validation set on
# them measures faces the model never saw, not styles of families it trained on.
DEFAULT_HELD_OUT_FAMILIES = (
    "Vollkorn",
    "Karla",
    "Fantasque Sans Mono",
    "Yanone Kaffeesatz",
    "Quicksand",
    "Comic Neue",
    "Lobster Two",
    "Cantarell",
)
FONT_SELECTIONS = ("all", "system")

# Values that reproduce the data of configs saved before these fields existed (stored experiments are
# re-evaluated with the data they were trained on): no stretch, no held-out families, none of the newer
# augmentations. `config_from_dict` fills a missing field from here, not from the current default.
SAVED_BEFORE_FIELD: dict[str, dict[str, Any]] = {
    "synthetic": {"width_scale": 1.0, "held_out_families": [], "doubled_letter_ratio": 0.0},
    "augment": {
        "rgb_prob": 0.0,
        "tight_crop_prob": 0.0,
        "underline_prob": 0.0,
        "strike_prob": 0.0,
        "shadow_prob": 0.0,
        "outline_prob": 0.0,
        "lowres_prob": 0.0,
        "highres_prob": 0.0,
    },
}


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name}={value!r} is not a number; allowed {low}..{high}")
    if not low <= value <= high:
        raise ValueError(f"{name}={value!r} is out of range; allowed {low}..{high}")


def _check_int(name: str, value: int, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name}={value!r} is not an integer; allowed {low}..{high}")
    _check_range(name, value, low, high)


def _check_min_max(min_name: str, min_value: float, max_name: str, max_value: float) -> None:
    if min_value > max_value:
        raise ValueError(
            f"{min_name}={min_value!r} is above {max_name}={max_value!r}; allowed {min_name} <= {max_name}"
        )


def _check_weights(name: str, weights: dict[str, float], allowed: tuple[str, ...]) -> None:
    if not isinstance(weights, dict):
        raise ValueError(f"{name}={weights!r} is not a dict; allowed keys {', '.join(allowed)}")
    unknown = sorted(set(weights) - set(allowed))
    if unknown:
        raise ValueError(f"{name} has unknown keys {unknown}; allowed keys {', '.join(allowed)}")
    for key, value in weights.items():
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value < 0
        ):
            raise ValueError(f"{name}[{key!r}]={value!r} is not allowed; weights are finite numbers >= 0")
    if sum(weights.values()) <= 0:
        raise ValueError(
            f"{name}={weights!r} has no positive weight; allowed: weights >= 0 with a positive sum"
        )


def _check_name_list(name: str, value: Any) -> None:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"{name}={value!r} is not allowed; expected a list of non-empty strings")


@dataclass
class SyntheticDataConfig:
    """What synthetic text lines say and how they are drawn (fonts, size, length).

    Attributes:
        text_source_weights: Relative weight of each text source (words, phrases, numbers, dates, prices,
            codes, emails, addresses, random); missing keys mean 0.
        min_length: Shortest text in characters, blank lines aside (0..).
        max_length: Longest text in characters; longer samples are cut at a word boundary (1..).
        long_text_ratio: Share of lines built long, between half of and `max_length` (0..1).
        blank_ratio: Share of lines that are empty background with the label "" (0..1).
        fonts: Font file names to use (bundled or from `font_dirs`), "all" (bundled and `font_dirs`), or
            "system" (all of those plus the machine's fonts found by fontconfig, e.g. on a GPU box).
        held_out_families: Font families kept out of the train split, every style of them (validation on
            unseen faces); `ocrq data preview` lists them.
        held_out_fonts: Single font file names kept out of the train split as well.
        font_dirs: Extra folders whose .ttf/.otf files are added to the font pool.
        image_height: Height of every line image in pixels.
        width_scale: Horizontal stretch of every line after it is scaled to `image_height` (synthetic and
            real lines alike, and at inference): at stride 4 and height 32, 2.0 gives a doubled narrow pair
            (`ll`, `ii`, `11`) of the bundled fonts >= 3 output frames, which CTC needs (a blank between).
        max_image_width: Widest line image in pixels; synthetic text is shortened to fit.
        doubled_letter_ratio: Share of lines with one letter, digit or separator doubled, narrow ones
            (l, i, 1, :, .) most often, so CTC learns to keep a blank between identical letters (0..1).
    """

    text_source_weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_TEXT_SOURCE_WEIGHTS))
    min_length: int = 0
    max_length: int = 40
    long_text_ratio: float = 0.05
    blank_ratio: float = 0.05
    fonts: list[str] | str = "all"
    held_out_families: list[str] = field(default_factory=lambda: list(DEFAULT_HELD_OUT_FAMILIES))
    held_out_fonts: list[str] = field(default_factory=list)
    font_dirs: list[str] = field(default_factory=list)
    image_height: int = 32
    width_scale: float = 2.0
    max_image_width: int = 1024
    doubled_letter_ratio: float = 0.15

    def __post_init__(self) -> None:
        _check_weights("text_source_weights", self.text_source_weights, TEXT_SOURCES)
        _check_int("min_length", self.min_length, 0, 1000)
        _check_int("max_length", self.max_length, 1, 1000)
        _check_min_max("min_length", self.min_length, "max_length", self.max_length)
        _check_range("long_text_ratio", self.long_text_ratio, 0.0, 1.0)
        _check_range("blank_ratio", self.blank_ratio, 0.0, 0.5)
        _check_range("doubled_letter_ratio", self.doubled_letter_ratio, 0.0, 1.0)
        if isinstance(self.fonts, str) and self.fonts not in FONT_SELECTIONS:
            self.fonts = [self.fonts]  # one font file name (`--fonts DejaVuSans.ttf`) is a list of one
        if self.fonts not in FONT_SELECTIONS:
            _check_name_list("fonts", self.fonts)
            if not self.fonts:
                raise ValueError(
                    "fonts=[] selects no font; allowed: a non-empty list of font file names, 'all' or 'system'"
                )
        if isinstance(self.held_out_families, str):
            self.held_out_families = [self.held_out_families]
        _check_name_list("held_out_families", self.held_out_families)
        _check_name_list("held_out_fonts", self.held_out_fonts)
        _check_name_list("font_dirs", self.font_dirs)
        for folder in self.font_dirs:
            if not Path(folder).expanduser().is_dir():
                raise ValueError(f"font_dirs entry {folder!r} is not a folder")
        _check_int("image_height", self.image_height, 8, 256)
        _check_range("width_scale", self.width_scale, 1.0, 4.0)
        _check_int("max_image_width", self.max_image_width, 4 * self.image_height, 16384)


@dataclass
class AugmentationConfig:
    """How much each rendered line is disturbed. Each augmentation has a probability and a strength.

    Lengths given as fractions are relative to the text box height (or the image height for padding),
    so the same config works at any `image_height`. Grey levels are 0 (black) .. 255 (white).

    Attributes:
        rotation_prob: Chance a line is rotated (0..1).
        rotation_max_degrees: Largest rotation either way, degrees (0..5).
        perspective_prob: Chance of a perspective warp (0..1).
        perspective_max_shift: Largest corner shift of the warp, fraction of the height (0..0.3).
        char_spacing_prob: Chance the character spacing is changed (0..1).
        char_spacing_min: Tightest spacing factor; below about 0.9 glyphs touch or overlap, as with negative
            kerning (0.6..1.5).
        char_spacing_max: Loosest spacing factor (0.6..1.5).
        baseline_jitter_prob: Chance characters move off a straight baseline (0..1).
        baseline_jitter_max: Largest vertical jitter, fraction of the height (0..0.2).
        blur_prob: Chance of a Gaussian blur (0..1).
        blur_sigma_max: Largest blur sigma in pixels (0..1.5).
        jpeg_prob: Chance of JPEG compression artefacts (0..1).
        jpeg_quality_min: Lowest JPEG quality (30..95).
        jpeg_quality_max: Highest JPEG quality (30..95).
        noise_prob: Chance of Gaussian pixel noise (0..1).
        noise_sigma_max: Largest noise sigma in grey levels (0..50).
        background_plain_weight: Relative weight of plain backgrounds (>= 0).
        background_paper_weight: Relative weight of paper-like noise backgrounds (>= 0).
        background_gradient_weight: Relative weight of gradient backgrounds (>= 0).
        background_texture_weight: Relative weight of procedural texture backgrounds (>= 0).
        color_prob: Chance text and background get other grey levels than black on white (0..1).
        min_contrast: Smallest grey-level difference between text and background (20..200).
        contrast_prob: Chance the contrast is scaled (0..1).
        contrast_min: Lowest contrast factor (0.3..1).
        contrast_max: Highest contrast factor (1..2).
        brightness_prob: Chance the brightness is shifted (0..1).
        brightness_max_shift: Largest brightness shift in grey levels (0..80).
        horizontal_padding_max: Largest blank margin left and right, fraction of the height (0..4).
        vertical_margin_max: Largest margin above and below the text, fraction of the height (0..0.5).
        text_scale_jitter: Largest relative change of the text size (0..0.3).
        rgb_prob: Chance a line is drawn in colour (RGB text on a colour, gradient or photo-like background),
            then converted to grey as a colour image is at inference (0..1).
        rgb_plain_weight: Relative weight of plain colour backgrounds in colour lines (>= 0).
        rgb_gradient_weight: Relative weight of two-colour gradients in colour lines (>= 0).
        rgb_photo_weight: Relative weight of photo-like backgrounds (soft colour blobs and edges) (>= 0).
        tight_crop_prob: Chance the crop is tight: ascenders to descenders fill about 90% of the height or more,
            clipping the font's line box (0..1).
        underline_prob: Chance the line is underlined (0..1).
        strike_prob: Chance the line is struck through (0..1).
        shadow_prob: Chance the text casts a drop shadow (0..1).
        outline_prob: Chance the text is drawn as outlined (hollow) letters (0..1).
        lowres_prob: Chance the line is rendered small (`lowres_scale_min`..0.75 of the height) and upscaled,
            as small text scanned at low dpi (0..1).
        lowres_scale_min: Smallest render scale of low-resolution lines (0.25..0.75).
        highres_prob: Chance the line is rendered taller (1.3..2.5x) and resized down to the height with the
            resize inference uses (0..1).
    """

    rotation_prob: float = 0.5
    rotation_max_degrees: float = 3.0
    perspective_prob: float = 0.3
    perspective_max_shift: float = 0.12
    char_spacing_prob: float = 0.5
    char_spacing_min: float = 0.78
    char_spacing_max: float = 1.35
    baseline_jitter_prob: float = 0.3
    baseline_jitter_max: float = 0.06
    blur_prob: float = 0.3
    blur_sigma_max: float = 1.0
    jpeg_prob: float = 0.3
    jpeg_quality_min: int = 30
    jpeg_quality_max: int = 95
    noise_prob: float = 0.4
    noise_sigma_max: float = 12.0
    background_plain_weight: float = 1.0
    background_paper_weight: float = 1.0
    background_gradient_weight: float = 0.5
    background_texture_weight: float = 0.5
    color_prob: float = 0.3
    min_contrast: int = 70
    contrast_prob: float = 0.3
    contrast_min: float = 0.7
    contrast_max: float = 1.3
    brightness_prob: float = 0.3
    brightness_max_shift: float = 30.0
    horizontal_padding_max: float = 1.5
    vertical_margin_max: float = 0.25
    text_scale_jitter: float = 0.1
    rgb_prob: float = 0.35
    rgb_plain_weight: float = 1.0
    rgb_gradient_weight: float = 1.0
    rgb_photo_weight: float = 1.5
    tight_crop_prob: float = 0.25
    underline_prob: float = 0.04
    strike_prob: float = 0.02
    shadow_prob: float = 0.05
    outline_prob: float = 0.03
    lowres_prob: float = 0.1
    lowres_scale_min: float = 0.4
    highres_prob: float = 0.15

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name.endswith("_prob"):
                _check_range(f.name, getattr(self, f.name), 0.0, 1.0)
        _check_range("rotation_max_degrees", self.rotation_max_degrees, 0.0, 5.0)
        _check_range("perspective_max_shift", self.perspective_max_shift, 0.0, 0.3)
        _check_range("char_spacing_min", self.char_spacing_min, 0.6, 1.5)
        _check_range("char_spacing_max", self.char_spacing_max, 0.6, 1.5)
        _check_min_max("char_spacing_min", self.char_spacing_min, "char_spacing_max", self.char_spacing_max)
        _check_range("baseline_jitter_max", self.baseline_jitter_max, 0.0, 0.2)
        _check_range("blur_sigma_max", self.blur_sigma_max, 0.0, 1.5)
        _check_int("jpeg_quality_min", self.jpeg_quality_min, 30, 95)
        _check_int("jpeg_quality_max", self.jpeg_quality_max, 30, 95)
        _check_min_max("jpeg_quality_min", self.jpeg_quality_min, "jpeg_quality_max", self.jpeg_quality_max)
        _check_range("noise_sigma_max", self.noise_sigma_max, 0.0, 50.0)
        background = {
            "background_plain_weight": self.background_plain_weight,
            "background_paper_weight": self.background_paper_weight,
            "background_gradient_weight": self.background_gradient_weight,
            "background_texture_weight": self.background_texture_weight,
        }
        for name, value in background.items():
            _check_range(name, value, 0.0, 1000.0)
        if sum(background.values()) <= 0:
            raise ValueError("background_*_weight are all 0; allowed: weights >= 0 with a positive sum")
        _check_int("min_contrast", self.min_contrast, 20, 200)
        _check_range("contrast_min", self.contrast_min, 0.3, 1.0)
        _check_range("contrast_max", self.contrast_max, 1.0, 2.0)
        _check_range("brightness_max_shift", self.brightness_max_shift, 0.0, 80.0)
        _check_range("horizontal_padding_max", self.horizontal_padding_max, 0.0, 4.0)
        _check_range("vertical_margin_max", self.vertical_margin_max, 0.0, 0.5)
        _check_range("text_scale_jitter", self.text_scale_jitter, 0.0, 0.3)
        rgb = {
            "rgb_plain_weight": self.rgb_plain_weight,
            "rgb_gradient_weight": self.rgb_gradient_weight,
            "rgb_photo_weight": self.rgb_photo_weight,
        }
        for name, value in rgb.items():
            _check_range(name, value, 0.0, 1000.0)
        if self.rgb_prob > 0 and sum(rgb.values()) <= 0:
            raise ValueError(
                "rgb_*_weight are all 0 with rgb_prob > 0; allowed: weights >= 0 with a positive sum"
            )
        _check_range("lowres_scale_min", self.lowres_scale_min, 0.25, 0.75)

    @classmethod
    def none(cls) -> AugmentationConfig:
        """Clean lines: no geometric or photometric disturbance, plain light background, small margins."""
        probs = {f.name: 0.0 for f in fields(cls) if f.name.endswith("_prob")}
        return cls(
            **probs,
            background_plain_weight=1.0,
            background_paper_weight=0.0,
            background_gradient_weight=0.0,
            background_texture_weight=0.0,
            horizontal_padding_max=0.25,
            vertical_margin_max=0.1,
            text_scale_jitter=0.0,
        )

    @classmethod
    def light(cls) -> AugmentationConfig:
        """Mild disturbance for validation and test sets: real-looking but never hard to read."""
        return cls(
            rotation_prob=0.2,
            rotation_max_degrees=1.5,
            perspective_prob=0.1,
            perspective_max_shift=0.05,
            char_spacing_prob=0.2,
            char_spacing_min=0.95,
            char_spacing_max=1.1,
            baseline_jitter_prob=0.1,
            baseline_jitter_max=0.03,
            blur_prob=0.2,
            blur_sigma_max=0.6,
            jpeg_prob=0.2,
            jpeg_quality_min=60,
            jpeg_quality_max=95,
            noise_prob=0.2,
            noise_sigma_max=6.0,
            color_prob=0.1,
            contrast_prob=0.1,
            brightness_prob=0.1,
            brightness_max_shift=15.0,
            horizontal_padding_max=0.75,
            vertical_margin_max=0.2,
            text_scale_jitter=0.05,
            rgb_prob=0.2,
            tight_crop_prob=0.2,
            underline_prob=0.02,
            strike_prob=0.0,
            shadow_prob=0.02,
            outline_prob=0.0,
            lowres_prob=0.05,
            lowres_scale_min=0.5,
            highres_prob=0.1,
        )

    @classmethod
    def heavy(cls) -> AugmentationConfig:
        """Every augmentation on every line at full strength (benchmarks and stress tests)."""
        probs = {f.name: 1.0 for f in fields(cls) if f.name.endswith("_prob")}
        return replace(
            cls(**probs),
            rotation_max_degrees=5.0,
            perspective_max_shift=0.2,
            char_spacing_min=0.65,
            char_spacing_max=1.5,
            baseline_jitter_max=0.1,
            blur_sigma_max=1.5,
            noise_sigma_max=20.0,
        )
