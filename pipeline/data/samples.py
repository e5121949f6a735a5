"""The sample every line dataset returns: `(image, label)`.

`image` is a float32 tensor (1, H, W) in [-1, 1] with ink dark (black = -1, white = +1); `label` is a str
("" for a blank line). Synthetic, labelled and mixed datasets all return this, so loaders and models never
care where a line came from.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

LineSample = tuple[torch.Tensor, str]
# What a dataset's `pixels(index)` returns: uint8 (H, W) greyscale pixels and the label, a quarter of the
# float tensor's bytes (what rendering ahead in other processes sends back).
LinePixels = tuple[np.ndarray, str]


def pixels_to_tensor(pixels: np.ndarray) -> torch.Tensor:
    """uint8 (H, W) greyscale pixels -> float32 (1, H, W) tensor in [-1, 1]."""
    scaled = np.asarray(pixels, dtype=np.float32) * np.float32(1 / 127.5)  # a new, writable array
    scaled -= np.float32(1.0)
    return torch.from_numpy(scaled[None])


def image_to_tensor(image: Image.Image) -> torch.Tensor:
    """A PIL image (any mode) -> float32 (1, H, W) tensor in [-1, 1] of its greyscale version."""
    return pixels_to_tensor(np.asarray(image.convert("L")))


def tensor_to_image(tensor: torch.Tensor) -> Image.Image:
    """Inverse of `pixels_to_tensor`: a (1, H, W) or (H, W) tensor in [-1, 1] -> mode "L" image."""
    array = tensor.detach().to("cpu", torch.float32).squeeze(0).numpy()
    return Image.fromarray(np.clip(np.rint((array + 1.0) * 127.5), 0, 255).astype(np.uint8))
