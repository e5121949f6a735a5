"""Colour lines: RGB backgrounds (plain, two-colour gradients, photo-like fields) and a text colour chosen
for contrast, composed in RGB and converted to grey the way a colour image is converted at inference.

Photo-like fields are built once per process from fixed seeds (soft colour blobs at several scales, hard-edged
shapes, fine grain), like the grey textures in `backgrounds`; a line takes a window of one.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageStat

from pipeline.data.backgrounds import TEXTURE_HEIGHT, TEXTURE_WIDTH, _smooth_noise, gradient_images, window

RGB_KINDS = ("rgb_plain", "rgb_gradient", "photo")
NUM_PHOTO_VARIANTS = 4


def _luma(colour: tuple[float, float, float]) -> float:
    """Grey level of an RGB colour (ITU-R 601, as PIL's convert('L'))."""
    return 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]


@lru_cache(maxsize=1)
def photo_images() -> tuple[Image.Image, ...]:
    """RGB fields that look like photographs behind text: out-of-focus colour blobs, shapes with hard
    edges (signs, windows, objects), fine grain."""
    rng = np.random.default_rng(4004)
    h, w = TEXTURE_HEIGHT, TEXTURE_WIDTH
    images = []
    for _ in range(NUM_PHOTO_VARIANTS):
        channels = []
        for _channel in range(3):
            field = (
                _smooth_noise(rng, h, w, 24)
                + 0.5 * _smooth_noise(rng, h, w, 7)
                + 0.12 * _smooth_noise(rng, h, w, 0.8)
            )
            mean, spread = rng.uniform(70, 190), rng.uniform(25, 55)
            channels.append(np.clip(mean + spread * field, 0, 255).astype(np.uint8))
        image = Image.fromarray(np.stack(channels, axis=-1), "RGB")
        shapes = Image.new("RGB", (w, h))
        mask = Image.new("L", (w, h), 0)
        draw_shapes, draw_mask = ImageDraw.Draw(shapes), ImageDraw.Draw(mask)
        for _shape in range(int(w / 60)):
            x0, y0 = rng.uniform(0, w), rng.uniform(-h / 2, h)
            box = (x0, y0, x0 + rng.uniform(10, 160), y0 + rng.uniform(10, 120))
            colour = tuple(int(c) for c in rng.uniform(0, 255, 3))
            if rng.random() < 0.5:
                draw_shapes.rectangle(box, fill=colour)
                draw_mask.rectangle(box, fill=int(rng.uniform(120, 230)))
            else:
                draw_shapes.ellipse(box, fill=colour)
                draw_mask.ellipse(box, fill=int(rng.uniform(120, 230)))
        image.paste(shapes, (0, 0), mask.filter(ImageFilter.GaussianBlur(0.8)))
        images.append(image)
    return tuple(images)


def rgb_background(
    kind: str,
    colour: tuple[int, int, int],
    colour2: tuple[int, int, int],
    photo_variant: int,
    photo_mix: float,
    offset: tuple[float, float],
    gradient_variant: int,
    height: int,
    width: int,
) -> Image.Image:
    """An RGB width x height background of `kind` (one of `RGB_KINDS`)."""
    flat = Image.new("RGB", (width, height), colour)
    if kind == "rgb_plain":
        return flat
    if kind == "rgb_gradient":
        ramp = gradient_images()[gradient_variant % len(gradient_images())].resize(
            (width, height), Image.Resampling.BILINEAR
        )
        return Image.composite(Image.new("RGB", (width, height), colour2), flat, ramp)
    if kind == "photo":
        photo = window(photo_images()[photo_variant % NUM_PHOTO_VARIANTS], offset, height, width)
        return Image.blend(photo, flat, photo_mix)  # mix toward a flat colour: how busy the scene is
    raise ValueError(f"colour background kind {kind!r} is unknown; allowed {', '.join(RGB_KINDS)}")


def contrasting_text_colour(
    background: Image.Image, hue: tuple[float, float, float], position: float, min_contrast: int
) -> tuple[tuple[int, int, int], Image.Image]:
    """A text colour whose grey level is at least `min_contrast` from most of the background (mean +- 2
    deviations of its grey level), and the background, calmed down if no such colour existed.

    `hue` (0..1 each) is the colour's direction; `position` (0..1) where its grey level sits in the room.
    """
    for _ in range(3):
        stat = ImageStat.Stat(background.convert("L"))
        mean, spread = stat.mean[0], 2.0 * stat.stddev[0]
        dark_room = mean - spread - min_contrast  # text grey levels 0..dark_room are readable
        light_room = 255 - (mean + spread + min_contrast)
        if max(dark_room, light_room) >= 10:
            break
        # too busy for any colour: blend halfway toward its mean colour and look again
        mean_colour = tuple(int(c) for c in ImageStat.Stat(background).mean)
        background = Image.blend(background, Image.new("RGB", background.size, mean_colour), 0.5)
    if dark_room >= light_room:
        target = max(0.0, dark_room) * position**2  # skewed toward the readable end
    else:
        target = 255 - max(0.0, light_room) * position**2
    base = tuple(40 + 215 * h for h in hue)
    luma = _luma(base)
    if target <= luma:  # scale toward black
        factor = target / max(luma, 1e-6)
        colour = tuple(c * factor for c in base)
    else:  # mix toward white
        t = (target - luma) / max(255 - luma, 1e-6)
        colour = tuple(c + (255 - c) * t for c in base)
    return tuple(int(round(min(255, max(0, c)))) for c in colour), background
